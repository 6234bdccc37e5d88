/** `sluice failures`: the rows and documents a job (or a dataset's jobs) could not take, from sluice.row_failures. */
import { UsageError } from "../errors.ts";
import { withCurrentApiDatabase } from "./session.ts";

export interface ListedFailure {
  id: number;
  jobId: number;
  dataset: string;
  stage: string;
  key: string | null;
  reason: string;
  detail: string | null;
  at: Date;
}

export interface FailureListing {
  /** `job 42` (with its child jobs, for a run) or `dataset image` (all its jobs). */
  target: { job: number | null; dataset: string | null };
  /** Every failure in scope, by reason (not cut by --limit). */
  byReason: Record<string, number>;
  total: number;
  /** Newest first, at most `limit`. */
  failures: ListedFailure[];
}

export interface FailureQuery {
  /** A job id (digits) or a dataset name. */
  target: string;
  reason?: string | undefined;
  limit?: number | undefined;
}

export const DEFAULT_FAILURE_LIMIT = 50;

export function listFailures(query: FailureQuery): Promise<FailureListing> {
  const job = /^\d+$/.test(query.target) ? Number(query.target) : null;
  const dataset = job === null ? query.target : null;
  const reason = query.reason ?? null;
  const limit = query.limit ?? DEFAULT_FAILURE_LIMIT;
  return withCurrentApiDatabase(async (sql) => {
    const [known] = job !== null
      ? await sql`select count(*)::int as n from sluice.jobs where id = ${job}`
      : await sql`select count(*)::int as n from sluice.jobs where dataset = ${dataset}`;
    if (!known?.n) {
      throw new UsageError(
        job !== null ? `no job ${job}` : `no jobs for dataset ${dataset}`,
        "see `sluice job list` for job ids and datasets",
      );
    }
    // A run's failures are its stages' (child jobs), so a job means the job and its children.
    const scope = job !== null
      ? sql`select id from sluice.jobs where id = ${job} or parent_id = ${job}`
      : sql`select id from sluice.jobs where dataset = ${dataset}`;
    const counts = await sql`
      select reason, count(*)::int as n from sluice.row_failures
      where job_id in (${scope}) and (${reason}::text is null or reason = ${reason})
      group by reason order by n desc, reason`;
    const rows = await sql`
      select f.id::int, f.job_id::int, j.dataset, j.stage, f.item_key, f.reason, f.detail, f.created_at
      from sluice.row_failures f join sluice.jobs j on j.id = f.job_id
      where f.job_id in (${scope}) and (${reason}::text is null or f.reason = ${reason})
      order by f.id desc limit ${limit}`;
    const byReason = Object.fromEntries(counts.map((c) => [c.reason as string, c.n as number]));
    return {
      target: { job, dataset },
      byReason,
      total: Object.values(byReason).reduce((a, b) => a + b, 0),
      failures: rows.map((r) => ({
        id: r.id,
        jobId: r.job_id,
        dataset: r.dataset,
        stage: r.stage,
        key: r.item_key,
        reason: r.reason,
        detail: r.detail,
        at: r.created_at,
      })),
    };
  });
}
