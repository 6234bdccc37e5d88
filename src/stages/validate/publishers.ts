/**
 * Publisher flags: a publisher that sends more than `flagThreshold` schema-invalid documents
 * within `flagWindowHours` is flagged, and validate skips its documents until an operator runs
 * `sluice publisher unflag`. Invalid documents from before an unflag no longer count.
 */
import type { Sql } from "../../adapters/postgres.ts";

export interface PublisherView {
  name: string;
  flaggedAt: Date | null;
  flagReason: string | null;
  invalidCount: number;
  unflaggedAt: Date | null;
  firstSeenAt: Date;
}

export async function listPublishers(sql: Sql, dataset: string, options: { flaggedOnly?: boolean } = {}): Promise<PublisherView[]> {
  const rows = await sql`
    select name, flagged_at, flag_reason, invalid_count, unflagged_at, first_seen_at from sluice.publishers
    where dataset = ${dataset} and (${!options.flaggedOnly} or flagged_at is not null)
    order by flagged_at desc nulls last, name`;
  return rows.map((r) => ({
    name: r.name,
    flaggedAt: r.flagged_at,
    flagReason: r.flag_reason,
    invalidCount: r.invalid_count,
    unflaggedAt: r.unflagged_at,
    firstSeenAt: r.first_seen_at,
  }));
}

export async function flaggedPublishers(sql: Sql, dataset: string): Promise<Set<string>> {
  const rows = await sql`select name from sluice.publishers where dataset = ${dataset} and flagged_at is not null`;
  return new Set(rows.map((r) => r.name as string));
}

/** Invalid documents per publisher within the window (and since its last unflag). */
export async function recentInvalidCounts(sql: Sql, dataset: string, windowHours: number): Promise<Map<string, number>> {
  const rows = await sql`
    select r.publisher, count(*)::int as n
    from sluice.validation_reports r
    left join sluice.publishers p on p.dataset = r.dataset and p.name = r.publisher
    where r.dataset = ${dataset} and not r.valid and r.publisher is not null
      and r.created_at > now() - make_interval(secs => ${windowHours * 3600})
      and (p.unflagged_at is null or r.created_at > p.unflagged_at)
    group by r.publisher`;
  return new Map(rows.map((r) => [r.publisher as string, r.n as number]));
}

export async function flagPublisher(sql: Sql, dataset: string, name: string, invalidCount: number, reason: string): Promise<void> {
  await sql`
    insert into sluice.publishers (dataset, name, flagged_at, flag_reason, invalid_count)
    values (${dataset}, ${name}, now(), ${reason}, ${invalidCount})
    on conflict (dataset, name) do update set flagged_at = now(), flag_reason = excluded.flag_reason, invalid_count = excluded.invalid_count`;
}

/** Returns false when the publisher was not flagged. */
export async function unflagPublisher(sql: Sql, dataset: string, name: string): Promise<boolean> {
  const rows = await sql`
    update sluice.publishers set flagged_at = null, flag_reason = null, unflagged_at = now()
    where dataset = ${dataset} and name = ${name} and flagged_at is not null returning name`;
  return rows.length > 0;
}

/** Counts invalid documents per publisher and says when one crosses the threshold. */
export class FloodWatch {
  readonly #counts: Map<string, number>;
  constructor(
    counts: Map<string, number>,
    private readonly threshold: number,
  ) {
    this.#counts = counts;
  }

  /** Records one invalid document; returns the count when this one crosses the threshold. */
  invalid(publisher: string): number | null {
    const n = (this.#counts.get(publisher) ?? 0) + 1;
    this.#counts.set(publisher, n);
    return n === this.threshold + 1 ? n : null;
  }

  /** Publishers already over the threshold before the stage started (e.g. after an interrupted run). */
  over(): [string, number][] {
    return [...this.#counts].filter(([, n]) => n > this.threshold);
  }
}
