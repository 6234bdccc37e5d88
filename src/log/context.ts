/**
 * What a log line is about, beyond its tag: the job a stage runs as. runAsJob opens a context around
 * the work, so that every line logged inside it (by any module, however deep) carries the job id.
 */
import { AsyncLocalStorage } from "node:async_hooks";

export interface LogContext {
  dataset?: string;
  stage?: string;
  jobId?: number;
}

const storage = new AsyncLocalStorage<LogContext>();

/** Runs `work` with `context` added to the current one. */
export function withLogContext<T>(context: LogContext, work: () => T): T {
  return storage.run({ ...storage.getStore(), ...context }, work);
}

export function currentLogContext(): LogContext {
  return storage.getStore() ?? {};
}
