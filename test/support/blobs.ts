/** Where a blob lives in a directory store, in the namespace of this API database (generations/dataset-blobs.ts). */
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { Sql } from "../../src/adapters/postgres.ts";

/** `part`: "datasets/<name>" or "bundles". */
export async function blobFile(api: Sql, root: string, part: string, sha: string): Promise<string> {
  const [row] = await api`select id::text as id from sluice.database_identity`;
  return join(root, row!.id as string, part, sha.slice(0, 2), sha.slice(2, 4), sha);
}

/** Stops a test's local servers, drops its databases and indices, and removes its directories (the blob store's, SLUICE_BLOB_DIR, and its config's). */
export async function endBlobTest(t: { drop(): Promise<void> } | undefined, dirs: (string | undefined)[], ...servers: ({ stop(force?: boolean): unknown } | undefined)[]): Promise<void> {
  for (const server of servers) server?.stop(true);
  await t?.drop();
  for (const dir of dirs) if (dir) rmSync(dir, { recursive: true, force: true });
  delete process.env.SLUICE_BLOB_DIR;
}
