/**
 * Issue 13, points 1–3: the index stage cut into leased key ranges, worked by several processes,
 * with exact accounting: keys on every boundary, rows inserted into staging's key space after the
 * split (before any worker runs), ranges of one row, text keys in byte order, failed documents
 * counted in their own range, and `sluice job show` per range and per worker.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createTestEnvironment, elasticsearchUrl, spawnSluice, type TestEnvironment } from "./support/harness.ts";
import { startEsProxy } from "./support/es-proxy.ts";
import { elasticsearchProxy } from "./support/search-proxy.ts";

let t: TestEnvironment;
let config = "";

const plainDocument = "(row) => ({ id: row.id, title: row.title, n: row.n })";
const dataset = (name: string, keyType: string, mapping: string, extra = "", toDocument = plainDocument, settings = "") =>
  `${name}: { source: { kind: "postgres", table: "${name}" }, table: { key: "id", columns: { id: "${keyType}", title: "text", n: "text" } },
    index: { batchDocuments: 40, concurrency: 2, maxFailures: 1000, body: { ${settings}mappings: { properties: { id: { type: "${mapping}" }, title: { type: "text" }, n: { type: "integer" } } } },
      toDocument: ${toDocument} ${extra} } }`;

// A body the test cluster (no mapper-extras module) takes only degraded: rank_feature becomes a number.
const ranked = `ranked: { source: { kind: "postgres", table: "hosts" }, table: { name: "ranked", key: "id", columns: { id: "integer", title: "text", n: "text" } },
    index: { batchDocuments: 250, concurrency: 2, degrade: ["ranking"], body: { mappings: { properties: { id: { type: "long" }, title: { type: "text" }, rank: { type: "rank_feature" } } } },
      toDocument: (row) => ({ id: row.id, title: row.title, rank: 1 + row.id }) } }`;

// Small batches against a slowed Elasticsearch: the rate is bound by requests in flight, so a second worker raises it.
const slow = `slow: { source: { kind: "postgres", table: "slow" }, table: { key: "id", columns: { id: "integer", title: "text", n: "text" } },
    index: { batchDocuments: 100, concurrency: 4, body: { mappings: { properties: { id: { type: "long" }, title: { type: "text" }, n: { type: "integer" } } } },
      toDocument: ${plainDocument} } }`;

// A projection (no toDocument): each range's rows go to JSON straight from COPY text, numbers with PostgreSQL's digits.
const words = `words: { source: { kind: "postgres", table: "words" }, table: { key: "id", columns: { id: "text", title: "text", n: "text", score: "numeric" } },
    index: { batchDocuments: 40, concurrency: 2, maxFailures: 1000, body: { mappings: { properties: { id: { type: "keyword" }, title: { type: "text" }, n: { type: "integer" } } } } } }`;

// Large enough batches that the last requests of a range are still in flight when its reading ends.
const piped = `piped: { source: { kind: "postgres", table: "hosts" }, table: { name: "piped", key: "id", columns: { id: "integer", title: "text", n: "text" } },
    index: { batchDocuments: 100, concurrency: 2, body: { mappings: { properties: { id: { type: "long" }, title: { type: "text" }, n: { type: "integer" } } } },
      toDocument: (row) => ({ id: row.id, title: row.title.repeat(50), n: row.n }) } }`;

beforeAll(async () => {
  t = await createTestEnvironment("scaleout");
  // The workers are child processes: quiet unless asked.
  if (!process.env.SLUICE_TEST_LOGS) process.env.SLUICE_LOG_LEVEL = "error";
  // bun test runs every file in one process: the level is put back in afterAll.
  config = `/tmp/${t.name}.config.ts`;
  await Bun.write(config, `import { defineConfig } from "sluice";
export default defineConfig({ datasets: { ${ranked}, ${piped}, ${slow}, ${dataset("orphan", "integer", "long", "", "async (row) => { if (row.id % 20 === 0) await Bun.sleep(10); return { id: row.id, title: row.title, n: row.n }; }")}, ${dataset("hosts", "integer", "long")}, ${dataset("nums", "integer", "long")}, ${dataset("ones", "integer", "long", "", plainDocument, 'settings: { index: { number_of_replicas: 1, refresh_interval: "7s" } }, ')}, ${dataset("twinned", "integer", "long", ', filtered: { terms: ["row"], fields: ["title"] }')}, ${words} } });\n`);
  await t.upstream.unsafe(`
    CREATE TABLE nums (id integer PRIMARY KEY, title text, n text);
    -- Keys are multiples of 10, so rows can be put between them later; every 100th row's n does not parse.
    INSERT INTO nums SELECT i * 10, 'row ' || i, CASE WHEN i % 100 = 0 THEN 'bad' ELSE i::text END FROM generate_series(1, 2000) i;
    CREATE TABLE orphan (id integer PRIMARY KEY, title text, n text);
    INSERT INTO orphan SELECT i, 'orphan row ' || i, i::text FROM generate_series(1, 6000) i;
    CREATE TABLE slow (id integer PRIMARY KEY, title text, n text);
    INSERT INTO slow SELECT i, 'slow row ' || i, i::text FROM generate_series(1, 12000) i;
    CREATE TABLE hosts (id integer PRIMARY KEY, title text, n text);
    INSERT INTO hosts SELECT i, 'host row ' || i, i::text FROM generate_series(1, 3000) i;
    CREATE TABLE twinned (id integer PRIMARY KEY, title text, n text);
    INSERT INTO twinned SELECT i, 'twinned row ' || i, i::text FROM generate_series(1, 50) i;
    CREATE TABLE ones (id integer PRIMARY KEY, title text, n text);
    INSERT INTO ones SELECT i, 'one ' || i, i::text FROM generate_series(1, 5) i;
    CREATE TABLE words (id text PRIMARY KEY, title text, n text, score numeric DEFAULT 1.50);
    -- Keys whose order differs between byte order and a language's collation, and many more.
    INSERT INTO words VALUES ('a', 'x', '1'), ('B', 'x', '1'), ('b', 'x', '1'), ('Z', 'x', '1'), ('é', 'x', '1'), ('É', 'x', '1'), ('e', 'x', '1'),
      ('a b', 'x', '1'), ('ab', 'x', '1'), ('10', 'x', '1'), ('9', 'x', '1'), ('_x', 'x', '1'), ('ä', 'x', '1'), ('😀', 'x', '1'), ('~', 'x', '1');
    INSERT INTO words SELECT md5(i::text) || CASE WHEN i % 3 = 0 THEN 'Ä' ELSE 'a' END, 'w', i::text FROM generate_series(1, 1500) i;`);
  expect((await t.sluice("migrate", "up")).code).toBe(0);
}, 60_000);

const levelBefore = process.env.SLUICE_LOG_LEVEL;
afterAll(async () => {
  if (levelBefore === undefined) delete process.env.SLUICE_LOG_LEVEL;
  else process.env.SLUICE_LOG_LEVEL = levelBefore;
  await t.drop();
}, 120_000);

async function ranges(name: string) {
  return t.api`select * from sluice.index_ranges where dataset = ${name} order by range_no`;
}

/** Rows of staging in [lower, upper), counted by Postgres on its own (text keys in byte order). */
async function stagingCount(table: string, cast: "int" | "text", lower: string | null, upper: string | null, extra = "true"): Promise<number> {
  const key = cast === "text" ? `id COLLATE "C"` : "id";
  const bound = (v: string) => (cast === "text" ? `'${v.replace(/'/g, "''")}' COLLATE "C"` : String(Number(v)));
  const where = [lower === null ? "true" : `${key} >= ${bound(lower)}`, upper === null ? "true" : `${key} < ${bound(upper)}`, extra].join(" and ");
  const [row] = await t.api.unsafe(`select count(*)::int as n from ${table} where ${where}`);
  return row!.n;
}

async function esCount(index: string, query: unknown = { match_all: {} }): Promise<number> {
  await fetch(`${elasticsearchUrl}/${index}/_refresh`, { method: "POST" });
  const res = await fetch(`${elasticsearchUrl}/${index}/_count`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query }) });
  return ((await res.json()) as { count: number }).count;
}

describe("ranges cover staging exactly", () => {
  test("integer keys: every boundary a key, rows put between ranges after the split, failures in their own range", async () => {
    expect((await t.sluice("refresh", "nums", "--config", config)).code).toBe(0);
    // Fires in the transaction that records the ranges, so before any worker can claim one: a row
    // below every range, one above, and one just below each cut (inside the range before it).
    await t.api.unsafe(`
      CREATE FUNCTION put_rows_between() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.dataset <> 'nums' THEN RETURN NEW; END IF;
        IF NEW.lower_key IS NULL THEN INSERT INTO nums__g1 VALUES (-5, 'below', '1'); ELSE INSERT INTO nums__g1 VALUES (NEW.lower_key::int - 5, 'between', '1'); END IF;
        IF NEW.upper_key IS NULL THEN INSERT INTO nums__g1 VALUES (1000000, 'above', 'bad'); END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER put_rows_between AFTER INSERT ON sluice.index_ranges FOR EACH ROW EXECUTE FUNCTION put_rows_between();`);
    const { code, stdout } = await t.sluice("index", "nums", "--config", config, "--workers", "2", "--fixed-workers", "--ranges", "7", "--lease", "5", "--json");
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    const rows = await ranges("nums");
    expect(rows).toHaveLength(7);
    const total = await stagingCount("nums__g1", "int", null, null);
    expect(total).toBe(2000 + 7 + 1);
    const bad = await stagingCount("nums__g1", "int", null, null, "n = 'bad'");
    expect(bad).toBe(21);
    const index = `${t.indexPrefix}nums-g1`;
    for (const r of rows) {
      expect(r.state).toBe("done");
      // Each cut is a key of staging, read in the range it starts and in no other.
      if (r.lower_key !== null) expect(await stagingCount("nums__g1", "int", r.lower_key, r.lower_key === null ? null : String(Number(r.lower_key) + 1))).toBe(1);
      expect(Number(r.rows_read)).toBe(await stagingCount("nums__g1", "int", r.lower_key, r.upper_key));
      expect(Number(r.docs_failed)).toBe(await stagingCount("nums__g1", "int", r.lower_key, r.upper_key, "n = 'bad'"));
      expect(Number(r.docs_sent)).toBe(Number(r.rows_read));
      const range: Record<string, number> = {};
      if (r.lower_key !== null) range.gte = Number(r.lower_key);
      if (r.upper_key !== null) range.lt = Number(r.upper_key);
      expect(await esCount(index, { range: { id: range } })).toBe(Number(r.docs_sent) - Number(r.docs_failed));
    }
    expect(await esCount(index)).toBe(total - bad);
    const counters = report.steps[0].counters;
    expect(counters.read).toBe(total);
    expect(counters.written).toBe(total - bad);
    expect(counters.failed.mapper_parsing_exception ?? counters.failed.document_parsing_exception).toBe(bad);
    // Two workers (or a worker and the coordinator) shared the ranges, and job show says who did what.
    const shown = JSON.parse((await t.sluice("job", "show", String(report.steps[0].job), "--json")).stdout);
    expect(shown.ranges).toHaveLength(7);
    expect(shown.workers.reduce((n: number, w: { done: number }) => n + w.done, 0)).toBe(7);
    expect(shown.workers.reduce((n: number, w: { read: number }) => n + w.read, 0)).toBe(total);
    const text = (await t.sluice("job", "show", String(report.steps[0].job))).stdout;
    expect(text).toContain("ranges:");
    expect(text).toContain("workers:");
    await t.api.unsafe("DROP TRIGGER put_rows_between ON sluice.index_ranges");
    // Only now may swap go ahead.
    expect((await t.sluice("swap", "nums", "--config", config, "--force")).code).toBe(0);
  }, 120_000);

  test("ranges of one row", async () => {
    expect((await t.sluice("refresh", "ones", "--config", config)).code).toBe(0);
    const { code } = await t.sluice("index", "ones", "--config", config, "--workers", "2", "--fixed-workers", "--ranges", "5", "--lease", "5");
    expect(code).toBe(0);
    const rows = await ranges("ones");
    expect(rows.map((r) => [r.lower_key, r.upper_key, Number(r.rows_read), r.state])).toEqual([
      [null, "2", 1, "done"],
      ["2", "3", 1, "done"],
      ["3", "4", 1, "done"],
      ["4", "5", 1, "done"],
      ["5", null, 1, "done"],
    ]);
    expect(await esCount(`${t.indexPrefix}ones-g1`)).toBe(5);
    // The body's replicas (kept while workers load) and refresh interval, written as Openverse's body writes them (settings.index).
    const settings = ((await (await fetch(`${elasticsearchUrl}/${t.indexPrefix}ones-g1/_settings?flat_settings=true`)).json()) as any)[`${t.indexPrefix}ones-g1`].settings;
    expect([settings["index.number_of_replicas"], settings["index.refresh_interval"]]).toEqual(["1", "7s"]);
    // Indexed again (the generation is ready now): the worker processes join at once, not only the coordinator.
    const again = await t.sluice("index", "ones", "--config", config, "--workers", "2", "--fixed-workers", "--ranges", "5", "--lease", "5");
    expect(again.code).toBe(0);
    const holders = (await ranges("ones")).map((r) => Number(String(r.holder).split(":")[1]));
    expect(holders.some((pid) => pid !== process.pid)).toBe(true);
    expect(await esCount(`${t.indexPrefix}ones-g1`)).toBe(5);
  }, 60_000);

  test("the coordinator's closing calls (the workers' alias, settings, refresh, counts) are tried again when the node cuts them", async () => {
    const proxy = startEsProxy();
    try {
      proxy.cutNext(/^POST \/_aliases[\s?]/, 1);
      proxy.cutNext(/^PUT \/[^/\s?]*-ones-g\d+\/_settings[\s?]/, 1);
      proxy.cutNext(/^(GET|POST) \/[^/\s?]*-ones-g\d+\/_refresh[\s?]/, 1);
      proxy.cutNext(/^(GET|POST) \/[^/\s?]*-ones-g\d+\/_search[\s?]/, 1);
      proxy.cutNext(/^(GET|POST) \/[^/\s?]*-ones-g\d+\/_count[\s?]/, 1);
      const { code } = await t.sluiceWith({ ELASTICSEARCH_URL: proxy.url }, "index", "ones", "--config", config, "--workers", "2", "--fixed-workers", "--ranges", "5", "--lease", "5");
      // Before, the first cut ended the command after every range was loaded: "cannot … ELASTICSEARCH_URL …: socket hang up".
      expect(proxy.cuts).toBe(5);
      expect(code).toBe(0);
      expect(await esCount(`${t.indexPrefix}ones-g1`)).toBe(5);
      const aliases = (await (await fetch(`${elasticsearchUrl}/${t.indexPrefix}ones-g1/_alias`)).json()) as Record<string, { aliases: Record<string, unknown> }>;
      expect(Object.keys(aliases[`${t.indexPrefix}ones-g1`]!.aliases).filter((a) => a.includes("workers"))).toEqual([]);
    } finally {
      proxy.stop();
    }
  }, 60_000);

  test("text keys, cut and read in byte order, through run --workers (a projection dataset)", async () => {
    const { code, stdout } = await t.sluice("run", "words", "--config", config, "--workers", "2", "--ranges", "6", "--lease", "5", "--json");
    expect(code).toBe(0);
    expect(JSON.parse(stdout).outcome).toBe("promoted");
    const rows = await ranges("words");
    expect(rows).toHaveLength(6);
    let read = 0;
    for (const r of rows) {
      expect(Number(r.rows_read)).toBe(await stagingCount("words", "text", r.lower_key, r.upper_key));
      const range: Record<string, string> = {};
      if (r.lower_key !== null) range.gte = r.lower_key;
      if (r.upper_key !== null) range.lt = r.upper_key;
      expect(await esCount(`${t.indexPrefix}words`, { range: { id: range } })).toBe(Number(r.rows_read));
      read += Number(r.rows_read);
    }
    expect(read).toBe(1515);
    expect(await esCount(`${t.indexPrefix}words`)).toBe(1515);
    // _source keeps the bytes sent: the projection's numeric as PostgreSQL wrote it (a row object would give 1.5).
    const source = await (await fetch(`${elasticsearchUrl}/${t.indexPrefix}words/_doc/${encodeURIComponent("é")}`)).text();
    expect(source).toContain(`"_source":{"id":"é","title":"x","n":"1","score":1.50}`);
  }, 120_000);
});

test("deploy/ssh/sluice-index-hosts.sh: a worker per host over ssh, the coordinator here, then swap", async () => {
  // ssh to each host runs its command on this machine; `sluice` is this checkout.
  const root = new URL("../", import.meta.url).pathname;
  const bin = `/tmp/${t.name}-bin`;
  mkdirSync(bin, { recursive: true });
  writeFileSync(`${bin}/ssh`, `#!/bin/sh\nwhile [ "$1" = -o ]; do shift 2; done\nshift\nexec sh -c "$*"\n`);
  writeFileSync(`${bin}/sluice`, `#!/bin/sh\nexec bun ${root}src/cli.ts "$@"\n`);
  chmodSync(`${bin}/ssh`, 0o755);
  chmodSync(`${bin}/sluice`, 0o755);
  const child = Bun.spawn(["sh", `${root}deploy/ssh/sluice-index-hosts.sh`, "hosts"], {
    env: { ...t.childEnv(), PATH: `${bin}:${process.env.PATH}`, SLUICE_HOSTS: "w1 w2", SLUICE_REMOTE_ENV: "/nonexistent", SLUICE_CONFIG: config },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, err] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  expect(err).not.toContain("exited with");
  expect(code).toBe(0);
  const rows = await ranges("hosts");
  expect(rows.every((r) => r.state === "done")).toBe(true);
  expect(rows.reduce((n, r) => n + Number(r.rows_read), 0)).toBe(3000);
  expect(await esCount(`${t.indexPrefix}hosts`)).toBe(3000);
}, 120_000);

test("a worker that outlives its SIGKILLed coordinator never recreates the deleted index", async () => {
  expect((await t.sluice("refresh", "orphan", "--config", config)).code).toBe(0);
  const index = `${t.indexPrefix}orphan-g1`;
  const coordinator = spawnSluice(["index", "orphan", "--config", config, "--workers", "1", "--ranges", "2", "--lease", "30"], t.childEnv());
  // Read, so that the orphaned worker (which inherited the coordinator's stderr) never blocks writing to it.
  const output = new Response(coordinator.stderr).text();
  let worker = 0;
  try {
    // The local worker is writing: a range of its own has a checkpoint.
    const deadline = Date.now() + 60_000;
    while (!worker && Date.now() < deadline) {
      const [r] = await t.api`select holder from sluice.index_ranges where dataset = 'orphan' and state = 'leased' and rows_read > 0 limit 1`;
      const pid = r ? Number(String(r.holder).split(":")[1]) : 0;
      if (pid && pid !== coordinator.pid) worker = pid;
      else await Bun.sleep(50);
    }
    expect(worker).toBeGreaterThan(0);
    // The coordinator dies without a word, and its generation's index is deleted (as the next run's clean-up does).
    coordinator.kill("SIGKILL");
    await coordinator.exited;
    expect((await fetch(`${elasticsearchUrl}/${index}`, { method: "DELETE" })).status).toBe(200);
    // The orphaned worker's next write is refused and it stops: no index of that name comes back.
    const gone = Date.now() + 30_000;
    while (alive(worker) && Date.now() < gone) await Bun.sleep(100);
    expect((await fetch(`${elasticsearchUrl}/${index}`)).status).toBe(404);
    expect(alive(worker)).toBe(false);
    expect(await output).toContain("is gone");
    expect((await t.api`select state from sluice.index_ranges where dataset = 'orphan' and holder like ${`%:${worker}:%`}`).map((r) => r.state)).toContain("failed");
  } finally {
    coordinator.kill("SIGKILL");
    if (worker && alive(worker)) process.kill(worker, "SIGKILL");
    await fetch(`${elasticsearchUrl}/${index}`, { method: "DELETE" });
  }
}, 120_000);

/** Running, and not a zombie waiting for a reaper (an orphan's parent here may not reap it soon). */
function alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

test("workers join a generation whose index body was fitted to the cluster (degraded), as the coordinator does", async () => {
  expect((await t.sluice("refresh", "ranked", "--config", config)).code).toBe(0);
  const { code } = await t.sluice("index", "ranked", "--config", config, "--workers", "2", "--fixed-workers", "--ranges", "6", "--lease", "5");
  expect(code).toBe(0);
  // Worker processes did ranges, not only the coordinator (this process) after they failed to start.
  const holders = (await t.api`select holder from sluice.index_ranges where dataset = 'ranked'`).map((r) => Number(String(r.holder).split(":")[1]));
  expect(holders.filter((pid) => pid !== process.pid).length).toBeGreaterThan(0);
  expect(await esCount(`${t.indexPrefix}ranked-g1`)).toBe(3000);
}, 120_000);

test("a worker claims its next range while the last requests of the one before are in flight, and marks each done only once answered", async () => {
  expect((await t.sluice("refresh", "piped", "--config", config)).code).toBe(0);
  expect((await t.sluice("index", "piped", "--config", config, "--workers", "1", "--ranges", "8", "--lease", "10")).code).toBe(0);
  const rows = await t.api`select range_no, holder, started_at, finished_at, rows_read from sluice.index_ranges where dataset = 'piped' order by started_at`;
  expect(rows.every((r) => r.finished_at !== null)).toBe(true);
  // One worker's consecutive ranges overlap: the next was leased before the one before was done.
  const byHolder = Map.groupBy(rows, (r) => r.holder as string);
  const overlaps = [...byHolder.values()].flatMap((own) => own.slice(1).filter((next, i) => next.started_at < own[i]!.finished_at));
  expect(overlaps.length).toBeGreaterThan(0);
  expect(rows.reduce((n, r) => n + Number(r.rows_read), 0)).toBe(3000);
  expect(await esCount(`${t.indexPrefix}piped-g1`)).toBe(3000);
}, 120_000);

test("--workers N adds a local worker while it raises the rate, and the counts stay exact", async () => {
  // Every _bulk answered half a second late: one worker's rate is its requests in flight, and a
  // second worker's requests add to it, while the node itself stays idle.
  const proxy = elasticsearchProxy(async () => {
    await Bun.sleep(500);
    return null;
  });
  try {
    expect((await t.sluice("refresh", "slow", "--config", config)).code).toBe(0);
    const child = spawnSluice(["index", "slow", "--config", config, "--workers", "2", "--ranges", "8", "--lease", "10"], {
      ...t.childEnv(),
      ELASTICSEARCH_URL: `http://127.0.0.1:${proxy.port}`,
      SLUICE_LOG_LEVEL: "info",
    });
    const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    if (code !== 0) console.error(stderr);
    expect(code).toBe(0);
    expect(stderr).toMatch(/1 local worker: [\d,]+ docs\/s; adding another/);
    const holders = new Set((await ranges("slow")).map((r) => r.holder as string));
    expect(holders.size).toBeGreaterThanOrEqual(2);
    let read = 0;
    for (const r of await ranges("slow")) {
      expect(r.state).toBe("done");
      const rows = await stagingCount("slow__g1", "int", r.lower_key, r.upper_key);
      expect(Number(r.rows_read)).toBe(rows);
      read += rows;
    }
    expect(read).toBe(12_000);
    expect(await esCount(`${t.indexPrefix}slow-g1`)).toBe(12_000);
  } finally {
    proxy.stop(true);
  }
}, 120_000);

test("run --workers refuses a dataset with a filtered twin before its refresh runs, not after", async () => {
  const { code } = await t.sluice("run", "twinned", "--config", config, "--workers", "2");
  expect(code).toBe(1);
  // Before, the refusal came at the index stage, after a whole refresh (hours, on a real catalog).
  expect(await t.api`select stage from sluice.jobs where dataset = 'twinned' and stage <> 'run'`).toHaveLength(0);
  expect(await t.api`select number from sluice.generations where dataset = 'twinned'`).toHaveLength(0);
  const index = await t.sluice("index", "twinned", "--config", config, "--workers", "2");
  expect(index.code).toBe(1);
  expect(await t.api`select number from sluice.generations where dataset = 'twinned'`).toHaveLength(0);
  // Without --workers the same dataset runs, twin and all.
  expect((await t.sluice("run", "twinned", "--config", config)).code).toBe(0);
}, 60_000);
