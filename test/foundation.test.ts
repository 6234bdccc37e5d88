/** Issue 2: migrations, schema checks, jobs, locks and the CLI's contract, against a real Postgres. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestEnvironment, spawnSluice, type TestEnvironment } from "./support/harness.ts";
import { EXPECTED_SCHEMA_VERSION } from "../src/migrate/index.ts";

let t: TestEnvironment;
beforeAll(async () => {
  t = await createTestEnvironment("foundation");
});
afterAll(async () => {
  await t.drop();
});

describe("migrations", () => {
  test("a stage on an unmigrated database names `migrate up` and exits 3", async () => {
    const stderr = await spawnSluice(["refresh", "image"], t.childEnv());
    const [code, text] = await Promise.all([stderr.exited, new Response(stderr.stderr).text()]);
    expect(code).toBe(3);
    expect(text).toContain("database is at migration 0; this binary needs");
    expect(text).toContain("sluice migrate up");
  });

  test("status lists everything as pending, and --exit-code says so", async () => {
    const { code, stdout } = await t.sluice("migrate", "status", "--exit-code");
    expect(code).toBe(3);
    expect(stdout.match(/pending/g)?.length).toBe(EXPECTED_SCHEMA_VERSION);
  });

  test("two concurrent `migrate up` apply each migration exactly once", async () => {
    const a = spawnSluice(["migrate", "up"], t.childEnv());
    const b = spawnSluice(["migrate", "up"], t.childEnv());
    const [ca, cb, ea, eb] = await Promise.all([a.exited, b.exited, new Response(a.stderr).text(), new Response(b.stderr).text()]);
    expect([ca, cb]).toEqual([0, 0]);
    const applied = `${ea}${eb}`.match(/Applied \d{4}_\w+\.sql/g) ?? [];
    expect(applied.length).toBe(EXPECTED_SCHEMA_VERSION);
    const rows = await t.api`select version from sluice.schema_migrations order by version`;
    expect(rows.map((r) => r.version)).toEqual(Array.from({ length: EXPECTED_SCHEMA_VERSION }, (_, i) => i + 1));
  });

  test("up, down --to 0, up round-trips and status shows each state", async () => {
    expect((await t.sluice("migrate", "status", "--exit-code")).code).toBe(0);
    expect((await t.sluice("migrate", "down")).code).toBe(0);
    const oneDown = await t.sluice("migrate", "status", "--json");
    const states = JSON.parse(oneDown.stdout).map((m: { state: string }) => m.state);
    expect(states.at(-1)).toBe("pending");
    expect(states.slice(0, -1).every((s: string) => s === "applied")).toBe(true);
    expect((await t.sluice("migrate", "down", "--to", "0")).code).toBe(0);
    const [schema] = await t.api`select count(*)::int as n from pg_namespace where nspname = 'sluice'`;
    expect(schema!.n).toBe(0);
    expect((await t.sluice("migrate", "up")).code).toBe(0);
    expect((await t.sluice("migrate", "status", "--exit-code")).code).toBe(0);
  });

  test("a tampered checksum is drift: status fails naming it, and up refuses", async () => {
    await t.api`update sluice.schema_migrations set checksum = 'tampered' where version = 1`;
    const status = await t.sluice("migrate", "status", "--exit-code");
    expect(status.code).toBe(3);
    expect(status.stdout).toMatch(/0001\s+jobs_and_generations\s+drifted/);
    expect((await t.sluice("migrate", "up")).code).toBe(3);
    expect((await t.sluice("job", "list")).code).toBe(3);
    const [row] = await t.api`select checksum from sluice.schema_migrations where version = 2`;
    await t.api`update sluice.schema_migrations set checksum = (select checksum from sluice.schema_migrations where version = 2) where version = 1`;
    expect(row).toBeDefined();
  });

  test("a database ahead of the binary is refused", async () => {
    await t.sluice("migrate", "down", "--to", "0");
    await t.sluice("migrate", "up");
    await t.api`insert into sluice.schema_migrations (version, name, checksum, applied_by) values (999, 'future', 'x', '9.9.9')`;
    const child = spawnSluice(["job", "list"], t.childEnv());
    const [code, text] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    expect(code).toBe(3);
    expect(text).toContain("use sluice 9.9.9 or newer");
    await t.api`delete from sluice.schema_migrations where version = 999`;
  });
});

describe("jobs", () => {
  test("set-state changes a job that show then shows; unknown states are refused", async () => {
    const [job] = await t.api`insert into sluice.jobs (dataset, stage, state, started_at, heartbeat_at) values ('image', 'refresh', 'running', now(), now()) returning id`;
    const id = String(job!.id);
    const set = await t.sluice("job", "set-state", "--job-id", id, "--state", "failed", "--task", "copy", "--task-percent", "40", "--exception", "disk full");
    expect(set.code).toBe(0);
    const shown = JSON.parse((await t.sluice("job", "show", id, "--json")).stdout);
    expect(shown).toMatchObject({ state: "failed", task: "copy", percent: 40, error: "disk full" });
    const bad = await t.sluice("job", "set-state", id, "--state", "exploded");
    expect(bad.code).toBe(2);
    const listed = JSON.parse((await t.sluice("job", "list", "--state", "failed", "--json")).stdout);
    expect(listed.map((j: { id: number }) => j.id)).toContain(Number(id));
  });

  test("a running job whose process is gone shows so, and the next run marks it failed", async () => {
    const [job] = await t.api`insert into sluice.jobs (dataset, stage, state, pid, started_at, heartbeat_at) values ('audio', 'refresh', 'running', 999999, now() - interval '1 hour', now() - interval '1 hour') returning id`;
    const shown = await t.sluice("job", "show", String(job!.id));
    expect(shown.stdout).toContain("running (process gone)");
    // The next run of the dataset takes the lock, so it knows the old job is dead.
    await t.sluice("refresh", "audio");
    const [after] = await t.api`select state, error from sluice.jobs where id = ${job!.id}`;
    expect(after!.state).toBe("failed");
    expect(after!.error).toContain("process died (pid 999999");
  });

  test("a second run of a locked dataset exits 4 naming the job that holds it", async () => {
    const holder = await t.api.reserve();
    await holder`select pg_advisory_lock(${0x51ce}, hashtext('image'))`;
    const [job] = await t.api`insert into sluice.jobs (dataset, stage, state, pid, host, started_at, heartbeat_at) values ('image', 'run', 'running', 4242, 'other-host', now(), now()) returning id`;
    const second = spawnSluice(["run", "image"], t.childEnv());
    const [code, text] = await Promise.all([second.exited, new Response(second.stderr).text()]);
    expect(code).toBe(4);
    expect(text).toContain(`dataset image is locked by job ${job!.id} (run, pid 4242 on other-host`);
    await holder`select pg_advisory_unlock(${0x51ce}, hashtext('image'))`;
    holder.release();
  });
});

describe("the command line", () => {
  test("--help lists every subcommand; --version names the migration", async () => {
    const help = await t.sluice("--help");
    for (const name of ["migrate", "refresh", "reload", "validate", "index", "swap", "run", "ingest", "job", "status"]) {
      expect(help.stdout).toContain(name);
    }
    expect((await t.sluice("--version")).stdout).toMatch(/^sluice \d+\.\d+\.\d+ \(database migration \d+\)/);
    expect((await t.sluice("swap", "--help")).stdout).toContain("$ sluice swap image --rollback");
  });

  test("bad input: one line, exit 2, no password", async () => {
    const child = spawnSluice(["status"], { ...t.childEnv(), DATABASE_URL: "postgres://postgres:hunter2secret@127.0.0.1:1/x" });
    const [code, text] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    expect(code).toBe(1);
    expect(text).toContain("cannot connect to DATABASE_URL (postgres://postgres:***@127.0.0.1:1/x): connection refused");
    expect(text).not.toContain("hunter2secret");
    const unknown = await t.sluice("refresh", "nope");
    expect(unknown.code).toBe(2);
    const badLimit = spawnSluice(["status"], { ...t.childEnv(), DATA_REFRESH_LIMIT: "lots" });
    expect(await badLimit.exited).toBe(2);
  });

  test("a bad config file names the key", async () => {
    const dir = `/tmp/${t.name}`;
    await Bun.write(`${dir}/sluice.config.ts`, `import { defineConfig } from "sluice";\nexport default defineConfig({ datasets: { photos: { source: { kind: "postgres", table: "p" }, table: {} } } });\n`);
    const child = spawnSluice(["status", "--config", `${dir}/sluice.config.ts`], t.childEnv());
    const [code, text] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    expect(code).toBe(2);
    expect(text).toContain("datasets.photos.table.key is required");
  });

  test("ingest of a bundle that is not there is a usage error", async () => {
    expect((await t.sluice("ingest", "bundle.tar")).code).toBe(2);
  });
});
