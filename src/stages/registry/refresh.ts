/**
 * Incremental refresh from a registry: staging starts as a copy of live and takes the listing's
 * changes, so the per-row stage state (download, validation) of unchanged documents comes along.
 *
 *   registry pages --bulk insert--> listing table --safety check--> staging = copy of live
 *     --DELETE vanished, UPDATE changed (state cleared), INSERT new--> staging __gN
 *
 * Nothing but the scratch listing table exists until the safety check has passed; the listing
 * table is dropped whatever happens.
 */
import { ident, type Sql } from "../../adapters/postgres.ts";
import { REGISTRY_COLUMNS } from "../../config/resolve.ts";
import type { Dataset, RegistrySourceConfig } from "../../config/types.ts";
import { SluiceError } from "../../errors.ts";
import { countReason } from "../../jobs/counters.ts";
import { RowFailureLog } from "../../jobs/row-failures.ts";
import { startProgress } from "../../log/progress.ts";
import { type Generation, mergeGenerationStats, tableExists } from "../../generations/store.ts";
import { listRegistry, type RegistryDocument } from "../../sources/registry.ts";
import type { JobHandle } from "../job-runner.ts";
import { throwIfAborted, type Session } from "../session.ts";
import { buildStagingIndexes, countRows } from "../refresh/staging-sql.ts";
import { enforceRefreshTolerance } from "../refresh/tolerance.ts";

/** Columns the registry provides; the others are stage state, cleared when a document changes. */
const LISTED = ["id", "name", "publisher", "url", "hash", "modified"] as const;
const STATE = Object.keys(REGISTRY_COLUMNS).filter((c) => !(LISTED as readonly string[]).includes(c));

export interface RegistryDiff {
  listed: number;
  known: number;
  new: number;
  changed: number;
  removed: number;
  unchanged: number;
}

export async function refreshFromRegistry(session: Session, job: JobHandle, generation: Generation): Promise<RegistryDiff> {
  const { dataset, sql, signal, log } = session;
  const source = dataset.source as Required<RegistrySourceConfig>;
  const counters = job.counters;
  const staging = generation.tableName;
  const listing = `${staging}__listing`;
  const failures = new RowFailureLog(sql, job.job.id);
  try {
    job.setTask(`listing documents from ${source.url}`, 0);
    await sql.unsafe(`DROP TABLE IF EXISTS ${ident(listing)}; CREATE UNLOGGED TABLE ${ident(listing)} (
      seq bigserial, id text NOT NULL, name text, publisher text, url text, hash text, modified timestamptz)`);
    const progress = startProgress({ label: `list ${dataset.name}`, unit: "documents" });
    for await (const page of listRegistry(source.url, {
      pageSize: source.pageSize,
      signal,
      onPage: (seen, count) => {
        progress.setTotal(count);
        job.setPercent(Math.min(60, (seen / Math.max(1, count)) * 60));
      },
    })) {
      counters.read += page.listed;
      progress.tick(page.listed);
      for (const p of page.problems) {
        countReason(counters, "failed", p.reason);
        failures.add({ key: p.key, reason: p.reason, detail: p.detail });
      }
      if (page.documents.length) await insertListing(sql, listing, page.documents);
      throwIfAborted(signal);
    }
    progress.stop();
    await failures.flush();

    job.setTask("dropping duplicate listings", 62);
    const duplicates = await sql.unsafe(`
      DELETE FROM ${ident(listing)} l USING ${ident(listing)} f
      WHERE l.id = f.id AND l.seq > f.seq RETURNING l.id`);
    if (duplicates.length) {
      countReason(counters, "failed", "duplicate_key", duplicates.length);
      for (const d of duplicates) failures.add({ key: d.id as string, reason: "duplicate_key", detail: "listed more than once; the first listing was kept" });
      await failures.flush();
    }
    await sql.unsafe(`CREATE UNIQUE INDEX ON ${ident(listing)} (id)`);
    const listed = await countRows(sql, listing);
    // Listed and kept is what this refresh writes; too many bad listings and it stops here.
    enforceRefreshTolerance(dataset, { ...counters, written: listed }, job.job.id);
    const live = (await tableExists(sql, dataset.table.name)) ? dataset.table.name : null;
    const known = live ? await countRows(sql, live) : 0;
    if (known > 0 && listed < known * source.minListedFraction) {
      throw new SluiceError(
        `the registry listed ${listed} documents, fewer than ${Math.round(source.minListedFraction * 100)}% of the ${known} already known; refresh refused and nothing changed`,
        { hint: "the registry may be failing or truncated; check it, or lower source.minListedFraction if the drop is real" },
      );
    }

    throwIfAborted(signal);
    job.setTask(live ? `copying live ${live} into ${staging}` : `creating ${staging}`, 65);
    await createStaging(sql, dataset, staging, live);
    job.setTask("applying the listing: vanished, changed, new", 80);
    const diff = await applyListing(sql, staging, listing, listed, known);
    await sql.unsafe(`ANALYZE ${ident(staging)}`);
    await rememberPublishers(sql, dataset.name, listing);

    counters.written = listed;
    counters.diff = { new: diff.new, changed: diff.changed, removed: diff.removed, unchanged: diff.unchanged };
    await mergeGenerationStats(sql, dataset.name, generation.number, { rows: listed, diff, refreshedByJob: job.job.id });
    log.info(`${dataset.name}: ${diff.new} new, ${diff.changed} changed, ${diff.removed} vanished, ${diff.unchanged} unchanged`);
    return diff;
  } finally {
    await sql.unsafe(`DROP TABLE IF EXISTS ${ident(listing)}`).catch(() => {});
  }
}

async function insertListing(sql: Sql, listing: string, documents: RegistryDocument[]): Promise<void> {
  // One statement per page, with the rows as one JSON parameter: no per-row round trip, no
  // parameter-count limit.
  await sql.unsafe(
    `INSERT INTO ${ident(listing)} (id, name, publisher, url, hash, modified)
     SELECT id, name, publisher, url, hash, modified FROM json_to_recordset($1::text::json)
       AS x(id text, name text, publisher text, url text, hash text, modified timestamptz)`,
    [JSON.stringify(documents)],
  );
}

async function createStaging(sql: Sql, dataset: Dataset, staging: string, live: string | null): Promise<void> {
  await sql.unsafe(`DROP TABLE IF EXISTS ${ident(staging)}`);
  if (live) {
    await sql.unsafe(`CREATE TABLE ${ident(staging)} (LIKE ${ident(live)} INCLUDING ALL)`);
    await sql.unsafe(`INSERT INTO ${ident(staging)} SELECT * FROM ${ident(live)}`);
    return;
  }
  const columns = Object.entries(REGISTRY_COLUMNS).map(([name, type]) => `${ident(name)} ${type}`).join(", ");
  await sql.unsafe(`CREATE TABLE ${ident(staging)} (${columns})`);
  await buildStagingIndexes(sql, dataset, staging);
}

/** The set-based heart of the incremental refresh; one statement per kind of change. */
async function applyListing(sql: Sql, staging: string, listing: string, listed: number, known: number): Promise<RegistryDiff> {
  const s = ident(staging);
  const l = ident(listing);
  const removed = await sql.unsafe(`DELETE FROM ${s} s WHERE NOT EXISTS (SELECT 1 FROM ${l} l WHERE l.id = s.id)`);
  // A changed payload (hash or URL) clears the stage state, so it is downloaded and validated again.
  const clear = STATE.map((c) => `${ident(c)} = NULL`).join(", ");
  const changed = await sql.unsafe(`
    UPDATE ${s} s SET name = l.name, publisher = l.publisher, url = l.url, hash = l.hash, modified = l.modified, ${clear}
    FROM ${l} l WHERE l.id = s.id AND (s.hash IS DISTINCT FROM l.hash OR s.url IS DISTINCT FROM l.url)`);
  // Renames and new timestamps alone keep the payload's state.
  await sql.unsafe(`
    UPDATE ${s} s SET name = l.name, publisher = l.publisher, modified = l.modified
    FROM ${l} l WHERE l.id = s.id AND (s.name, s.publisher, s.modified) IS DISTINCT FROM (l.name, l.publisher, l.modified)`);
  const inserted = await sql.unsafe(`
    INSERT INTO ${s} (id, name, publisher, url, hash, modified)
    SELECT id, name, publisher, url, hash, modified FROM ${l} l WHERE NOT EXISTS (SELECT 1 FROM ${s} s WHERE s.id = l.id)`);
  return {
    listed,
    known,
    new: inserted.count,
    changed: changed.count,
    removed: removed.count,
    unchanged: listed - inserted.count - changed.count,
  };
}

async function rememberPublishers(sql: Sql, dataset: string, listing: string): Promise<void> {
  await sql.unsafe(
    `INSERT INTO sluice.publishers (dataset, name)
     SELECT DISTINCT $1::text, publisher FROM ${ident(listing)} WHERE publisher IS NOT NULL AND publisher <> ''
     ON CONFLICT DO NOTHING`,
    [dataset],
  );
}
