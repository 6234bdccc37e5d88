/**
 * Issue 9, point 6: advisory locks are per database, so a job is alive only if ITS database holds
 * the dataset's lock. Two API databases on one server; database B holds the `image` lock (the key
 * sluice uses) while database A has a `running` job whose process is gone.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { createTestEnvironment, type TestEnvironment } from "./support/harness.ts";
import { loadOpenverseSample } from "./support/openverse.ts";
import { proxiedDatabase } from "./support/tcp-proxy.ts";
import { openDatabase } from "../src/adapters/postgres.ts";
import { tryLockDataset } from "../src/jobs/lock.ts";

const LOCK_NAMESPACE = 0x51ce;

// Each test runs sluice end to end on a shared machine; bunfig's timeout is not applied to hooks.
setDefaultTimeout(120_000);

let a: TestEnvironment;
let b: TestEnvironment;
beforeAll(async () => {
  a = await createTestEnvironment("locks_a");
  b = await createTestEnvironment("locks_b");
  await loadOpenverseSample(a, ["image"]);
  expect((await a.sluice("migrate", "up")).code).toBe(0);
  expect((await b.sluice("migrate", "up")).code).toBe(0);
});
afterAll(async () => {
  await a?.drop();
  await b?.drop();
}, 180_000);

test("another database holding the same lock key does not keep this database's dead job alive", async () => {
  const holder = await b.api.reserve();
  try {
    await holder`select pg_advisory_lock(${LOCK_NAMESPACE}, hashtext('image'))`;
    // A fresh heartbeat, so only the lock decides: the process (pid 999999) is gone.
    const [job] = await a.api`
      insert into sluice.jobs (dataset, stage, state, pid, host, started_at, heartbeat_at)
      values ('image', 'refresh', 'running', 999999, 'gone-host', now(), now()) returning id`;

    const listed = await a.sluice("job", "list", "--json");
    expect(listed.code).toBe(0);
    const shown = (JSON.parse(listed.stdout) as { id: number; alive: boolean | null }[]).find((j) => j.id === Number(job!.id));
    expect(shown?.alive).toBe(false);
    expect((await a.sluice("job", "show", String(job!.id))).stdout).toContain("running (process gone)");

    // A's next run is not blocked by B's lock, and marks the dead job failed.
    expect((await a.sluice("refresh", "image")).code).toBe(0);
    const [after] = await a.api`select state, error from sluice.jobs where id = ${job!.id}`;
    expect(after!.state).toBe("failed");
    expect(after!.error).toContain("process died (pid 999999 on gone-host");

    // B's own lock is still B's: B sees its dataset locked.
    const [held] = await b.api`
      select count(*)::int as n from pg_locks
      where locktype = 'advisory' and granted and classid = ${LOCK_NAMESPACE}::int::oid and objid = hashtext('image')::oid
        and database = (select oid from pg_database where datname = current_database())`;
    expect(held!.n).toBe(1);
  } finally {
    await holder`select pg_advisory_unlock(${LOCK_NAMESPACE}, hashtext('image'))`;
    holder.release();
  }
});

test("a lock whose connection drops is known lost at once, another run may take it, and letting it go does not hang", async () => {
  const { proxy, url: viaProxy } = proxiedDatabase(a.apiUrl);
  const sql = await openDatabase(viaProxy, { variable: "DATABASE_URL", maxConnections: 3 });
  try {
    const lock = await tryLockDataset(sql, "lock-drop");
    expect(lock).not.toBeNull();
    expect(await lock!.held()).toBe(true);
    expect(await tryLockDataset(a.api, "lock-drop")).toBeNull();
    // A restart: every connection cut, then the server answers again.
    expect(proxy.dropAll()).toBeGreaterThan(0);
    await Bun.sleep(200);
    expect(await lock!.held()).toBe(false);
    const other = await tryLockDataset(a.api, "lock-drop");
    expect(other).not.toBeNull();
    await other!.release();
    const released = await Promise.race([lock!.release().then(() => "released"), Bun.sleep(5000).then(() => "hung")]);
    expect(released).toBe("released");
  } finally {
    await sql.end({ timeout: 2 });
    proxy.stop();
  }
});
