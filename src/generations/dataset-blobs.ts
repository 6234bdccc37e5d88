/**
 * Whose part of the blob store a command writes and deletes in: one namespace per API database
 * (its identity, as index marks use) and dataset, and one for ingest's bundles.
 *
 *   $SLUICE_BLOB_DIR/<database identity>/datasets/<dataset>/ab/cd/abcd…
 *   $SLUICE_BLOB_DIR/<database identity>/bundles/ab/cd/abcd…
 *
 * Content addressing alone let two datasets (or a dataset and a bundle) share a blob, and the
 * first to let go of it deleted it under the other; in separate parts, each owner's clean-up
 * judges only references it can see (its own tables).
 */
import { type BlobStore, blobStoreFromEnv } from "../adapters/blob-store.ts";
import type { Sql } from "../adapters/postgres.ts";
import { databaseIdentity } from "./identity.ts";

/** The store of a registry dataset's payloads in this API database. */
export async function datasetBlobStore(sql: Sql, dataset: string, env: Record<string, string | undefined> = process.env): Promise<BlobStore> {
  return blobStoreFromEnv(`${(await databaseIdentity(sql)).id}/datasets/${dataset}`, env);
}

/** The store of ingested bundles' files in this API database. */
export async function bundleBlobStore(sql: Sql, env: Record<string, string | undefined> = process.env): Promise<BlobStore> {
  return blobStoreFromEnv(`${(await databaseIdentity(sql)).id}/bundles`, env);
}
