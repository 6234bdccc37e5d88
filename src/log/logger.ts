/**
 * Logs go to stderr, so that stdout carries only results (`--json`, exports) and pipes stay clean.
 * Every part labels its lines with `withTag`, e.g. `[refresh:image]`.
 */
import { type ConsolaInstance, type ConsolaReporter, createConsola } from "consola";
import { LOG_LEVELS, readLogFormat, readLogLevel } from "../config/env.ts";
import { redact } from "../redact.ts";
import { colourAllowed, forStream } from "./colour.ts";
import { isLogFields, jsonReporter, type LogFormat } from "./json-reporter.ts";

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

/** A line kept at the bottom of the terminal (a progress bar): log lines are printed above it, never over it. */
export interface StatusLine {
  clear(): void;
  redraw(): void;
}
let statusLine: StatusLine | null = null;

export function setStatusLine(line: StatusLine | null): void {
  statusLine = line;
}

/** SLUICE_LOG_FORMAT when it names a format; a bad name is reported by runCli as a configuration error. */
function initialFormat(): LogFormat {
  try {
    return readLogFormat() ?? "plain";
  } catch {
    return "plain";
  }
}
let format: LogFormat = initialFormat();

/** `--log-format` for one command, or SLUICE_LOG_FORMAT. */
export function setLogFormat(next: LogFormat): void {
  format = next;
}

export function logFormat(): LogFormat {
  return format;
}

const plainReporters = logger.options.reporters;
const json = jsonReporter((line) => process.stderr.write(line));

/** consola's plain reporter writing into `stream`, each line led by the entry's RFC 3339 time (for cron mail, journald exports, files). */
const stamped = (stream: NodeJS.WriteStream, time: string) =>
  ({
    write: (chunk: string) => stream.write(chunk.replace(/^(?=.)/gm, `${time} `)),
    get columns() {
      return stream.columns;
    },
  }) as unknown as NodeJS.WriteStream;

// One reporter in front of consola's: drops what is above the level, removes secrets (nothing a reporter
// prints may carry a password, whatever a driver put in its message), and picks the format.
const frontReporter: ConsolaReporter = {
  log(entry, ctx) {
    if (entry.level > threshold) return;
    entry.args = entry.args.map((a) => (typeof a === "string" ? redact(a) : a));
    // Plain objects are fields for machines (`--log-format json`); a plain line says the same in words.
    if (format !== "json") entry.args = entry.args.filter((a) => !isLogFields(a));
    statusLine?.clear();
    if (format === "json") json.log(entry, ctx);
    else if (process.stderr.isTTY) for (const reporter of plainReporters) reporter.log(entry, ctx);
    else {
      const out = stamped(stderr, entry.date.toISOString());
      const options = { ...ctx.options, stdout: out, stderr: out };
      for (const reporter of plainReporters) reporter.log(entry, { ...ctx, options });
    }
    statusLine?.redraw();
  },
};
logger.setReporters([frontReporter]);

export function stageLogger(stage: string, dataset: string): Logger {
  return logger.withTag(`${stage}:${dataset}`);
}
