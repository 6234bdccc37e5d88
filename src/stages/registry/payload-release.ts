/**
 * Payloads a registry dataset lets go of are deleted from its part of the blob store
 * (generations/dataset-blobs.ts): those only a table on its way out references, and no table the
 * dataset keeps (the live one, generations kept for rollback or still being built).
 *
 *   blob_sha256 ∪ cleaned_sha256 of <leaving>  minus  those of every kept table  → delete
 *
 * After a swap, the leaving table is the outgoing generation's: it stays for rollback with whole
 * index documents, but re-indexing it after a rollback would miss these payloads (reload brings them
 * back). When a failed or interrupted run discards its generation, the leaving table is the one
 * being dropped: without this, the payloads its reload stored stayed in the store for good whenever
 * the documents changed again before the next run.
 */
import type { BlobStore } from "../../adapters/blob-store.ts";
import { ident, type Sql } from "../../adapters/postgres.ts";
import type { Dataset } from "../../config/types.ts";
import { datasetBlobStore } from "../../generations/dataset-blobs.ts";
import { generationTable } from "../../generations/names.ts";
import { type Generation, type GenerationState, generationsIn, tableExists } from "../../generations/store.ts";
import type { Logger } from "../../log/logger.ts";
import type { JobHandle } from "../job-runner.ts";
import type { Session } from "../session.ts";

const PAGE = 1000;

/**
 * After a swap: the payloads only the outgoing generation referenced. Older generations on their
 * way out (kept for rollback, or about to be pruned) do not hold a payload back: theirs were let go
 * when they went out, and waiting for their pruning would keep these for good.
 */
export async function releaseVanishedPayloads(session: Session, job: JobHandle, outgoing: Generation | null): Promise<number> {
  const { dataset, sql, log } = session;
  if (dataset.source.kind !== "registry" || !outgoing) return 0;
  const deleted = await releasePayloadsOf(sql, dataset, outgoing.number, ["building", "ready"]);
  job.counters.payloads_deleted = deleted;
  if (deleted) log.info(`deleted ${deleted} payload${deleted === 1 ? "" : "s"} no live row references any more`);
  return deleted;
}

/** Before a generation's staging table is dropped: the payloads no other table of the dataset references. */
export async function releaseDiscardedPayloads(sql: Sql, dataset: Dataset, generation: number, log: Logger): Promise<number> {
  if (dataset.source.kind !== "registry") return 0;
  const deleted = await releasePayloadsOf(sql, dataset, generation, ["building", "ready", "previous", "retired"]);
  if (deleted) log.info(`deleted ${deleted} payload${deleted === 1 ? "" : "s"} only generation ${generation} referenced`);
  return deleted;
}

/**
 * Deletes the payloads generation `leaving`'s table references and no kept table does (the live one,
 * and those of the other generations in `keptStates`); returns how many.
 */
async function releasePayloadsOf(sql: Sql, dataset: Dataset, leaving: number, keptStates: GenerationState[]): Promise<number> {
  const table = generationTable(dataset, leaving);
  if (!(await tableExists(sql, table))) return 0;
  const kept = await keptTables(sql, dataset, leaving, keptStates);
  return deletePayloadsOnlyIn(sql, await datasetBlobStore(sql, dataset.name), table, kept);
}

/** The live table and the tables of the other generations in `states`, those that exist. */
async function keptTables(sql: Sql, dataset: Dataset, leaving: number, states: GenerationState[]): Promise<string[]> {
  const others = (await generationsIn(sql, dataset.name, states)).filter((g) => g.number !== leaving);
  const tables = [dataset.table.name, ...others.map((g) => generationTable(dataset, g.number))];
  const present: string[] = [];
  for (const name of tables) if (await tableExists(sql, name)) present.push(name);
  return present;
}

async function deletePayloadsOnlyIn(sql: Sql, store: BlobStore, table: string, kept: string[]): Promise<number> {
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
  return deleted;
}
