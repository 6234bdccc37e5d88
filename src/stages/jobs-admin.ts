/** Job queries and the administrator's override, behind `sluice job …`. */
import { type JobFilter, type JobState, type JobView, getJob, listJobs, parseJobState, setJobState } from "../jobs/jobs.ts";
import { UsageError } from "../errors.ts";
import { withCurrentApiDatabase } from "./session.ts";
import { type RangeLine, rangeLines, type WorkerLine, workerLines } from "./scale-out/progress.ts";
import { rangesOfJob } from "./scale-out/ranges.ts";

export function findJobs(filter: JobFilter): Promise<JobView[]> {
  return withCurrentApiDatabase((sql) => listJobs(sql, filter));
}

export function findJob(id: number): Promise<JobView> {
  return withCurrentApiDatabase((sql) => getJob(sql, id));
}

/** An index job spread over workers: its ranges and each worker's share (empty for any other job). */
export function findJobRanges(id: number): Promise<{ ranges: RangeLine[]; workers: WorkerLine[] }> {
  return withCurrentApiDatabase(async (sql) => {
    const ranges = await rangesOfJob(sql, id);
    return { ranges: rangeLines(ranges), workers: workerLines(ranges) };
  });
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
  return withCurrentApiDatabase((sql) => setJobState(sql, id, { ...change, state }));
}
