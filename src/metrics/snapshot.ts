/**
 * What the metrics say, read from sluice's own tables after a job: every dataset and stage that
 * ever ran, from any process, so the file is whole whichever run wrote it last.
 */
import type { Sql } from "../adapters/postgres.ts";
import type { Counters } from "../jobs/counters.ts";
import { datasetLocksHeld } from "../jobs/lock.ts";

export interface StageSnapshot {
  dataset: string;
  stage: string;
  lastSuccess: Date | null;
  lastFailure: Date | null;
  /** The last finished job of this stage: how long it took and what it counted. */
  lastDurationSeconds: number | null;
  lastCounters: Partial<Counters> | null;
  /** The start of a job of this stage running now, if any. */
  runningSince: Date | null;
}

export interface DatasetSnapshot {
  dataset: string;
  liveGeneration: number | null;
  lockHeld: boolean;
}

export interface MetricsSnapshot {
  stages: StageSnapshot[];
  datasets: DatasetSnapshot[];
}

export async function readMetricsSnapshot(sql: Sql): Promise<MetricsSnapshot> {
  const stages = await sql`
    with last as (
      select distinct on (dataset, stage) dataset, stage, started_at, finished_at, counters
      from sluice.jobs where finished_at is not null
      order by dataset, stage, id desc
    ), marks as (
      select dataset, stage,
        max(finished_at) filter (where state = 'succeeded') as last_success,
        max(finished_at) filter (where state = 'failed') as last_failure,
        min(started_at) filter (where state = 'running') as running_since
      from sluice.jobs group by dataset, stage
    )
    select m.dataset, m.stage, m.last_success, m.last_failure, m.running_since,
      extract(epoch from (l.finished_at - l.started_at))::float8 as duration, l.counters
    from marks m left join last l using (dataset, stage)
    order by m.dataset, m.stage`;
  const datasets = await sql`
    select d.dataset, (select number from sluice.generations g where g.dataset = d.dataset and g.state = 'live') as live
    from (select dataset from sluice.jobs union select dataset from sluice.generations) d
    order by d.dataset`;
  const held = await datasetLocksHeld(sql, datasets.map((r) => r.dataset as string));
  return {
    stages: stages.map((r) => ({
      dataset: r.dataset,
      stage: r.stage,
      lastSuccess: r.last_success,
      lastFailure: r.last_failure,
      lastDurationSeconds: r.duration,
      lastCounters: r.counters,
      runningSince: r.running_since,
    })),
    datasets: datasets.map((r) => ({ dataset: r.dataset, liveGeneration: r.live ?? null, lockHeld: held.has(r.dataset) })),
  };
}
