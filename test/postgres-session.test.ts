/**
 * sluice's sessions set their own timeouts (none), as pg_dump does: a role or database that sets
 * statement_timeout or idle_in_transaction_session_timeout (a common guard on application roles)
 * cancelled refresh's COPY, and every run again the same way; one that sets idle_session_timeout
 * ended the dataset lock's connection, idle by design, and with it every job longer than the timeout. Shown directly and through a real
 * PgBouncer (session pooling), which refuses startup parameters other than the few it tracks, so
 * the settings must travel as a query.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import postgres from "postgres";
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestEnvironment, serverUrl, type TestEnvironment } from "./support/harness.ts";
import { growUpstreamImages, lastJob, loadOpenverseSample } from "./support/openverse.ts";

const root = new URL("../", import.meta.url).pathname;
let t: TestEnvironment;

beforeAll(async () => {
  t = await createTestEnvironment("pgsession");
  await loadOpenverseSample(t, ["image"]);
  // Enough rows that the COPYs and the index builds take well over the timeouts below.
  await growUpstreamImages(t, 10);
  expect((await t.sluice("migrate", "up")).code).toBe(0);
  // Both databases, for every new session: sluice's, and any the test opens from here on.
  for (const [sql, db] of [[t.api, t.name], [t.upstream, `${t.name}_up`]] as const) {
    await sql.unsafe(`ALTER DATABASE ${db} SET statement_timeout = '20ms'`);
    await sql.unsafe(`ALTER DATABASE ${db} SET idle_in_transaction_session_timeout = '20ms'`);
    // The dataset lock's connection waits idle for the whole job.
    await sql.unsafe(`ALTER DATABASE ${db} SET idle_session_timeout = '500ms'`);
  }
}, 120_000);

afterAll(async () => {
  await t.drop();
});

test("a database whose statements time out after 20 ms and idle sessions after 500 ms: refresh, index and swap run to the end", async () => {
  const { code } = await t.sluice("run", "image");
  const job = await lastJob(t, "image", "run");
  // Before, refresh failed: "the upstream connection was lost during COPY: canceling statement due to statement timeout".
  expect([code, job.error]).toEqual([0, null]);
  expect(job.state).toBe("succeeded");
}, 120_000);

test("a COPY someone cancels on the upstream server is named as cancelled, not as a lost connection", async () => {
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  let cancelled = 0;
  const canceller = (async () => {
    for (let i = 0; i < 500 && cancelled === 0; i++) {
      const rows = await admin`select pg_cancel_backend(pid) from pg_stat_activity where datname = ${`${t.name}_up`} and state = 'active' and query ilike 'copy%'`;
      cancelled = rows.length;
      if (!cancelled) await Bun.sleep(5);
    }
  })();
  const refresh = await t.sluice("refresh", "image");
  await canceller;
  await admin.end();
  expect(cancelled).toBeGreaterThan(0);
  expect(refresh.code).toBe(1);
  const job = await lastJob(t, "image", "refresh");
  expect(job.error).toStartWith("the upstream server cancelled the COPY: canceling statement due to user request");
}, 120_000);

test("an upstream role that may read only some columns: the refused COPY is named, with the fix, and the staging COPY it had opened is closed", async () => {
  // The count before the COPY needs one readable column; the COPY needs them all, and the server
  // refuses it before its first row, while the staging side's COPY is already open.
  const role = `${t.name}_cols`;
  await t.upstream.unsafe(`CREATE ROLE ${role} LOGIN PASSWORD 'cols'`);
  try {
    await t.upstream.unsafe(`GRANT SELECT (removed_from_source) ON image TO ${role}`);
    const upstreamUrl = new URL(t.upstreamUrl);
    upstreamUrl.username = role;
    upstreamUrl.password = "cols";
    const started = Date.now();
    const refresh = await t.sluiceWith({ UPSTREAM_DATABASE_URL: upstreamUrl.href }, "refresh", "image");
    // Before, the staging COPY was left open: the ROLLBACK waited behind it until the connections
    // were ended 5 s later, and its stream's error escaped unhandled.
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(refresh.code).toBe(1);
    const job = await lastJob(t, "image", "refresh");
    expect(job.state).toBe("failed");
    expect(job.error).toStartWith("the upstream server refused the COPY (42501): permission denied for table image");
    const [staging] = await t.api`select to_regclass(${`image__g${job.generation}`}) as t`;
    expect(staging!.t).toBeNull();
  } finally {
    await t.upstream.unsafe(`REVOKE ALL ON image FROM ${role}`);
    await t.upstream.unsafe(`DROP ROLE ${role}`);
  }
}, 120_000);

test("through PgBouncer, which refuses startup parameters: the same settings, sent as a query", async () => {
  const bouncer = Bun.spawnSync(["bash", "-c", ". scripts/_lib.sh; ensure_pgbouncer"], { cwd: root, stdout: "pipe", stderr: "pipe" });
  expect(bouncer.exitCode).toBe(0);
  const run = bouncer.stdout.toString().trim();
  const dir = mkdtempSync(join(tmpdir(), "sluice-pgbouncer-"));
  const server = new URL(serverUrl);
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  writeFileSync(
    join(dir, "pgbouncer.ini"),
    `[databases]
* = host=${server.hostname} port=${server.port || 5432} user=${decodeURIComponent(server.username)} password=${decodeURIComponent(server.password)}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
auth_type = any
pool_mode = session
unix_socket_dir =
logfile = ${dir}/pgbouncer.log
`,
  );
  chmodSync(dir, 0o777);
  // PgBouncer refuses to run as root: as the postgres OS user then (setpriv execs it, so the kill reaches it).
  const asPostgres = process.getuid?.() === 0 ? ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"] : [];
  const proc = Bun.spawn([...asPostgres, run, join(dir, "pgbouncer.ini")], { stdout: "pipe", stderr: "pipe" });
  try {
    let up = false;
    for (let i = 0; i < 50 && !up; i++) {
      up = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then((s) => (s.end(), true), () => false);
      if (!up) await Bun.sleep(100);
    }
    expect(up).toBe(true);
    const through = (db: string) => `postgres://${server.username}:x@127.0.0.1:${port}/${db}`;
    const { code } = await t.sluiceWith({ DATABASE_URL: through(t.name), UPSTREAM_DATABASE_URL: through(`${t.name}_up`) }, "run", "image", "--rebuild");
    const job = await lastJob(t, "image", "run");
    expect([code, job.error]).toEqual([0, null]);
    expect(job.generation).toBeGreaterThan(1);
  } finally {
    proc.kill();
    await proc.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
