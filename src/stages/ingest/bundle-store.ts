/**
 * Accepted bundles in sluice.bundles, sluice.bundle_key_values and sluice.bundle_files. A bundle's
 * rows are inserted in one transaction: readers see all of it or none of it.
 */
import type { Sql } from "../../adapters/postgres.ts";
import type { BundleMetadata } from "./metadata.ts";

export interface StoredBundle {
  id: number;
  jobId: number | null;
  createdAt: Date;
}

export interface NewBundle {
  fingerprint: string;
  jobId: number;
  archive: { name: string; sha256: string; bytes: number };
  metadata: BundleMetadata;
  /** Blob sha256 per file path. */
  blobs: ReadonlyMap<string, string>;
}

/** Rows per insert statement for key/values and files. */
const INSERT_BATCH = 1000;

export async function findBundle(sql: Sql, fingerprint: string): Promise<StoredBundle | null> {
  const [row] = await sql`select id, job_id, created_at from sluice.bundles where fingerprint = ${fingerprint}`;
  return row ? { id: Number(row.id), jobId: row.job_id === null ? null : Number(row.job_id), createdAt: row.created_at } : null;
}

export async function insertBundle(sql: Sql, bundle: NewBundle): Promise<number> {
  const { metadata: meta, archive } = bundle;
  return sql.begin(async (tx) => {
    const [row] = await tx`
      insert into sluice.bundles (fingerprint, job_id, archive_name, archive_sha256, archive_bytes, submitter, project,
                                  instrument, transaction, metadata, file_count, total_bytes)
      values (${bundle.fingerprint}, ${bundle.jobId}, ${archive.name}, ${archive.sha256}, ${archive.bytes},
              ${meta.transaction.submitter!}, ${meta.transaction.project!}, ${meta.transaction.instrument!},
              ${tx.json(meta.transaction)}, ${tx.json(meta.document as any)}, ${meta.files.length},
              ${meta.files.reduce((sum, f) => sum + f.size, 0)})
      returning id`;
    const id = Number(row!.id);
    const keyValues = meta.keyValues.map((kv, i) => ({ bundle_id: id, position: i + 1, key: kv.key, value: kv.value }));
    const files = meta.files.map((f) => ({
      bundle_id: id,
      path: f.path,
      subdir: f.subdir,
      name: f.name,
      size: f.size,
      hashtype: f.hashtype,
      hashsum: f.hashsum,
      mimetype: f.mimetype,
      ctime: f.ctime,
      mtime: f.mtime,
      blob_sha256: bundle.blobs.get(f.path)!,
    }));
    for (let i = 0; i < keyValues.length; i += INSERT_BATCH) await tx`insert into sluice.bundle_key_values ${tx(keyValues.slice(i, i + INSERT_BATCH))}`;
    for (let i = 0; i < files.length; i += INSERT_BATCH) await tx`insert into sluice.bundle_files ${tx(files.slice(i, i + INSERT_BATCH))}`;
    return id;
  }) as Promise<number>;
}

/** Of these blobs, the ones no accepted bundle points at (safe to remove after a failed publish). */
export async function unreferencedBlobs(sql: Sql, shas: readonly string[]): Promise<string[]> {
  if (shas.length === 0) return [];
  const rows = await sql`
    select sha from unnest(${sql.array([...new Set(shas)])}::text[]) as sha
    where not exists (select 1 from sluice.bundle_files f where f.blob_sha256 = sha)`;
  return rows.map((r) => r.sha as string);
}
