/**
 * The API database's identity (migration 0005): a UUID made at migrate time and kept inside the
 * database, so it survives renames. Read once per connection pool: it never changes while sluice
 * runs, and one process (a test, say) may talk to several databases.
 */
import type { Sql } from "../adapters/postgres.ts";
import { SluiceError } from "../errors.ts";

export interface DatabaseIdentity {
  id: string;
  /** When the identity was made: indices older than this were built before sluice marked them. */
  createdAt: Date;
}

const cache = new WeakMap<Sql, Promise<DatabaseIdentity>>();

export function databaseIdentity(sql: Sql): Promise<DatabaseIdentity> {
  let identity = cache.get(sql);
  if (!identity) {
    identity = readIdentity(sql);
    identity.catch(() => cache.delete(sql));
    cache.set(sql, identity);
  }
  return identity;
}

async function readIdentity(sql: Sql): Promise<DatabaseIdentity> {
  const [row] = await sql`select id::text as id, created_at from sluice.database_identity`;
  if (!row) {
    throw new SluiceError("sluice.database_identity is empty, so this database cannot mark or recognise its indices", {
      hint: "run `insert into sluice.database_identity default values` once, as migration 0005 does",
    });
  }
  return { id: row.id, createdAt: row.created_at };
}
