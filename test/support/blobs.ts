/** Where a blob lives in a directory store, in the namespace of this API database (generations/dataset-blobs.ts). */
import { join } from "node:path";
import type { Sql } from "../../src/adapters/postgres.ts";

/** `part`: "datasets/<name>" or "bundles". */
export async function blobFile(api: Sql, root: string, part: string, sha: string): Promise<string> {
  const [row] = await api`select id::text as id from sluice.database_identity`;
  return join(root, row!.id as string, part, sha.slice(0, 2), sha.slice(2, 4), sha);
}
