/**
 * A session is what every dataset command opens first: environment, dataset, database (checked to
 * be at the expected migration), the dataset's lock, and signal handling. Jobs run inside it.
 *
 *   env → dataset → database → schema check → lock → reap dead jobs → jobs… → close
 */
import { openDatabase, type Sql } from "../adapters/postgres.ts";
import { flushNotifications, type Notifier, slackNotifier } from "../adapters/slack.ts";
import { type Env, readEnv, requireEnv } from "../config/env.ts";
import { loadDataset } from "../config/load.ts";
import type { Dataset } from "../config/types.ts";
import { DatasetLockedError, DatasetLockLostError, InterruptedError, SluiceError } from "../errors.ts";
import { type DatasetLock, tryLockDataset } from "../jobs/lock.ts";
import { listJobs, reapDeadJobs } from "../jobs/jobs.ts";
import { type Logger, stageLogger } from "../log/logger.ts";
import { tenthsOfSecond } from "../log/progress.ts";
import { assertSchemaCurrent } from "../migrate/migrator.ts";
import { publishMetrics } from "../metrics/publish.ts";

/**
 * A session on one lock name: a dataset's, or a flow that is not a table dataset (`bundles`, for
 * `sluice ingest`). Jobs are recorded under `dataset.name`.
 */
export interface LockedSession<D extends { name: string } = { name: string }> {
  env: Env;
  dataset: D;
  sql: Sql;
  log: Logger;
  slack: Notifier;
  /** The dataset's lock; null for a scale-out worker, which works under its range's lease instead. */
  lock: DatasetLock | null;
  /** Aborted by SIGINT, SIGTERM, an administrator ending the job, or the lock lost with its connection. */
  signal: AbortSignal;
  abort(reason: SluiceError): void;
  close(): Promise<void>;
}

export type Session = LockedSession<Dataset>;

export interface SessionOptions {
  config?: string | undefined;
}

/** Opens the API database from DATABASE_URL; used by commands that need no dataset. */
export async function openApiDatabase(env: Env = readEnv()): Promise<Sql> {
  // Room for the dataset lock, a COPY, four index builds at once and the heartbeat.
  return openDatabase(requireEnv(env, "databaseUrl", "DATABASE_URL"), { variable: "DATABASE_URL", maxConnections: 7 });
}

/** Runs work against the API database once it is at the expected migration; for dataset-less commands. */
export async function withCurrentApiDatabase<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
  const sql = await openApiDatabase();
  try {
    await assertSchemaCurrent(sql);
    return await work(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export async function openSession(command: string, datasetName: string | undefined, options: SessionOptions = {}): Promise<Session> {
  return openLockedSession(command, await loadDataset(datasetName, options.config));
}

/** Opens the database, checks the schema, takes the lock named `dataset.name` and reaps its dead jobs. */
export async function openLockedSession<D extends { name: string }>(command: string, dataset: D): Promise<LockedSession<D>> {
  const opening = performance.now();
  const env = readEnv();
  const sql = await openApiDatabase(env);
  let lock: DatasetLock;
  try {
    await assertSchemaCurrent(sql);
    const got = await tryLockDataset(sql, dataset.name);
    if (!got) throw new DatasetLockedError(dataset.name, await describeHolder(sql, dataset.name));
    lock = got;
  } catch (error) {
    await sql.end({ timeout: 2 });
    throw error;
  }
  const log = stageLogger(command, dataset.name);
  for (const dead of await reapDeadJobs(sql, dataset.name)) {
    log.warn(`job ${dead.id} (${dead.stage}) had no live process; marked it failed`);
  }
  // Some bench rounds started seconds late, before Elasticsearch was asked anything: this splits
  // the wait between start-up with the configuration (before) and the database (during).
  log.debug(`database opened, schema checked and lock taken in ${tenthsOfSecond(performance.now() - opening)}, begun ${tenthsOfSecond(opening)} after the process started`);
  const signals = abortOnSignals(log, "stopping and cleaning up");
  return {
    env,
    dataset,
    sql,
    log,
    slack: slackNotifier(env.slackWebhook, env.environment),
    lock,
    signal: signals.signal,
    abort: signals.abort,
    async close() {
      signals.release();
      await lock.release();
      // The metrics end with the lock let go (sluice_lock_held 0).
      await publishMetrics(sql);
      await flushNotifications();
      await sql.end({ timeout: 5 });
    },
  };
}

async function describeHolder(sql: Sql, dataset: string): Promise<string> {
  const [job] = await listJobs(sql, { dataset, state: "running", limit: 1 });
  if (!job) return "another sluice process (no job recorded yet)";
  const since = job.startedAt ? ` since ${job.startedAt.toISOString()}` : "";
  return `job ${job.id} (${job.stage}, pid ${job.pid ?? "?"} on ${job.host ?? "?"}${since})`;
}

/**
 * Throws DatasetLockLostError if the session's lock went with its connection: call before anything
 * that another run holding the lock could contradict (publishing, recording success).
 */
export async function assertLockHeld(session: LockedSession): Promise<void> {
  if (session.lock && !(await session.lock.held())) throw new DatasetLockLostError(session.dataset.name);
}

/** Throws the abort reason if the session was interrupted; call between steps. */
export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new InterruptedError("SIGTERM");
}

/** SIGINT and SIGTERM abort the returned signal once (`doing` is what the log says happens next); `release` stops listening. */
export function abortOnSignals(log: { warn(message: string): void }, doing: string): { signal: AbortSignal; abort(reason: unknown): void; release(): void } {
  const controller = new AbortController();
  const onSignal = (signal: "SIGINT" | "SIGTERM") => () => {
    if (controller.signal.aborted) return;
    log.warn(`${signal} received: ${doing}`);
    controller.abort(new InterruptedError(signal));
  };
  const onInt = onSignal("SIGINT");
  const onTerm = onSignal("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  return {
    signal: controller.signal,
    abort: (reason) => controller.abort(reason),
    release() {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
    },
  };
}
