/**
 * Issue 13, point 5: workers against a three-node Elasticsearch cluster that this file starts
 * (`scripts/services cluster up`, ports 9230-9232) and stops. A worker SIGKILLed mid-range, a node
 * killed mid-index, a worker that joins late; text keys throughout.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createTestEnvironment, spawnSluice, type TestEnvironment } from "./support/harness.ts";

const root = new URL("../", import.meta.url).pathname;
const clusterUrl = "http://127.0.0.1:9230";
let t: TestEnvironment;
let config = "";
const ROWS = 12_000;

function services(...args: string[]): { code: number; out: string } {
  const run = Bun.spawnSync(["bash", "scripts/services", "cluster", ...args], { cwd: root, stdout: "pipe", stderr: "pipe" });
  return { code: run.exitCode, out: run.stdout.toString() + run.stderr.toString() };
}

// Every 40th row waits a little, so that ranges take long enough to be caught mid-way.
const dataset = (name: string, replicas: number, settings = "", swap = "") =>
  `${name}: { source: { kind: "postgres", table: "words" }, table: { name: "${name}", key: "id", columns: { id: "text", title: "text" } },
    index: { batchDocuments: 100, concurrency: 1, body: { settings: { number_of_shards: 3, number_of_replicas: ${replicas}${settings} }, mappings: { properties: { id: { type: "keyword" }, title: { type: "text" } } } },
      toDocument: async (row) => { if (row.title.endsWith("0")) await Bun.sleep(8); return { id: row.id, title: row.title }; } }${swap} }`;

// Every copy of its shards held to one node: the replicas cannot be assigned, though the cluster has nodes for them.
const PINNED = (waitSeconds: number) => dataset("pinned", 1, ', "index.routing.allocation.include._name": "sluice-c0"', `, swap: { replicaWaitSeconds: ${waitSeconds} }`);

/** Whether the cluster answers as three nodes right now. */
async function clusterAnswers(): Promise<boolean> {
  const res = await fetch(`${clusterUrl}/_cluster/health`).catch(() => null);
  return res?.ok === true && ((await res.json()) as { number_of_nodes?: number }).number_of_nodes === 3;
}

beforeAll(async () => {
  let up = services("up");
  if (up.code !== 0) throw new Error(`the three-node cluster did not start:\n${up.out}`);
  // Once (CI, 2026-11-30) `up` reported the cluster ready and every request after it was refused; the
  // cause is unknown and the nodes' logs went with `down`. Say so with the script's state, then start it once more.
  if (!(await clusterAnswers())) {
    console.error(`the three-node cluster stopped answering right after \`up\`:\n${up.out}\n${services("status").out}`);
    services("down");
    up = services("up");
    if (up.code !== 0 || !(await clusterAnswers())) throw new Error(`the three-node cluster did not start:\n${up.out}\n${services("status").out}`);
  }
  t = await createTestEnvironment("cluster", { searchUrl: clusterUrl });
  if (!process.env.SLUICE_TEST_LOGS) process.env.SLUICE_LOG_LEVEL = "error";
  // bun test runs every file in one process: the level is put back in afterAll.
  config = `/tmp/${t.name}.config.ts`;
  await Bun.write(config, `import { defineConfig } from "sluice";
export default defineConfig({ datasets: { ${dataset("killed", 0)}, ${dataset("late", 0)}, ${dataset("nodes", 1, ', "index.unassigned.node_left.delayed_timeout": "0s"')}, ${PINNED(3)} } });\n`);
  await t.upstream.unsafe(`CREATE TABLE words (id text PRIMARY KEY, title text);
    INSERT INTO words SELECT md5(i::text) || CASE WHEN i % 7 = 0 THEN 'É' ELSE 'e' END, 'title ' || i FROM generate_series(1, ${ROWS}) i;`);
  expect((await t.sluice("migrate", "up")).code).toBe(0);
}, 300_000);

const levelBefore = process.env.SLUICE_LOG_LEVEL;
afterAll(async () => {
  if (levelBefore === undefined) delete process.env.SLUICE_LOG_LEVEL;
  else process.env.SLUICE_LOG_LEVEL = levelBefore;
  await t?.drop();
  services("down");
}, 120_000);

async function ranges(name: string) {
  return t.api`select * from sluice.index_ranges where dataset = ${name} order by range_no`;
}

async function esCount(index: string, query: unknown = { match_all: {} }): Promise<number> {
  await fetch(`${clusterUrl}/${index}/_refresh`, { method: "POST" });
  const res = await fetch(`${clusterUrl}/${index}/_count`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query }) });
  return ((await res.json()) as { count: number }).count;
}

/** Staging rows in [lower, upper) in byte order, counted by Postgres. */
async function stagingCount(table: string, lower: string | null, upper: string | null): Promise<number> {
  const [row] = await t.api.unsafe(
    `select count(*)::int as n from ${table} where ($1::text is null or id COLLATE "C" >= $1::text COLLATE "C") and ($2::text is null or id COLLATE "C" < $2::text COLLATE "C")`,
    [lower, upper],
  );
  return row!.n;
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, ms = 120_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(100);
  }
}

/** Each range's rows, and its documents in the index, equal what Postgres counts in its bounds. */
async function expectExact(name: string, index: string): Promise<void> {
  let read = 0;
  for (const r of await ranges(name)) {
    expect(r.state).toBe("done");
    const rows = await stagingCount(`${name}__g1`, r.lower_key, r.upper_key);
    expect(Number(r.rows_read)).toBe(rows);
    expect(Number(r.docs_sent)).toBe(rows);
    const bounds: Record<string, string> = {};
    if (r.lower_key !== null) bounds.gte = r.lower_key;
    if (r.upper_key !== null) bounds.lt = r.upper_key;
    expect(await esCount(index, { range: { id: bounds } })).toBe(rows);
    read += rows;
  }
  expect(read).toBe(ROWS);
  expect(await esCount(index)).toBe(ROWS);
}

test("three workers, one SIGKILLed mid-range: the range is leased again, finished, and the counts are exact", async () => {
  expect((await t.sluice("refresh", "killed", "--config", config)).code).toBe(0);
  const coordinator = t.sluice("index", "killed", "--config", config, "--workers", "3", "--fixed-workers", "--ranges", "9", "--lease", "4", "--json");
  // A worker past its first checkpoint in a range, but not done with it.
  const victim = await until("a range checkpointed mid-way", async () => {
    const [r] = await t.api`select range_no, holder from sluice.index_ranges where dataset = 'killed' and state = 'leased' and checkpoint_key is not null limit 1`;
    return r as { range_no: number; holder: string } | undefined;
  });
  const pid = Number(victim.holder.split(":")[1]);
  process.kill(pid, "SIGKILL");
  const { code, stdout } = await coordinator;
  expect(code).toBe(0);
  const [taken] = await t.api`select attempts, holder, checkpoint_key from sluice.index_ranges where dataset = 'killed' and range_no = ${victim.range_no}`;
  expect(taken!.attempts).toBeGreaterThanOrEqual(2);
  expect(taken!.holder).not.toBe(victim.holder);
  await expectExact("killed", `${t.indexPrefix}killed-g1`);
  expect(JSON.parse(stdout).steps[0].counters.written).toBe(ROWS);
}, 240_000);

test("a worker that joins after the others finished half the ranges takes its share", async () => {
  expect((await t.sluice("refresh", "late", "--config", config)).code).toBe(0);
  const coordinator = t.sluice("index", "late", "--config", config, "--workers", "1", "--ranges", "16", "--lease", "5");
  await until("half the ranges done", async () => {
    const [row] = await t.api`select count(*)::int as n from sluice.index_ranges where dataset = 'late' and state = 'done'`;
    return row!.n >= 8;
  });
  const late = spawnSluice(["index", "late", "--worker", "--config", config, "--json"], t.childEnv());
  const [lateCode, lateOut] = await Promise.all([late.exited, new Response(late.stdout).text()]);
  expect(lateCode).toBe(0);
  const report = JSON.parse(lateOut);
  expect((await coordinator).code).toBe(0);
  expect(report.ranges.length).toBeGreaterThan(0);
  const mine = (await ranges("late")).filter((r) => r.holder === report.holder).map((r) => r.range_no);
  expect(mine.sort()).toEqual([...report.ranges].sort());
  expect(Math.min(...mine)).toBeGreaterThan(8);
  await expectExact("late", `${t.indexPrefix}late-g1`);
}, 240_000);

test("the swap waits for the new index's replicas: refused while they cannot be placed, promoted once they have recovered", async () => {
  const run = await t.sluice("run", "pinned", "--config", config);
  expect(run.code).toBe(1);
  const [swap] = await t.api`select state, error from sluice.jobs where dataset = 'pinned' and stage = 'swap' order by id desc limit 1`;
  expect(swap!.state).toBe("failed");
  expect(swap!.error).toContain(`replicas not ready after 3 s (swap.replicaWaitSeconds): ${t.indexPrefix}pinned-g1 (3 unassigned)`);
  expect((await fetch(`${clusterUrl}/_alias/${t.indexPrefix}pinned`)).status).toBe(404);
  const [gen] = await t.api`select state from sluice.generations where dataset = 'pinned' and number = 1`;
  expect(gen!.state).toBe("ready");
  // The hold lifted: the replicas are assigned and recover from the primaries on the other nodes, and the swap waits for them.
  const lifted = await fetch(`${clusterUrl}/${t.indexPrefix}pinned-g1/_settings`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ "index.routing.allocation.include._name": null }) });
  expect(lifted.status).toBe(200);
  const patient = `/tmp/${t.name}.patient.config.ts`;
  await Bun.write(patient, `import { defineConfig } from "sluice";\nexport default defineConfig({ datasets: { ${PINNED(120)} } });\n`);
  expect((await t.sluice("swap", "pinned", "--config", patient)).code).toBe(0);
  const health = (await fetch(`${clusterUrl}/_cluster/health/${t.indexPrefix}pinned-g1?timeout=0s`).then((r) => r.json())) as { status: string; active_shards: number };
  expect(health).toMatchObject({ status: "green", active_shards: 6 });
  expect(Object.keys((await fetch(`${clusterUrl}/_alias/${t.indexPrefix}pinned`).then((r) => r.json())) as object)).toEqual([`${t.indexPrefix}pinned-g1`]);
}, 300_000);

test("a node killed mid-index, one replica: the run completes with exact counts or fails cleanly, production untouched", async () => {
  // Generation 1 goes live first: that is the production the second run must not disturb.
  expect((await t.sluice("run", "nodes", "--config", config, "--workers", "2", "--fixed-workers", "--lease", "5")).code).toBe(0);
  const aliasBefore = (await fetch(`${clusterUrl}/_alias/${t.indexPrefix}nodes`).then((r) => r.json())) as Record<string, unknown>;
  expect(Object.keys(aliasBefore)).toEqual([`${t.indexPrefix}nodes-g1`]);
  const run = t.sluice("run", "nodes", "--config", config, "--workers", "2", "--fixed-workers", "--lease", "5", "--rebuild");
  await until("the second generation half indexed", async () => {
    const [row] = await t.api`select coalesce(sum(rows_read), 0)::int as n from sluice.index_ranges where dataset = 'nodes' and generation = 2`;
    return row!.n > ROWS / 3;
  });
  expect(services("kill-node", "2").code).toBe(0);
  const { code } = await run;
  process.stderr.write(`node sluice-c2 killed mid-index: the run ${code === 0 ? "completed" : `failed (exit ${code})`}\n`);
  const alias = Object.keys((await fetch(`${clusterUrl}/_alias/${t.indexPrefix}nodes`).then((r) => r.json())) as Record<string, unknown>);
  if (code === 0) {
    expect(alias).toEqual([`${t.indexPrefix}nodes-g2`]);
    expect(await esCount(`${t.indexPrefix}nodes`)).toBe(ROWS);
    for (const r of await t.api`select * from sluice.index_ranges where dataset = 'nodes' and generation = 2`) {
      expect(r.state).toBe("done");
      expect(Number(r.docs_sent) - Number(r.docs_failed)).toBe(await stagingCount("nodes", r.lower_key, r.upper_key));
    }
  } else {
    expect(alias).toEqual([`${t.indexPrefix}nodes-g1`]);
    expect((await fetch(`${clusterUrl}/${t.indexPrefix}nodes-g2`)).status).toBe(404);
    const [open] = await t.api`select count(*)::int as n from sluice.index_ranges where dataset = 'nodes' and generation = 2 and state in ('pending', 'leased')`;
    expect(open!.n).toBe(0);
  }
}, 300_000);
