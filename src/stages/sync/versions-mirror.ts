/**
 * The live index's ids and versions kept in Postgres (sluice.sync_versions, migration 0009), so
 * that a full sync reads them in id order from one indexed table instead of out of Elasticsearch
 * (a point in time over every document, then a sort through Postgres): on the bench's 100k
 * documents that read was the larger half of a no-op full sync.
 *
 *   a sync writes or deletes  → WrittenList / DeletionList (scratch, per job); a first generation
 *                               built through the index stage → VersionsCopy, straight into the table
 *   the sync succeeds         → commitMirror, in the transaction that stores the cursor:
 *                               the table (or, when it was rebuilt, the index's entries) + written − deleted
 *   a sync starts writing     → suspendMirror: untrusted until it commits (a killed sync leaves it so)
 *   a full sync starts        → mirroredEntries: the table, if it mirrored this index and holds as many
 *                               ids as the index holds documents; else null (read the index)
 *
 * Failures make the table untrusted (versions_index = null) rather than wrong: a document that
 * failed to write keeps its old version in the index, which the table must not hide.
 */
import { once } from "node:events";
import type { Writable } from "node:stream";
import { openDatabase, type Sql } from "../../adapters/postgres.ts";
import { escapeCopyText } from "../../transforms/copy-text.ts";
import type { IndexEntry } from "./reconcile.ts";

const BATCH = 2000;

/**
 * The (id, version) pairs a job wrote, in batches; `push` is synchronous for the index stage's stamp.
 * `direct`: straight into sync_versions (a sync that rewrites the whole index, after clearMirror;
 * the table stays untrusted until the sync commits), else into the job's sync_written.
 */
export class WrittenList implements VersionsSink {
  #ids: string[] = [];
  #versions: string[] = [];
  #pending: Promise<void> = Promise.resolve();
  #failed: unknown = null;

  constructor(
    private readonly sql: Sql,
    private readonly dataset: string,
    private readonly job: number,
    private readonly direct = false,
  ) {}

  push(id: string, version: string): void {
    this.#ids.push(id);
    this.#versions.push(version);
    if (this.#ids.length >= BATCH) this.#send();
  }

  #send(): void {
    const ids = this.#ids;
    const versions = this.#versions;
    this.#ids = [];
    this.#versions = [];
    if (!ids.length) return;
    const { sql, dataset, job } = this;
    // Two array parameters (unnest), not four parameters a row: the index stage writes a million of these.
    const insert = this.direct
      ? sql`insert into sluice.sync_versions (dataset, id, version) select ${dataset}, w.id, w.version from unnest(${ids}::text[], ${versions}::text[]) as w(id, version)
            on conflict (dataset, id) do update set version = excluded.version`
      : sql`insert into sluice.sync_written (dataset, job_id, id, version) select ${dataset}, ${job}, w.id, w.version from unnest(${ids}::text[], ${versions}::text[]) as w(id, version)`;
    this.#pending = this.#pending
      .then(() => insert.then(() => {}))
      .catch((error) => {
        this.#failed ??= error;
      });
  }

  async flush(): Promise<void> {
    this.#send();
    await this.#pending;
    if (this.#failed) throw this.#failed;
  }
}

/** Where a pass lists the ids and versions it writes. */
export interface VersionsSink {
  push(id: string, version: string): void;
  /** Sends what is left and waits until the table holds it. */
  flush(): Promise<void>;
}

/**
 * The ids and versions of a first generation built through the index stage, streamed into
 * sync_versions by one COPY on a connection of its own while the documents are indexed (after
 * clearMirror; the table stays untrusted until the sync commits). COPY rather than WrittenList's
 * batched INSERT … ON CONFLICT: on the bench's rows the server spent 2.5–3.5 s per 100,000 ids on
 * those and 0.5–1.2 s on COPY (10–39 s against 5–7 s at 1M), CPU taken from Elasticsearch on a
 * shared host. Only where an id cannot come twice, for a repeated id fails the COPY: the staging
 * table's primary key makes each row's id unique, and a row's own documents come one after another
 * (a repeat of the id just listed is skipped). Ended by `flush`, or dropped by `discard` (the rows
 * never land).
 */
export class VersionsCopy implements VersionsSink {
  #lines = "";
  #count = 0;
  #last: string | null = null;
  #failed: Error | null = null;
  readonly #prefix: string;

  private constructor(
    private readonly sql: Sql,
    private readonly writable: Writable,
    dataset: string,
  ) {
    this.#prefix = `${escapeCopyText(dataset)}\t`;
    // Failed before this listener (patches/postgres@3.4.9.patch keeps such an error in `errored`).
    this.#failed = writable.errored;
    writable.on("error", (error) => {
      this.#failed ??= error;
    });
  }

  static async open(databaseUrl: string, dataset: string): Promise<VersionsCopy> {
    const sql = await openDatabase(databaseUrl, { variable: "DATABASE_URL", maxConnections: 1 });
    try {
      const writable = (await sql`copy sluice.sync_versions (dataset, id, version) from stdin`.writable()) as Writable;
      return new VersionsCopy(sql, writable, dataset);
    } catch (error) {
      await sql.end({ timeout: 5 }).catch(() => {});
      throw error;
    }
  }

  push(id: string, version: string): void {
    if (this.#failed) throw this.#failed;
    if (id === this.#last) return;
    this.#last = id;
    this.#lines += `${this.#prefix}${escapeCopyText(id)}\t${escapeCopyText(version)}\n`;
    if (++this.#count >= BATCH) this.#send();
  }

  #send(): void {
    if (!this.#count) return;
    // Not waited on: the server takes these rows far faster than Elasticsearch takes the documents.
    this.writable.write(this.#lines);
    this.#lines = "";
    this.#count = 0;
  }

  async flush(): Promise<void> {
    try {
      this.#send();
      if (this.#failed) throw this.#failed;
      this.writable.end();
      // Rejects on the stream's error (a repeated id, a lost connection).
      await once(this.writable, "finish");
      if (this.#failed) throw this.#failed;
    } finally {
      await this.sql.end({ timeout: 5 }).catch(() => {});
    }
  }

  /** Drops the COPY (the server discards its rows) and the connection; for a build that failed. */
  async discard(): Promise<void> {
    if (!this.writable.writableFinished) this.writable.destroy(new Error("the first generation was not built"));
    await this.sql.end({ timeout: 5 }).catch(() => {});
  }
}

/** Empties the table and marks it untrusted, before a sync that writes every document lists them there directly. */
export async function clearMirror(sql: Sql, dataset: string): Promise<void> {
  await sql`update sluice.sync_state set versions_index = null where dataset = ${dataset}`;
  await sql`delete from sluice.sync_versions where dataset = ${dataset}`;
}

/**
 * Marks the table untrusted while a sync writes (committed at once): a sync killed part-way leaves
 * it so, and the next full sync reads the index. The caller keeps what it mirrored before.
 */
export async function suspendMirror(sql: Sql, dataset: string): Promise<void> {
  await sql`update sluice.sync_state set versions_index = null where dataset = ${dataset}`;
}

/**
 * The mirrored entries in id order, a page at a time, or null when the table cannot stand in for `index` (holding
 * `documents`): `mirrors` is what the table mirrored when this sync began.
 */
export async function mirroredEntries(sql: Sql, dataset: string, mirrors: string | null, index: string, documents: number): Promise<AsyncIterable<IndexEntry[]> | null> {
  if (mirrors !== index) return null;
  const [{ n }] = (await sql`select count(*)::bigint as n from sluice.sync_versions where dataset = ${dataset}`) as unknown as [{ n: string }];
  if (Number(n) !== documents) return null;
  return (async function* () {
    const query = sql`select id, version from sluice.sync_versions where dataset = ${dataset} order by id`;
    for await (const rows of query.cursor(5000)) yield rows.map((row) => ({ id: row.id as string, version: (row.version as string | null) ?? null }));
  })();
}

/** The mirrored versions of some ids (absent ids are missing from the map), as storedVersions reads them from the index. */
export async function mirroredVersions(sql: Sql, dataset: string, ids: string[]): Promise<Map<string, string | null>> {
  const rows = await sql`select id, version from sluice.sync_versions where dataset = ${dataset} and id = any(${ids}::text[])`;
  return new Map(rows.map((r) => [r.id as string, (r.version as string | null) ?? null]));
}

export interface MirrorUpdate {
  /** The index the table mirrors once this commits, or null when this sync cannot vouch for it. */
  index: string | null;
  /** Where the table starts from: as it is (also after direct writes), or the entries this job read from the index. */
  base: "table" | "index entries";
}

/** Applies a job's writes and deletions to the table; run inside the transaction that commits the sync. */
export async function commitMirror(sql: Sql, dataset: string, job: number, update: MirrorUpdate): Promise<void> {
  if (update.index === null) {
    await sql`delete from sluice.sync_versions where dataset = ${dataset}`;
    await sql`update sluice.sync_state set versions_index = null where dataset = ${dataset}`;
    return;
  }
  if (update.base === "index entries") {
    await sql`delete from sluice.sync_versions where dataset = ${dataset}`;
    await sql`insert into sluice.sync_versions (dataset, id, version) select ${dataset}, id, version from sluice.sync_index_entries where job_id = ${job} on conflict do nothing`;
  }
  // The last write of an id wins, as it did in the index.
  await sql`
    insert into sluice.sync_versions (dataset, id, version)
    select distinct on (id) ${dataset}, id, version from sluice.sync_written where job_id = ${job} order by id, ctid desc
    on conflict (dataset, id) do update set version = excluded.version`;
  await sql`delete from sluice.sync_versions v using sluice.sync_deletions d where v.dataset = ${dataset} and d.job_id = ${job} and v.id = d.id collate "C"`;
  await sql`update sluice.sync_state set versions_index = ${update.index} where dataset = ${dataset}`;
}
