/**
 * `--log-format json` / SLUICE_LOG_FORMAT=json: a consola reporter writing one JSON object per line,
 * as log shippers (Vector, Fluent Bit, Loki's promtail, journald's JSON readers) take it:
 * `{"time":"2026-11-30T04:25:33.123Z","level":"info","dataset":"image","stage":"refresh","job":12,"message":"…","fields":{…}}`.
 * The record is built here and serialized by JSON.stringify; nothing else.
 */
import { formatWithOptions } from "node:util";
import type { ConsolaReporter, LogObject } from "consola";
import { redact } from "../redact.ts";
import { currentLogContext } from "./context.ts";

export type LogFormat = "plain" | "json";
export const LOG_FORMATS: readonly LogFormat[] = ["plain", "json"];

/** consola's numeric levels by the names operators filter on. */
const LEVEL_NAMES: Record<number, string> = { 0: "error", 1: "warn", 2: "info", 3: "info", 4: "debug", 5: "trace" };

export interface LogRecord {
  time: string;
  level: string;
  dataset: string | null;
  stage: string | null;
  job: number | null;
  message: string;
  fields: Record<string, unknown>;
}

/** A plain object given to a log call: its keys are the line's fields. */
export const isLogFields = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Error) && Object.getPrototypeOf(value) === Object.prototype;

/** One log entry as a record: words and numbers form the message, plain objects its fields, an Error its `error` field. */
export function toLogRecord(entry: Pick<LogObject, "date" | "level" | "type" | "tag" | "args">): LogRecord {
  const context = currentLogContext();
  // Tags are `stage:dataset` (stageLogger) or a module's name (`migrate`, `slack`).
  const [tagStage, tagDataset] = entry.tag ? entry.tag.split(":") : [];
  const fields: Record<string, unknown> = {};
  const words: unknown[] = [];
  for (const arg of entry.args) {
    if (isLogFields(arg)) Object.assign(fields, arg);
    else if (arg instanceof Error) fields.error = arg.message;
    else words.push(arg);
  }
  if (entry.type !== "log" && entry.type !== LEVEL_NAMES[entry.level]) fields.type ??= entry.type;
  return {
    time: entry.date.toISOString(),
    level: LEVEL_NAMES[entry.level] ?? "info",
    dataset: context.dataset ?? tagDataset ?? null,
    stage: context.stage ?? tagStage ?? null,
    job: context.jobId ?? null,
    message: formatWithOptions({ colors: false }, ...words),
    fields,
  };
}

/** A reporter writing each entry as one JSON line to `write` (stderr). */
export function jsonReporter(write: (line: string) => void): ConsolaReporter {
  return {
    log(entry) {
      // Strings were redacted before; this catches a secret inside a field.
      write(`${redact(JSON.stringify(toLogRecord(entry)))}\n`);
    },
  };
}
