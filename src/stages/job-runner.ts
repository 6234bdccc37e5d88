/**
 * Runs one stage as one job: creates the row, keeps its heartbeat and progress fresh, and records
 * the outcome. An administrator ending the job (`job set-state`) aborts the work at the next beat.
 */
import { DatasetLockLostError, SluiceError } from "../errors.ts";
import { type Counters, emptyCounters, summarizeCounters } from "../jobs/counters.ts";
import { beatJob, createRunningJob, finishJob, HEARTBEAT_MS, type Job } from "../jobs/jobs.ts";
import { withLogContext } from "../log/context.ts";
import { publishMetrics } from "../metrics/publish.ts";
import { redact } from "../redact.ts";
import { whileDatabaseReachable } from "../adapters/postgres.ts";
import { unnamedConnectionFailure } from "../adapters/lost-connection.ts";
import { assertLockHeld, type LockedSession } from "./session.ts";

export interface JobHandle {
  job: Job;
  counters: Counters;
  /** Names the current step; shown by `job show` and in the next heartbeat. */
  setTask(task: string, percent?: number): void;
  setPercent(percent: number): void;
  setGeneration(generation: number): void;
}

export interface JobSpec {
  stage: string;
  generation?: number | null;
  parentId?: number | null;
  /**
   * The job changes what production serves (a swap, a rollback, a run that ends in one): its last act
   * publishes, checked against the lock right before it, so success is not checked again after it.
   */
  publishes?: boolean;
}

export class CancelledByAdminError extends SluiceError {
  constructor(id: number) {
    super(`job ${id} was ended by an administrator (sluice job set-state)`, { hint: "production was left untouched" });
  }
}

export async function runAsJob<T>(session: LockedSession, spec: JobSpec, work: (handle: JobHandle) => Promise<T>): Promise<T> {
  const { sql, dataset, log } = session;
  const job = await createRunningJob(sql, {
    dataset: dataset.name,
    stage: spec.stage,
    generation: spec.generation ?? null,
    parentId: spec.parentId ?? null,
  });
  const counters = emptyCounters();
  let task: string | null = null;
  let percent: number | null = null;
  let generation: number | null = spec.generation ?? null;
  const beat = async () => {
    const stillRunning = await beatJob(sql, job.id, { task, percent, counters, generation }).catch(() => true);
    if (!stillRunning && !session.signal.aborted) session.abort(new CancelledByAdminError(job.id));
    // A database that cannot be asked is the work's own failure to meet; only a known loss stops it here.
    const lockHeld = (await session.lock?.held().catch(() => true)) ?? true;
    if (!lockHeld && !session.signal.aborted) session.abort(new DatasetLockLostError(dataset.name));
  };
  const timer = setInterval(beat, HEARTBEAT_MS);
  await publishMetrics(sql);
  const handle: JobHandle = {
    job,
    counters,
    setTask(t, p) {
      task = t;
      if (p !== undefined) percent = p;
      log.info(t);
    },
    setPercent(p) {
      percent = Math.max(0, Math.min(100, p));
    },
    setGeneration(g) {
      generation = g;
    },
  };
  // Every line logged while the job runs (by any module, however deep) carries its dataset, stage and id.
  return withLogContext({ dataset: dataset.name, stage: spec.stage, jobId: job.id }, async () => {
    log.debug(`job ${job.id} started`);
    try {
      await assertLockHeld(session);
      const result = await work(handle);
      if (!spec.publishes) await assertLockHeld(session);
      clearInterval(timer);
      await finishJob(sql, job.id, { state: "succeeded", counters, generation, task, percent });
      await publishMetrics(sql);
      log.success(`job ${job.id} ${spec.stage} succeeded: ${summarizeCounters(counters)}`, { state: "succeeded", generation, counters });
      return result;
    } catch (error) {
      clearInterval(timer);
      // A lost connection no step named is recorded as the command reports it: naming its variable.
      const named = error instanceof SluiceError ? error : unnamedConnectionFailure(error, session.env);
      const message = named ? named.toLine() : (error as Error)?.message ?? String(error);
      const state = error instanceof CancelledByAdminError ? "cancelled" : "failed";
      await recordFailure(() => finishJob(sql, job.id, { state, counters, error: redact(message), generation, task, percent }));
      await publishMetrics(sql);
      throw error;
    }
  });
}

/**
 * Records a failed job even when the failure was the API database going away: a restart takes a
 * moment, so the write is retried by the shared policy while the connection comes back. If the
 * database stays down, the job is left running with its lock gone, and the next run marks it dead.
 */
async function recordFailure(write: () => Promise<unknown>): Promise<void> {
  await whileDatabaseReachable(write).catch(() => {});
}
