/**
 * Jobs: one row in sluice.jobs per stage run. A running job writes a heartbeat with its task,
 * percent and counters every few seconds, so `sluice job show` in another shell sees it live.
 * A job is alive while its dataset lock is held; a "running" job whose lock is gone died.
 */
import { hostname } from "node:os";
import type { Sql } from "../adapters/postgres.ts";
import { SluiceError, UsageError } from "../errors.ts";
import { redact } from "../redact.ts";
import { type Counters, emptyCounters } from "./counters.ts";
import { datasetLockHeld } from "./lock.ts";

export const JOB_STATES = ["queued", "running", "succeeded", "failed", "cancelled"] as const;
export type JobState = (typeof JOB_STATES)[number];

/** A running job with no heartbeat for this long is shown as stale. */
export const STALE_AFTER_MS = 30_000;
export const HEARTBEAT_MS = 5_000;

export interface Job {
  id: number;
  dataset: string;
  stage: string;
  generation: number | null;
  parentId: number | null;
  state: JobState;
  task: string | null;
  percent: number | null;
  counters: Counters;
  error: string | null;
  pid: number | null;
  host: string | null;
  createdAt: Date;
  startedAt: Date | null;
  heartbeatAt: Date | null;
  finishedAt: Date | null;
}

/** A job as shown to an operator: with whether its process is still there. */
export interface JobView extends Job {
  /** For running jobs: the lock is held and the heartbeat is recent. */
  alive: boolean | null;
}

function toJob(r: Record<string, any>): Job {
  return {
    id: Number(r.id),
    dataset: r.dataset,
    stage: r.stage,
    generation: r.generation,
    parentId: r.parent_id === null ? null : Number(r.parent_id),
    state: r.state,
    task: r.task,
    percent: r.percent,
    counters: r.counters,
    error: r.error,
    pid: r.pid,
    host: r.host,
    createdAt: r.created_at,
    startedAt: r.started_at,
    heartbeatAt: r.heartbeat_at,
    finishedAt: r.finished_at,
  };
}

export async function createRunningJob(
  sql: Sql,
  fields: { dataset: string; stage: string; generation: number | null; parentId: number | null },
): Promise<Job> {
  const [row] = await sql`
    insert into sluice.jobs (dataset, stage, generation, parent_id, state, counters, pid, host, started_at, heartbeat_at)
    values (${fields.dataset}, ${fields.stage}, ${fields.generation}, ${fields.parentId}, 'running',
            ${sql.json(emptyCounters() as any)}, ${process.pid}, ${hostname()}, now(), now())
    returning *`;
  return toJob(row!);
}

/**
 * Writes progress and the heartbeat. Returns false when the job is no longer running (an
 * administrator ended it with `job set-state`), which the caller treats as a cancellation.
 */
export async function beatJob(
  sql: Sql,
  id: number,
  progress: { task?: string | null; percent?: number | null; counters?: Counters; generation?: number | null },
): Promise<boolean> {
  const rows = await sql`
    update sluice.jobs set heartbeat_at = now(),
      task = coalesce(${progress.task ?? null}, task),
      percent = coalesce(${progress.percent ?? null}::real, percent),
      generation = coalesce(${progress.generation ?? null}::int, generation),
      counters = coalesce(${progress.counters ? sql.json(progress.counters as any) : null}::jsonb, counters)
    where id = ${id} and state = 'running'
    returning id`;
  return rows.length === 1;
}

export async function finishJob(
  sql: Sql,
  id: number,
  outcome: {
    state: "succeeded" | "failed" | "cancelled";
    counters: Counters;
    error?: string | null;
    generation?: number | null;
    /** The last task and percent, for jobs that ended before a heartbeat wrote them. */
    task?: string | null;
    percent?: number | null;
  },
): Promise<void> {
  await sql`
    update sluice.jobs set finished_at = coalesce(finished_at, now()), heartbeat_at = now(),
      -- An administrator's set-state stands: the process only records what it counted.
      state = case when state = 'running' then ${outcome.state} else state end,
      task = case when state = 'running' then coalesce(${outcome.task ?? null}, task) else task end,
      counters = ${sql.json(outcome.counters as any)},
      percent = case when ${outcome.state} = 'succeeded' then 100
                     when state = 'running' then coalesce(${outcome.percent ?? null}::real, percent) else percent end,
      generation = coalesce(${outcome.generation ?? null}::int, generation),
      error = coalesce(error, ${outcome.error ? redact(outcome.error) : null})
    where id = ${id}`;
}

export async function getJob(sql: Sql, id: number): Promise<JobView> {
  const [row] = await sql`select * from sluice.jobs where id = ${id}`;
  if (!row) throw new SluiceError(`job ${id} does not exist`, { hint: "`sluice job list` shows the jobs there are" });
  return withLiveness(sql, toJob(row));
}

export interface JobFilter {
  dataset?: string | undefined;
  state?: JobState | undefined;
  limit?: number | undefined;
}

export async function listJobs(sql: Sql, filter: JobFilter = {}): Promise<JobView[]> {
  const rows = await sql`
    select * from sluice.jobs
    where (${filter.dataset ?? null}::text is null or dataset = ${filter.dataset ?? null})
      and (${filter.state ?? null}::text is null or state = ${filter.state ?? null})
    order by id desc limit ${filter.limit ?? 20}`;
  return Promise.all(rows.map((r) => withLiveness(sql, toJob(r))));
}

async function withLiveness(sql: Sql, job: Job): Promise<JobView> {
  if (job.state !== "running") return { ...job, alive: null };
  const fresh = job.heartbeatAt !== null && Date.now() - job.heartbeatAt.getTime() < STALE_AFTER_MS;
  return { ...job, alive: fresh && (await datasetLockHeld(sql, job.dataset)) };
}

export function parseJobState(value: string): JobState {
  if ((JOB_STATES as readonly string[]).includes(value)) return value as JobState;
  throw new UsageError(`unknown job state "${value}"`, `valid states: ${JOB_STATES.join(", ")}`);
}

/** The administrator's override, as Pacifica's admins know it. */
export async function setJobState(
  sql: Sql,
  id: number,
  change: { state: JobState; task?: string | undefined; percent?: number | undefined; error?: string | undefined },
): Promise<JobView> {
  if (change.percent !== undefined && !(change.percent >= 0 && change.percent <= 100)) {
    throw new UsageError(`--percent must be between 0 and 100, got ${change.percent}`);
  }
  await getJob(sql, id);
  const ended = change.state === "succeeded" || change.state === "failed" || change.state === "cancelled";
  await sql`
    update sluice.jobs set state = ${change.state},
      task = coalesce(${change.task ?? null}, task),
      percent = coalesce(${change.percent ?? null}::real, percent),
      error = coalesce(${change.error ? redact(change.error) : null}, error),
      finished_at = case when ${ended} then coalesce(finished_at, now()) else null end
    where id = ${id}`;
  return getJob(sql, id);
}

/**
 * Marks this dataset's "running" jobs failed. Called only while holding the dataset lock, so any
 * job still marked running has no process behind it.
 */
export async function reapDeadJobs(sql: Sql, dataset: string): Promise<Job[]> {
  const rows = await sql`
    update sluice.jobs set state = 'failed', finished_at = now(),
      error = 'process died (pid ' || coalesce(pid::text, '?') || ' on ' || coalesce(host, '?') ||
              '; last heartbeat ' || coalesce(to_char(heartbeat_at, 'YYYY-MM-DD HH24:MI:SS TZ'), 'never') ||
              '); marked failed by the next run'
    where dataset = ${dataset} and state in ('running', 'queued')
    returning *`;
  return rows.map(toJob);
}
