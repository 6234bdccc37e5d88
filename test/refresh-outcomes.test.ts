/**
 * Issue 9.5, honest outcomes of a refresh: failed rows past a tolerance fail it (production kept),
 * `run` reports its stages' skipped and failed rows, the default DATA_REFRESH_LIMIT says when it
 * cuts, and a cleaning rule that does not fit its column is a configuration error before any row
 * is read.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestEnvironment, spawnSluice, type TestEnvironment } from "./support/harness.ts";
import { lastJob, loadOpenverseSample } from "./support/openverse.ts";

let t: TestEnvironment;
let registry: ReturnType<typeof Bun.serve>;
const configs = new Map<string, string>();

/** A config file holding one dataset, `refresh` merged into it. */
async function configWith(name: string, dataset: string): Promise<string> {
  const path = `/tmp/${t.name}.${name}.config.ts`;
  await Bun.write(path, `import { defineConfig } from "sluice";\nexport default defineConfig({ datasets: { ${dataset} } });\n`);
  return path;
}

const dirty = (refresh: string) =>
  `dirty: { source: { kind: "postgres", table: "dirty" }, table: { key: "id", columns: { id: "integer", n: "integer" } }, index: false${refresh ? `, refresh: ${refresh}` : ""} }`;

async function child(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = spawnSluice(args, { ...t.childEnv(), ...env });
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  t = await createTestEnvironment("outcomes");
  await loadOpenverseSample(t, ["image"]);
  await t.upstream.unsafe(`
    CREATE TABLE dirty (id text, n text);
    INSERT INTO dirty SELECT i::text, i::text FROM generate_series(1, 17) i;
    INSERT INTO dirty VALUES ('18', 'x'), ('19', 'twenty'), ('20', '99999999999');
    CREATE TABLE allbad (id text, n text);
    INSERT INTO allbad VALUES ('1', 'x'), ('2', 'y'), ('3', 'z');
    CREATE TABLE arrays (id integer PRIMARY KEY, tags text[], width integer);
    INSERT INTO arrays SELECT i, ARRAY['cat', 'dog'], 640 FROM generate_series(1, 50) i;
    CREATE TABLE big (id bigint, title text);
    INSERT INTO big SELECT i, 'row ' || i FROM generate_series(1, 100010) i;`);
  registry = Bun.serve({
    port: 0,
    fetch(req) {
      const start = Number(new URL(req.url).searchParams.get("start"));
      const results = [
        { id: "a1", name: "org-a1", organization: { name: "org" }, resources: [{ url: "https://org.example/a1.xml", hash: "h1" }] },
        { id: "a2", name: "org-a2", organization: { name: "org" }, resources: [{ url: "https://org.example/a2.xml", hash: "h2" }] },
        { title: "a package without id or name" },
      ];
      return Response.json({ success: true, result: { count: results.length, results: start === 0 ? results : [] } });
    },
  });
  const docs = (refresh: string) =>
    `docs: { source: { kind: "registry", url: "http://127.0.0.1:${registry.port}/api/3/action" }, table: { key: "id" }, index: false${refresh ? `, refresh: ${refresh}` : ""} }`;
  for (const [name, dataset] of [
    ["strict", dirty("")],
    ["tolerant", dirty("{ maxFailedFraction: 0.2 }")],
    ["count2", dirty("{ maxFailures: 2 }")],
    ["count3", dirty("{ maxFailures: 3 }")],
    // The same rows under another name, so that no generation left by the tests above is resumed.
    ["noisy", `noisy: { source: { kind: "postgres", table: "dirty" }, table: { key: "id", columns: { id: "integer", n: "integer" } }, index: false, refresh: { maxFailedFraction: 0.2 } }`],
    ["allbad", `allbad: { source: { kind: "postgres", table: "allbad" }, table: { key: "id", columns: { id: "integer", n: "integer" } }, index: false, refresh: { maxFailedFraction: 1 } }`],
    ["docs", docs("")],
    ["docs-tolerant", docs("{ maxFailures: 1 }")],
    ["tags-array", `arrays: { source: { kind: "postgres", table: "arrays" }, table: { key: "id" }, clean: { tags: { denylist: ["dog"] } }, index: false }`],
    ["urls-int", `arrays: { source: { kind: "postgres", table: "arrays" }, table: { key: "id" }, clean: { urlColumns: ["width"] }, index: false }`],
    ["big", `big: { source: { kind: "postgres", table: "big" }, table: { key: "id" }, index: false }`],
  ] as const) {
    configs.set(name, await configWith(name, dataset));
  }
  expect((await t.sluice("migrate", "up")).code).toBe(0);
}, 60_000);
afterAll(async () => {
  registry?.stop(true);
  await t.drop();
}, 30_000);

const config = (name: string) => ["--config", configs.get(name)!];
const generations = async (dataset: string) =>
  (await t.api`select number, state from sluice.generations where dataset = ${dataset} order by number`).map((r) => `${r.number} ${r.state}`);
const tables = async (prefix: string) => (await t.api`select tablename from pg_tables where schemaname = 'public' and tablename like ${`${prefix}%`} order by 1`).map((r) => r.tablename as string);

describe("failed rows past the tolerance", () => {
  test("fail the refresh (exit 1, job failed, generation discarded) and leave production as it was", async () => {
    // 3 of 20 rows cannot be integers: within a 20% tolerance the run promotes the 17 good rows.
    expect((await t.sluice("run", "dirty", ...config("tolerant"))).code).toBe(0);
    expect(await generations("dirty")).toEqual(["1 live"]);

    // The default tolerance (1% of the rows read) refuses the same rows.
    const { code, stderr } = await child(["run", "dirty", ...config("strict")]);
    expect(code).toBe(1);
    const refresh = await lastJob(t, "dirty", "refresh");
    expect(refresh.state).toBe("failed");
    expect(refresh.counters).toMatchObject({ read: 20, written: 17, failed: { invalid_integer: 2, integer_out_of_range: 1 } });
    const line = `refresh of dirty failed: 3 of 20 rows read failed (15%, more than refresh.maxFailedFraction 1%): invalid_integer 2, integer_out_of_range 1 (job ${refresh.id}) (see sluice job show ${refresh.id} and sluice.row_failures; raise refresh.maxFailedFraction only if that loss is acceptable)`;
    expect(refresh.error).toBe(line);
    expect(stderr).toContain(line);
    expect((await lastJob(t, "dirty", "run")).state).toBe("failed");
    // Production untouched: generation 1 still live with its 17 rows; generation 2 and its staging gone.
    expect(await generations("dirty")).toEqual(["1 live", "2 discarded"]);
    expect(await tables("dirty")).toEqual(["dirty"]);
    const [live] = await t.api`select count(*)::int as n from dirty`;
    expect(live!.n).toBe(17);
    const listed = await t.api`select reason from sluice.row_failures where job_id = ${refresh.id}`;
    expect(listed.length).toBe(3);

    // The standalone refresh applies the same rule.
    expect((await t.sluice("refresh", "dirty", ...config("strict"))).code).toBe(1);
    expect((await lastJob(t, "dirty", "refresh")).error).toContain("3 of 20 rows read failed (15%");
    expect(await tables("dirty")).toEqual(["dirty"]);
  }, 60_000);

  test("refresh.maxFailures, when set, decides instead of the fraction", async () => {
    expect((await t.sluice("refresh", "dirty", ...config("count2"))).code).toBe(1);
    expect((await lastJob(t, "dirty", "refresh")).error).toContain("refresh of dirty failed: 3 of 20 rows read failed, more than refresh.maxFailures 2: invalid_integer 2, integer_out_of_range 1");
    expect((await t.sluice("refresh", "dirty", ...config("count3"))).code).toBe(0);
    expect((await lastJob(t, "dirty", "refresh")).state).toBe("succeeded");
  }, 60_000);

  test("a refresh that read rows and wrote none fails whatever the tolerance", async () => {
    expect((await t.sluice("run", "allbad", ...config("allbad"))).code).toBe(1);
    const refresh = await lastJob(t, "allbad", "refresh");
    expect(refresh.error).toStartWith("refresh of allbad failed: it read 3 rows and wrote none: 3 failed (invalid_integer 3)");
    expect(await generations("allbad")).toEqual(["1 discarded"]);
    expect(await tables("allbad")).toEqual([]);
  }, 60_000);

  test("a registry refresh holds its bad listings to the same tolerance", async () => {
    expect((await t.sluice("refresh", "docs", ...config("docs"))).code).toBe(1);
    const refresh = await lastJob(t, "docs", "refresh");
    expect(refresh.error).toContain("refresh of docs failed: 1 of 3 rows read failed (33.33%, more than refresh.maxFailedFraction 1%): missing_id 1");
    expect(await tables("docs")).toEqual([]);
    expect((await t.sluice("refresh", "docs", ...config("docs-tolerant"))).code).toBe(0);
    expect((await lastJob(t, "docs", "refresh")).counters).toMatchObject({ read: 3, written: 2, failed: { missing_id: 1 } });
  }, 60_000);
});

describe("the run summary", () => {
  test("carries the refresh's skipped rows, in the plain summary, --json and the run's job", async () => {
    const plain = await t.sluice("run", "image");
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain("image g1 run: read 1,899 · written 1,374 · skipped 525 (refresh.removed_from_source 525) · failed 0\n");
    const run = await lastJob(t, "image", "run");
    expect(run.counters).toMatchObject({ read: 1899, written: 1374, skipped: { "refresh.removed_from_source": 525 }, failed: {} });
    expect((await t.sluice("job", "show", String(run.id))).stdout).toContain("skipped 525 (refresh.removed_from_source 525)");

    const json = await t.sluice("run", "image", "--json");
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report.totals).toEqual({ read: 1899, written: 1374, skipped: { "refresh.removed_from_source": 525 }, failed: {} });
    expect(report.steps[0].counters.skipped).toEqual({ removed_from_source: 525 });
  }, 120_000);

  test("carries the refresh's failed rows and their reasons", async () => {
    const plain = await t.sluice("run", "noisy", ...config("noisy"));
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/^noisy g1 run: read 20 · written 17 · skipped 0 · failed 3 \(refresh\.invalid_integer 2, refresh\.integer_out_of_range 1\)$/m);
    const report = JSON.parse((await t.sluice("run", "noisy", "--json", ...config("noisy"))).stdout);
    expect(report.totals.failed).toEqual({ "refresh.invalid_integer": 2, "refresh.integer_out_of_range": 1 });
    expect((await lastJob(t, "noisy", "run")).counters.failed).toEqual({ "refresh.invalid_integer": 2, "refresh.integer_out_of_range": 1 });
  }, 60_000);
});

describe("the default DATA_REFRESH_LIMIT", () => {
  const defaultWarning =
    "DATA_REFRESH_LIMIT is not set, so this test refresh copies at most 100,000 rows (the default outside production): 10 of 100,010 rows of big left out (over_refresh_limit); set DATA_REFRESH_LIMIT=0 or ENVIRONMENT=production to copy every row";

  test("says when it cuts a refresh, at the start and in the summary", async () => {
    // "" is unset: the default applies (ENVIRONMENT is "test").
    const { code, stdout, stderr } = await child(["refresh", "big", ...config("big")], { DATA_REFRESH_LIMIT: "" });
    expect(code).toBe(0);
    const warned = stderr.indexOf(defaultWarning);
    expect(warned).toBeGreaterThan(-1);
    expect(warned).toBeLessThan(stderr.indexOf("copying 100,000 rows"));
    expect(stdout).toContain(`warning: ${defaultWarning}\n`);
    expect((await lastJob(t, "big", "refresh")).counters).toMatchObject({ read: 100010, written: 100000, skipped: { over_refresh_limit: 10 } });

    const json = JSON.parse((await t.sluiceWith({ DATA_REFRESH_LIMIT: "" }, "refresh", "big", "--json", ...config("big"))).stdout);
    expect(json.warnings).toEqual([defaultWarning]);
    expect(json.steps[0].warnings).toEqual([defaultWarning]);
  }, 120_000);

  test("an explicit limit that cuts says so too; no limit, or production, says nothing", async () => {
    const explicit = JSON.parse((await t.sluiceWith({ DATA_REFRESH_LIMIT: "5" }, "refresh", "big", "--json", ...config("big"))).stdout);
    expect(explicit.warnings).toEqual(["DATA_REFRESH_LIMIT=5 caps this refresh: 100,005 of 100,010 rows of big left out (over_refresh_limit); set DATA_REFRESH_LIMIT=0 to copy every row"]);
    for (const env of [{ DATA_REFRESH_LIMIT: "0" }, { DATA_REFRESH_LIMIT: "", ENVIRONMENT: "production" }] as Record<string, string>[]) {
      const { code, stdout } = await t.sluiceWith(env, "refresh", "big", ...config("big"));
      expect(code).toBe(0);
      expect(stdout).not.toContain("warning:");
      expect((await lastJob(t, "big", "refresh")).counters).toMatchObject({ read: 100010, written: 100010, skipped: {} });
    }
  }, 120_000);
});

describe("a cleaning rule that does not fit its column", () => {
  test("tag cleaning on a text[] column is a configuration error before any row is read", async () => {
    const { code, stderr } = await child(["refresh", "arrays", ...config("tags-array")]);
    expect(code).toBe(2);
    expect(stderr).toContain(
      "datasets.arrays.clean.tags cleans column tags, which is text[] upstream; tag cleaning needs a jsonb column (a JSON list of tags) (copy the tags as jsonb, or turn tag cleaning off with clean: { tags: false })",
    );
    // Nothing was started: no generation, no staging table, no refresh job counting failed rows.
    expect(await generations("arrays")).toEqual([]);
    expect(await tables("arrays")).toEqual([]);
    expect((await t.api`select count(*)::int as n from sluice.jobs where dataset = 'arrays'`)[0]!.n).toBe(0);

    expect((await t.sluice("run", "arrays", ...config("tags-array"))).code).toBe(2);
    const run = await lastJob(t, "arrays", "run");
    expect(run.state).toBe("failed");
    expect(run.error).toContain("datasets.arrays.clean.tags cleans column tags, which is text[] upstream");
    expect(run.counters).toMatchObject({ read: 0, written: 0, failed: {} });
    expect(await lastJob(t, "arrays", "refresh")).toBeUndefined();
    expect(await generations("arrays")).toEqual([]);
    expect(await tables("arrays")).toEqual([]);
  }, 60_000);

  test("URL cleaning on an integer column is a configuration error too", async () => {
    const { code, stderr } = await child(["refresh", "arrays", ...config("urls-int")]);
    expect(code).toBe(2);
    expect(stderr).toContain("datasets.arrays.clean.urlColumns names column width, which is integer; URL cleaning needs a text column (text or varchar) (remove width from clean.urlColumns)");
    expect(await generations("arrays")).toEqual([]);
  }, 60_000);
});
