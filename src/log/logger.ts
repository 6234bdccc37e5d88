/**
 * Logs go to stderr, so that stdout carries only results (`--json`, exports) and pipes stay clean.
 * Every part labels its lines with `withTag`, e.g. `[refresh:image]`.
 */
import { type ConsolaInstance, createConsola } from "consola";
import { LOG_LEVELS, readLogLevel } from "../config/env.ts";
import { redact } from "../redact.ts";
import { colourAllowed, forStream } from "./colour.ts";

export type Logger = ConsolaInstance;

/** stderr, with colour codes removed when it is not a terminal or NO_COLOR is set (checked per line). */
const stderr = {
  write: (chunk: string) => process.stderr.write(forStream(chunk, process.stderr)),
  get columns() {
    return process.stderr.columns;
  },
  get isTTY() {
    return process.stderr.isTTY;
  },
} as unknown as NodeJS.WriteStream;

/** SLUICE_LOG_LEVEL when it names a level; a bad name is reported by runCli as a configuration error. */
function initialLevel(): number {
  try {
    return readLogLevel() ?? LOG_LEVELS.info;
  } catch {
    return LOG_LEVELS.info;
  }
}

/**
 * How much every logger says. consola copies the level into each `withTag` child when it is made, so
 * a module-level child (`migrate`, `slack`) would keep the level of import time; instead consola lets
 * every entry through and the shared reporter below drops what is above this level.
 */
let threshold = initialLevel();

/** The root logger; SLUICE_LOG_LEVEL (silent, error, warn, info, debug, trace), `--quiet` or `--verbose` set how much it says. */
export const logger: Logger = createConsola({
  level: LOG_LEVELS.trace,
  stdout: stderr,
  stderr,
  formatOptions: { date: !process.stderr.isTTY, colors: colourAllowed(process.stderr) },
});

// `logger.level` is the level of every logger, children included.
Object.defineProperty(logger, "level", {
  get: () => threshold,
  set: (level: number) => {
    threshold = level;
  },
});

// Nothing a reporter prints may carry a password, whatever a driver put in its message.
logger.setReporters(
  logger.options.reporters.map((reporter) => ({
    log(entry, ctx) {
      if (entry.level > threshold) return;
      entry.args = entry.args.map((a) => (typeof a === "string" ? redact(a) : a));
      reporter.log(entry, ctx);
    },
  })),
);

export function stageLogger(stage: string, dataset: string): Logger {
  return logger.withTag(`${stage}:${dataset}`);
}
