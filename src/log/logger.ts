/**
 * Logs go to stderr, so that stdout carries only results (`--json`, exports) and pipes stay clean.
 * Every part labels its lines with `withTag`, e.g. `[refresh:image]`.
 */
import { type ConsolaInstance, createConsola } from "consola";
import { redact } from "../redact.ts";

export type Logger = ConsolaInstance;

const levelByName: Record<string, number> = { silent: -999, error: 0, warn: 1, info: 3, debug: 4, trace: 5 };

/** The root logger; SLUICE_LOG_LEVEL (silent, error, warn, info, debug) sets how much it says. */
export const logger: Logger = createConsola({
  level: levelByName[process.env.SLUICE_LOG_LEVEL ?? "info"] ?? 3,
  stdout: process.stderr,
  stderr: process.stderr,
  formatOptions: { date: !process.stderr.isTTY, colors: process.stderr.isTTY },
});

// Nothing a reporter prints may carry a password, whatever a driver put in its message.
logger.setReporters(
  logger.options.reporters.map((reporter) => ({
    log(entry, ctx) {
      entry.args = entry.args.map((a) => (typeof a === "string" ? redact(a) : a));
      reporter.log(entry, ctx);
    },
  })),
);

export function stageLogger(stage: string, dataset: string): Logger {
  return logger.withTag(`${stage}:${dataset}`);
}
