/**
 * sluice.index_ranges (migration 0008): the ranges of a generation's key space, their leases,
 * checkpoints and counters. Every write by a worker names its holder id, so a worker whose lease
 * passed to another can no longer move the range (its update matches no row: the lease is lost).
 */
import type { Sql } from "../../adapters/postgres.ts";
import { ident } from "../../adapters/postgres.ts";
import { type KeyRange, keyOrder, rangesFromBoundaries, samplePercent } from "./key-ranges.ts";

export type RangeState = "pending" | "leased" | "done" | "failed";

export interface RangeCounts {
  rowsRead: number;
  rowsSkipped: number;
  docsSent: number;
  docsFailed: number;
  failedByType: Record<string, number>;
}

export interface IndexRange extends KeyRange, RangeCounts {
  dataset: string;
  generation: number;
  jobId: number | null;
  keyType: string;
  state: RangeState;
  holder: string | null;
  leaseExpiresAt: Date | null;
  attempts: number;
  checkpoint: string | null;
  error: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

function toRange(r: Record<string, any>): IndexRange {
  return {
    dataset: r.dataset,
    generation: r.generation,
    number: r.range_no,
    jobId: r.job_id === null ? null : Number(r.job_id),
    keyType: r.key_type,
    lower: r.lower_key,
    upper: r.upper_key,
    state: r.state,
    holder: r.holder,
    leaseExpiresAt: r.lease_expires_at,
    attempts: r.attempts,
    checkpoint: r.checkpoint_key,
    rowsRead: Number(r.rows_read),
    rowsSkipped: Number(r.rows_skipped),
    docsSent: Number(r.docs_sent),
    docsFailed: Number(r.docs_failed),
    failedByType: r.failed_by_type ?? {},
    error: r.error,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

/** The key column's type as format_type names it. */
export async function keyType(sql: Sql, table: string, key: string): Promise<string> {
  const [row] = await sql`
    select format_type(atttypid, atttypmod) as type from pg_attribute
    where attrelid = ${ident(table)}::regclass and attname = ${key} and not attisdropped`;
  if (!row) throw new Error(`table ${table} has no key column ${key}`);
  return row.type as string;
}

/** Where staging's key space is cut: the key's type and the sorted boundary keys. */
export interface KeyCuts {
  type: string;
  boundaries: string[];
  /** The percentage of pages sampled, or null when every key was read. */
  sampledPercent: number | null;
}

/**
 * Cuts staging's key space into `parts` even in rows: ntile over the key in the order reads use,
 * over every key of a small table and over a sample of a large one (key-ranges.ts, samplePercent).
 */
export async function cutKeySpace(sql: Sql, table: string, key: string, parts: number): Promise<KeyCuts> {
  const type = await keyType(sql, table, key);
  const [stats] = await sql`select reltuples::float8 as n from pg_class where oid = ${ident(table)}::regclass`;
  const percent = samplePercent(Number(stats?.n ?? -1), parts);
  const source = percent === null ? ident(table) : `${ident(table)} TABLESAMPLE SYSTEM (${percent})`;
  // Each tile's first key starts a range (ntile's tiles differ by at most one row); the first
  // range starts unbounded instead. DISTINCT ON, not min(): uuid has no min().
  const order = keyOrder(key, type);
  const cuts = await sql.unsafe(
    `select distinct on (t) k::text as cut from (select ${order} as k, ntile($1) over (order by ${order}) as t from ${source}) s where t > 1 order by t, k`,
    [parts],
  );
  return { type, boundaries: cuts.map((c) => c.cut as string), sampledPercent: percent };
}

/** Records the ranges between `cuts`, replacing any ranges an earlier attempt left for this generation. */
export async function createRanges(sql: Sql, spec: { dataset: string; generation: number; jobId: number }, cuts: KeyCuts): Promise<IndexRange[]> {
  const ranges = rangesFromBoundaries(cuts.boundaries);
  return sql.begin(async (tx) => {
    await tx`delete from sluice.index_ranges where dataset = ${spec.dataset} and generation = ${spec.generation}`;
    const rows = ranges.map((r) => ({
      dataset: spec.dataset,
      generation: spec.generation,
      range_no: r.number,
      job_id: spec.jobId,
      key_type: cuts.type,
      lower_key: r.lower,
      upper_key: r.upper,
    }));
    const inserted = await tx`insert into sluice.index_ranges ${tx(rows)} returning *`;
    return inserted.map(toRange).sort((a, b) => a.number - b.number);
  }) as Promise<IndexRange[]>;
}

/**
 * Leases the first range nobody works on: pending, or leased with its lease lapsed (its worker died
 * or was cut off). SKIP LOCKED lets any number of workers claim at once without waiting on each other.
 */
export async function claimRange(sql: Sql, dataset: string, generation: number, holder: string, leaseSeconds: number): Promise<IndexRange | null> {
  const [row] = await sql`
    update sluice.index_ranges r
    set state = 'leased', holder = ${holder}, lease_expires_at = now() + make_interval(secs => ${leaseSeconds}),
        attempts = r.attempts + 1, started_at = coalesce(r.started_at, now()), updated_at = now()
    where (r.dataset, r.generation, r.range_no) = (
      select dataset, generation, range_no from sluice.index_ranges
      where dataset = ${dataset} and generation = ${generation}
        and (state = 'pending' or (state = 'leased' and lease_expires_at < now()))
        and ${jobRunning(sql)}
      order by range_no limit 1 for update skip locked)
    returning *`;
  return row ? toRange(row) : null;
}

/**
 * Leases hold only while the range's index job runs: once it is marked failed (its coordinator died
 * and the next run noticed), its workers' renewals fail and they stop, instead of writing on.
 */
function jobRunning(sql: Sql) {
  return sql`exists (select 1 from sluice.jobs j where j.id = job_id and j.state = 'running')`;
}

/** Extends a lease; false when it is no longer this holder's (or its index job no longer runs). */
export async function renewLease(sql: Sql, range: IndexRange, holder: string, leaseSeconds: number): Promise<boolean> {
  const rows = await sql`
    update sluice.index_ranges set lease_expires_at = now() + make_interval(secs => ${leaseSeconds}), updated_at = now()
    where dataset = ${range.dataset} and generation = ${range.generation} and range_no = ${range.number}
      and holder = ${holder} and state = 'leased' and ${jobRunning(sql)}
    returning 1`;
  return rows.length === 1;
}

/**
 * Records that every row up to `checkpoint` is settled, with the counters of exactly those rows;
 * `done` also ends the range. False when the lease is no longer this holder's.
 */
export async function checkpointRange(sql: Sql, range: IndexRange, holder: string, leaseSeconds: number, checkpoint: string | null, counts: RangeCounts, done = false): Promise<boolean> {
  const rows = await sql`
    update sluice.index_ranges set
      checkpoint_key = ${checkpoint}, rows_read = ${counts.rowsRead}, rows_skipped = ${counts.rowsSkipped},
      docs_sent = ${counts.docsSent}, docs_failed = ${counts.docsFailed}, failed_by_type = ${sql.json(counts.failedByType)},
      lease_expires_at = now() + make_interval(secs => ${leaseSeconds}), updated_at = now(),
      state = ${done ? "done" : "leased"}, finished_at = ${done ? sql`now()` : null}
    where dataset = ${range.dataset} and generation = ${range.generation} and range_no = ${range.number}
      and holder = ${holder} and state = 'leased' and ${jobRunning(sql)}
    returning 1`;
  return rows.length === 1;
}

/** Marks a range failed with the reason (the coordinator then fails the index job). */
export async function failRange(sql: Sql, range: IndexRange, holder: string, error: string): Promise<void> {
  await sql`
    update sluice.index_ranges set state = 'failed', error = ${error.slice(0, 2000)}, updated_at = now(), finished_at = now()
    where dataset = ${range.dataset} and generation = ${range.generation} and range_no = ${range.number}
      and holder = ${holder} and state = 'leased'`;
}

export async function listRanges(sql: Sql, dataset: string, generation: number): Promise<IndexRange[]> {
  const rows = await sql`select * from sluice.index_ranges where dataset = ${dataset} and generation = ${generation} order by range_no`;
  return rows.map(toRange);
}

export async function rangesOfJob(sql: Sql, jobId: number): Promise<IndexRange[]> {
  const rows = await sql`select * from sluice.index_ranges where job_id = ${jobId} order by range_no`;
  return rows.map(toRange);
}

/**
 * The generation whose ranges a joining worker works on: the newest with ranges not yet done whose
 * index job is running (a coordinator that died leaves its ranges to the next index job).
 */
export async function generationWithOpenRanges(sql: Sql, dataset: string): Promise<number | null> {
  const [row] = await sql`
    select r.generation from sluice.index_ranges r
    join sluice.jobs j on j.id = r.job_id and j.state = 'running'
    where r.dataset = ${dataset} and r.state in ('pending', 'leased')
    order by r.generation desc limit 1`;
  return row ? (row.generation as number) : null;
}

/** Whether an index job of the dataset is running whose ranges are all closed: a worker starting now has nothing left to join. */
export async function runningJobRangesClosed(sql: Sql, dataset: string): Promise<boolean> {
  const [row] = await sql`
    select count(*)::int as n, count(*) filter (where r.state in ('pending', 'leased'))::int as open
    from sluice.index_ranges r join sluice.jobs j on j.id = r.job_id and j.state = 'running'
    where r.dataset = ${dataset}`;
  return row!.n > 0 && row!.open === 0;
}

/** Hands a range back (a worker stopped by a signal): pending again, resumed from its checkpoint by the next claim. */
export async function releaseRange(sql: Sql, range: IndexRange, holder: string): Promise<void> {
  await sql`
    update sluice.index_ranges set state = 'pending', lease_expires_at = null, updated_at = now()
    where dataset = ${range.dataset} and generation = ${range.generation} and range_no = ${range.number}
      and holder = ${holder} and state = 'leased'`;
}

/**
 * Ends every open range of a generation (its index job failed): a worker still on one loses its
 * lease at the next renewal. Returns how many were leased then.
 */
export async function abandonRanges(sql: Sql, dataset: string, generation: number, why: string): Promise<number> {
  const rows = await sql`
    update sluice.index_ranges r set state = 'failed', error = coalesce(r.error, ${why}), updated_at = now(), finished_at = now()
    from sluice.index_ranges before
    where r.dataset = ${dataset} and r.generation = ${generation} and r.state in ('pending', 'leased')
      and before.dataset = r.dataset and before.generation = r.generation and before.range_no = r.range_no
    returning before.state as was`;
  return rows.filter((r) => r.was === "leased").length;
}
