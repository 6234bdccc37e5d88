/** Job queries and the administrator's override, behind `sluice job …`. */
import { type JobFilter, type JobState, type JobView, getJob, listJobs, parseJobState, setJobState } from "../jobs/jobs.ts";
import { assertSchemaCurrent } from "../migrate/index.ts";
import { UsageError } from "../errors.ts";
import { openApiDatabase } from "./session.ts";
import type { Sql } from "../adapters/postgres.ts";

async function withJobsDatabase<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
  const sql = await openApiDatabase();
  try {
    await assertSchemaCurrent(sql);
    return await work(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export function findJobs(filter: JobFilter): Promise<JobView[]> {
  return withJobsDatabase((sql) => listJobs(sql, filter));
}

export function findJob(id: number): Promise<JobView> {
  return withJobsDatabase((sql) => getJob(sql, id));
}

export interface JobStateChange {
  state: string | undefined;
  task?: string | undefined;
  percent?: number | undefined;
  error?: string | undefined;
}

export function overrideJobState(id: number, change: JobStateChange): Promise<JobView> {
  if (!change.state) throw new UsageError("--state is required", "e.g. --state failed");
  const state: JobState = parseJobState(change.state);
  return withJobsDatabase((sql) => setJobState(sql, id, { ...change, state }));
}
