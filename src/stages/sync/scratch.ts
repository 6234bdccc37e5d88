/**
 * A sync's working sets in Postgres (migration 0007), so that memory stays flat however large the
 * dataset: records of an unordered source, sorted there, and the deletions a sync has decided,
 * counted against the gate before any is sent.
 */
import type { Sql } from "../../adapters/postgres.ts";
import type { SourceRecord } from "../../sources/types.ts";
import type { IndexEntry } from "./reconcile.ts";

const BATCH = 1000;

/** Removes what earlier (crashed) syncs of the dataset left; called under the dataset's lock. */
export async function sweepScratch(sql: Sql, dataset: string): Promise<void> {
  await sql`delete from sluice.sync_records where dataset = ${dataset}`;
  await sql`delete from sluice.sync_index_entries where dataset = ${dataset}`;
  await sql`delete from sluice.sync_deletions where dataset = ${dataset}`;
  await sql`delete from sluice.sync_written where dataset = ${dataset}`;
}

/** Writes records to Postgres and reads them back in id order (COLLATE "C"). */
export async function* sortedThroughPostgres(sql: Sql, dataset: string, job: number, records: AsyncIterable<SourceRecord>): AsyncGenerator<SourceRecord> {
  let batch: { dataset: string; job_id: number; id: string; version: string; doc: unknown }[] = [];
  const flush = async () => {
    if (batch.length) await sql`insert into sluice.sync_records ${sql(batch as never[])}`;
    batch = [];
  };
  for await (const r of records) {
    batch.push({ dataset, job_id: job, id: r.id, version: r.version, doc: sql.json(r.doc as never) });
    if (batch.length >= BATCH) await flush();
  }
  await flush();
  // Duplicates in an unordered source: the last one written wins, as it would in the index.
  const query = sql`select distinct on (id) id, version, doc from sluice.sync_records where job_id = ${job} order by id, ctid desc`;
  for await (const rows of query.cursor(BATCH)) {
    for (const row of rows) yield { id: row.id as string, version: row.version as string, doc: row.doc as Record<string, unknown> };
  }
}

/** Deletions decided by a sync, written in batches. */
export class DeletionList {
  #batch: string[] = [];
  count = 0;

  constructor(
    private readonly sql: Sql,
    private readonly dataset: string,
    private readonly job: number,
  ) {}

  async add(id: string): Promise<void> {
    this.#batch.push(id);
    this.count++;
    if (this.#batch.length >= BATCH) await this.flush();
  }

  async flush(): Promise<void> {
    if (!this.#batch.length) return;
    const rows = this.#batch.map((id) => ({ dataset: this.dataset, job_id: this.job, id }));
    this.#batch = [];
    await this.sql`insert into sluice.sync_deletions ${this.sql(rows)}`;
  }

  /** The ids, a batch at a time. */
  async *batches(size = BATCH): AsyncGenerator<string[]> {
    await this.flush();
    const query = this.sql`select distinct id from sluice.sync_deletions where job_id = ${this.job}`;
    for await (const rows of query.cursor(size)) yield rows.map((r) => r.id as string);
  }
}

export async function clearJobScratch(sql: Sql, job: number): Promise<void> {
  await sql`delete from sluice.sync_records where job_id = ${job}`;
  await sql`delete from sluice.sync_index_entries where job_id = ${job}`;
  await sql`delete from sluice.sync_deletions where job_id = ${job}`;
  await sql`delete from sluice.sync_written where job_id = ${job}`;
}

/** The index's entries, a page at a time, into Postgres; then read back in id order (COLLATE "C"), a page at a time. */
export async function* sortedIndexEntryPages(sql: Sql, dataset: string, job: number, pages: AsyncIterable<IndexEntry[]>): AsyncGenerator<IndexEntry[]> {
  for await (const page of pages) {
    if (!page.length) continue;
    await sql`
      insert into sluice.sync_index_entries (dataset, job_id, id, version)
      select ${dataset}, ${job}, e.id, e.version from unnest(${page.map((e) => e.id)}::text[], ${page.map((e) => e.version)}::text[]) as e(id, version)`;
  }
  const query = sql`select id, version from sluice.sync_index_entries where job_id = ${job} order by id`;
  for await (const rows of query.cursor(5000)) yield rows.map((row) => ({ id: row.id as string, version: (row.version as string | null) ?? null }));
}

/** sortedIndexEntryPages one entry at a time. */
export async function* sortedIndexEntries(sql: Sql, dataset: string, job: number, pages: AsyncIterable<IndexEntry[]>): AsyncGenerator<IndexEntry> {
  for await (const page of sortedIndexEntryPages(sql, dataset, job, pages)) yield* page;
}
