/**
 * A registry dataset's payloads leave its part of the blob store (generations/dataset-blobs.ts)
 * with the last table that references them: before a generation's table is dropped (pruned after a
 * swap, or discarded after a failed or interrupted run), the payloads it references and no other
 * table of the dataset does are deleted.
 *
 *   blob_sha256 ∪ cleaned_sha256 of <dropped table>  minus  those of the live table and every other
 *   generation table still there  → delete
 *
 * A generation kept for rollback keeps its payloads: rolled back to, its rows can be indexed again
 * (until 2026-12-01 they went at the swap that replaced it, and a rollback followed by an unchanged
 * source failed every run on a missing payload). Without the release on discard, the payloads a
 * failed run's reload stored stayed for good whenever the documents changed before the next run.
 */
import { ident, type Sql } from "../../adapters/postgres.ts";
import type { Dataset } from "../../config/types.ts";
import { datasetBlobStore } from "../../generations/dataset-blobs.ts";
import { generationTable } from "../../generations/names.ts";
import type { Logger } from "../../log/logger.ts";

const PAGE = 1000;

/** Before generation `dropping`'s table is dropped: deletes the payloads no other table of the dataset references; returns how many. */
export async function releaseDroppedPayloads(sql: Sql, dataset: Dataset, dropping: number, log: Logger): Promise<number> {
  if (dataset.source.kind !== "registry") return 0;
  const table = generationTable(dataset, dropping);
  const tables = await datasetTables(sql, dataset);
  if (!tables.includes(table)) return 0;
  const kept = tables.filter((name) => name !== table);
  const store = await datasetBlobStore(sql, dataset.name);
  const unreferenced = kept
    .map((k) => `AND NOT EXISTS (SELECT 1 FROM ${ident(k)} k WHERE k.blob_sha256 = p.sha) AND NOT EXISTS (SELECT 1 FROM ${ident(k)} k WHERE k.cleaned_sha256 = p.sha)`)
    .join("\n         ");
  let last = "";
  let deleted = 0;
  for (;;) {
    const rows = await sql.unsafe(
      `SELECT DISTINCT sha FROM (
         SELECT blob_sha256 AS sha FROM ${ident(table)} UNION ALL SELECT cleaned_sha256 FROM ${ident(table)}) p
       WHERE sha IS NOT NULL AND sha > $1
         ${unreferenced}
       ORDER BY sha LIMIT ${PAGE}`,
      [last],
    );
    if (rows.length === 0) break;
    last = rows.at(-1)!.sha as string;
    for (const row of rows) await store.delete(row.sha as string);
    deleted += rows.length;
  }
  if (deleted) log.info(`deleted ${deleted} payload${deleted === 1 ? "" : "s"} only generation ${dropping} referenced`);
  return deleted;
}

/** The dataset's tables that exist: the live one and every generation's (<table>__g<N>), whatever its state, in one catalogue read. */
async function datasetTables(sql: Sql, dataset: Dataset): Promise<string[]> {
  const live = dataset.table.name;
  const rows = await sql`
    select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p')
      and (c.relname = ${live} or (left(c.relname, ${live.length + 3}) = ${`${live}__g`} and substr(c.relname, ${live.length + 4}) ~ '^[0-9]+$'))`;
  return rows.map((r) => r.relname as string);
}
