/**
 * After a registry generation goes live: payloads that only the outgoing generation referenced
 * (vanished documents, and the old payloads of changed ones) are deleted from the blob store.
 * Content-addressed, so a blob still referenced by any live row stays.
 *
 *   blob_sha256 ∪ cleaned_sha256 of <table>__g<outgoing>  minus  those of <table>  → delete
 *
 * The outgoing table is kept for rollback; its index documents are whole, but re-indexing it
 * after a rollback would miss these payloads (reload brings them back).
 */
import { blobStoreFromEnv } from "../../adapters/blob-store.ts";
import { ident } from "../../adapters/postgres.ts";
import { generationTable } from "../../generations/names.ts";
import { type Generation, tableExists } from "../../generations/store.ts";
import type { JobHandle } from "../job-runner.ts";
import type { Session } from "../session.ts";

const PAGE = 1000;

export async function releaseVanishedPayloads(session: Session, job: JobHandle, outgoing: Generation | null): Promise<number> {
  const { dataset, sql, log } = session;
  if (dataset.source.kind !== "registry" || !outgoing) return 0;
  const previous = generationTable(dataset, outgoing.number);
  if (!(await tableExists(sql, previous))) return 0;
  const store = blobStoreFromEnv();
  const live = ident(dataset.table.name);
  let last = "";
  let deleted = 0;
  for (;;) {
    const rows = await sql.unsafe(
      `SELECT DISTINCT sha FROM (
         SELECT blob_sha256 AS sha FROM ${ident(previous)} UNION ALL SELECT cleaned_sha256 FROM ${ident(previous)}) p
       WHERE sha IS NOT NULL AND sha > $1
         AND NOT EXISTS (SELECT 1 FROM ${live} l WHERE l.blob_sha256 = p.sha)
         AND NOT EXISTS (SELECT 1 FROM ${live} l WHERE l.cleaned_sha256 = p.sha)
       ORDER BY sha LIMIT ${PAGE}`,
      [last],
    );
    if (rows.length === 0) break;
    last = rows.at(-1)!.sha as string;
    for (const row of rows) await store.delete(row.sha as string);
    deleted += rows.length;
  }
  job.counters.payloads_deleted = deleted;
  if (deleted) log.info(`deleted ${deleted} payload${deleted === 1 ? "" : "s"} no live row references any more`);
  return deleted;
}
