/**
 * One writer per dataset: a session-level Postgres advisory lock, held on a connection of its own
 * for as long as the process works on the dataset. If the process dies, Postgres drops the lock
 * with the connection, which is how the next run knows the old job is dead.
 */
import type { ReservedSql, Sql } from "../adapters/postgres.ts";

/** First half of the two-key advisory lock: marks sluice's dataset locks in pg_locks. */
const LOCK_NAMESPACE = 0x51ce;

export interface DatasetLock {
  /**
   * Whether Postgres still holds the lock for this process. It stops holding it when the lock's
   * connection drops (a database restart, a network cut), and from then on another run may take
   * the dataset, so the holder must stop. Throws only if the database cannot be asked.
   */
  held(): Promise<boolean>;
  release(): Promise<void>;
}

export async function tryLockDataset(sql: Sql, dataset: string): Promise<DatasetLock | null> {
  const conn: ReservedSql = await sql.reserve();
  const [row] = await conn`select pg_try_advisory_lock(${LOCK_NAMESPACE}, hashtext(${dataset})) as ok, pg_backend_pid() as pid`;
  if (!row?.ok) {
    conn.release();
    return null;
  }
  const pid = Number(row.pid);
  let released = false;
  let lost = false;
  // Asked over the pool, never over the lock's own connection: postgres.js does not reconnect a
  // reserved connection, and a query on one whose socket dropped never settles.
  const held = async () => {
    if (lost) return false;
    lost = !(await datasetLocksHeld(sql, [dataset], pid)).has(dataset);
    return !lost;
  };
  return {
    held,
    async release() {
      if (released) return;
      released = true;
      if (await held().catch(() => false)) await conn`select pg_advisory_unlock(${LOCK_NAMESPACE}, hashtext(${dataset}))`.catch(() => {});
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
  return (await datasetLocksHeld(sql, [dataset])).has(dataset);
}

/** Which of these datasets' locks are held in this database, in one query; by the backend `pid` only, when given. */
export async function datasetLocksHeld(sql: Sql, datasets: readonly string[], pid: number | null = null): Promise<Set<string>> {
  if (datasets.length === 0) return new Set();
  const rows = await sql`
    select d.name from unnest(${datasets as string[]}::text[]) as d(name)
    where exists (
      select 1 from pg_locks
      where locktype = 'advisory' and granted and classid = ${LOCK_NAMESPACE}::int::oid
        and objid = hashtext(d.name)::oid and objsubid = 2
        and (${pid}::int is null or pid = ${pid}::int)
        and database = (select oid from pg_database where datname = current_database())
    )`;
  return new Set(rows.map((r) => r.name as string));
}
