/**
 * One writer per dataset: a session-level Postgres advisory lock, held on a connection of its own
 * for as long as the process works on the dataset. If the process dies, Postgres drops the lock
 * with the connection, which is how the next run knows the old job is dead.
 */
import type { ReservedSql, Sql } from "../adapters/postgres.ts";

/** First half of the two-key advisory lock: marks sluice's dataset locks in pg_locks. */
const LOCK_NAMESPACE = 0x51ce;

export interface DatasetLock {
  release(): Promise<void>;
}

export async function tryLockDataset(sql: Sql, dataset: string): Promise<DatasetLock | null> {
  const conn: ReservedSql = await sql.reserve();
  const [row] = await conn`select pg_try_advisory_lock(${LOCK_NAMESPACE}, hashtext(${dataset})) as ok`;
  if (!row?.ok) {
    conn.release();
    return null;
  }
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await conn`select pg_advisory_unlock(${LOCK_NAMESPACE}, hashtext(${dataset}))`.catch(() => {});
      conn.release();
    },
  };
}

/**
 * Whether a process holds the dataset's lock in THIS database: advisory locks are per database,
 * and pg_locks lists every database's, so another database's run of the same dataset name on the
 * same server must not count.
 */
export async function datasetLockHeld(sql: Sql, dataset: string): Promise<boolean> {
  const [row] = await sql`
    select exists (
      select 1 from pg_locks
      where locktype = 'advisory' and granted and classid = ${LOCK_NAMESPACE}::int::oid
        and objid = hashtext(${dataset})::oid and objsubid = 2
        and database = (select oid from pg_database where datname = current_database())
    ) as held`;
  return Boolean(row?.held);
}
