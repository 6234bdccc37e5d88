/**
 * Issue 3's fault tests: Elasticsearch gone mid-index, the upstream connection dropped mid-copy,
 * SIGKILL and SIGTERM mid-stage, bad rows, Slack down or slow, and readers during a swap. Each
 * asserts that the live table and alias are unchanged and that the next run succeeds.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { aliasIndices, createTestEnvironment, elasticsearchUrl, searchCount, serverUrl, spawnSluice, type TestEnvironment } from "./support/harness.ts";
import { growUpstreamImages, lastJob, loadOpenverseSample } from "./support/openverse.ts";

let t: TestEnvironment;
let liveCount = 0;


/** The child's exit code and stderr; a child still running after 60 s is killed and its stderr shown. */
async function exitOf(child: ReturnType<typeof spawnSluice>): Promise<[number, string]> {
  const stderr = new Response(child.stderr).text();
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const code = await child.exited;
  clearTimeout(timer);
  const text = await stderr;
  if (child.signalCode === "SIGKILL" && code !== 0) console.error(`child hung; its stderr:\n${text}`);
  return [code, text];
}

async function newestJobId(): Promise<number> {
  const [row] = await t.api`select coalesce(max(id), 0)::int as id from sluice.jobs`;
  return row!.id;
}

async function liveState() {
  const [row] = await t.api`select count(*)::int as n from image`;
  return { rows: row!.n, alias: await aliasIndices(`${t.indexPrefix}image`), docs: await searchCount(`${t.indexPrefix}image`) };
}

/** Waits for a job of this stage started after `since` (a job id) to reach `state`. */
async function waitForJob(stage: string, since: number, state = "running", timeoutMs = 60_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const [row] = await t.api`select id::int from sluice.jobs where dataset = 'image' and stage = ${stage} and state = ${state} and id > ${since} order by id desc limit 1`.catch(() => []);
    if (row) return row.id;
    await Bun.sleep(50);
  }
  throw new Error(`no ${state} ${stage} job within ${timeoutMs} ms`);
}

/** Starts `sluice run image` in a child process and sends it `signal` once its index job runs. */
async function killRunMidIndex(signal: "SIGTERM" | "SIGKILL") {
  const [{ number: liveGen }] = (await t.api`select number from sluice.generations where dataset = 'image' and state = 'live'`) as any;
  const since = await newestJobId();
  // --rebuild: the upstream is unchanged, and the run must reach its index stage to be killed there.
  const child = spawnSluice(["run", "image", "--rebuild"], t.childEnv());
  const indexJob = await waitForJob("index", since);
  await Bun.sleep(200);
  child.kill(signal);
  return { liveGen: liveGen as number, child, indexJob };
}

beforeAll(async () => {
  t = await createTestEnvironment("faults");
  await loadOpenverseSample(t, ["image"]);
  await growUpstreamImages(t, 20);
  expect((await t.sluice("migrate", "up")).code).toBe(0);
  expect((await t.sluice("run", "image")).code).toBe(0);
  liveCount = (await liveState()).rows;
  const [eligible] = await t.upstream`select count(*)::int as n from image where not removed_from_source`;
  expect(liveCount).toBe(eligible!.n);
  expect(liveCount).toBeGreaterThan(20_000);
}, 180_000);
afterAll(async () => {
  await t.drop();
});

function expectProductionUntouched(state: Awaited<ReturnType<typeof liveState>>, generation: number) {
  expect(state).toEqual({ rows: liveCount, alias: [`${t.indexPrefix}image-g${generation}`], docs: liveCount });
}

describe("faults leave production untouched and the next run succeeds", () => {
  test("Elasticsearch gone mid-index", async () => {
    // Small bulk requests, so that Elasticsearch can go away in the middle of the index stage.
    const config = `/tmp/${t.name}-small-bulks.config.ts`;
    await Bun.write(config, `import { openverseDatasets } from ${JSON.stringify(new URL("../src/datasets/openverse/datasets.ts", import.meta.url).pathname)};
export default { datasets: { image: { ...openverseDatasets.image, index: { ...openverseDatasets.image.index, batchDocuments: 500 } } } };`);
    let bulks = 0;
    const proxy = Bun.serve({
      port: 0,
      async fetch(req) {
        const url = new URL(req.url);
        if (url.pathname === "/_bulk" && ++bulks >= 5) {
          // Elasticsearch stops: this request fails, and every later one is refused.
          setTimeout(() => proxy.stop(true), 0);
          return new Response("node shutting down", { status: 503 });
        }
        const headers = new Headers(req.headers);
        headers.delete("accept-encoding");
        const res = await fetch(`${elasticsearchUrl}${url.pathname}${url.search}`, { method: req.method, headers, body: req.body ? await req.arrayBuffer() : undefined });
        const out = new Headers(res.headers);
        out.delete("content-encoding");
        out.delete("content-length");
        return new Response(await res.arrayBuffer(), { status: res.status, headers: out });
      },
    });
    const child = spawnSluice(["run", "image", "--rebuild", "--config", config], { ...t.childEnv(), ELASTICSEARCH_URL: `http://127.0.0.1:${proxy.port}` });
    const [code, stderr] = await exitOf(child);
    proxy.stop(true);
    if (code !== 1) console.error(stderr);
    expect(code).toBe(1);
    expect(stderr).toContain("cannot index image into ELASTICSEARCH_URL");
    expect(stderr).not.toContain("unexpected error");
    expectProductionUntouched(await liveState(), 1);
    const index = await lastJob(t, "image", "index");
    expect(index.state).toBe("failed");
    const [gen] = await t.api`select state from sluice.generations where dataset = 'image' and number = ${index.generation}`;
    expect(gen!.state).toBe("discarded");
    expect((await t.sluice("run", "image", "--rebuild")).code).toBe(0);
    const [live] = await t.api`select number from sluice.generations where dataset = 'image' and state = 'live'`;
    expect(await aliasIndices(`${t.indexPrefix}image`)).toEqual([`${t.indexPrefix}image-g${live!.number}`]);
    // The index the dead Elasticsearch kept is pruned with its discarded generation.
    expect(await searchCount(`${t.indexPrefix}image-g${index.generation}`)).toBeNull();
  }, 180_000);

  test("the upstream connection dropped mid-copy", async () => {
    const [{ number: liveGen }] = (await t.api`select number from sluice.generations where dataset = 'image' and state = 'live'`) as any;
    const since = await newestJobId();
    const child = spawnSluice(["run", "image"], t.childEnv());
    await waitForJob("refresh", since);
    const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
    let killed = 0;
    for (let i = 0; i < 200 && killed === 0; i++) {
      // Only a COPY still running: an idle connection shows its last query too, and killing one
      // whose copy had finished would let the run succeed.
      const rows = await admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${`${t.name}_up`} and state = 'active' and query ilike 'copy%'`;
      killed = rows.length;
      if (!killed) await Bun.sleep(10);
    }
    await admin.end();
    expect(killed).toBeGreaterThan(0);
    const [code, stderr] = await exitOf(child);
    expect(code).toBe(1);
    expect(stderr).toContain("the upstream connection was lost during COPY");
    expectProductionUntouched(await liveState(), liveGen);
    const refresh = await lastJob(t, "image", "refresh");
    expect(refresh.state).toBe("failed");
    const [staging] = await t.api`select to_regclass(${`image__g${refresh.generation}`}) as t`;
    expect(staging!.t).toBeNull();
    expect((await t.sluice("run", "image")).code).toBe(0);
  }, 180_000);

  test("SIGTERM mid-index rolls back and exits 143", async () => {
    const { liveGen, child, indexJob } = await killRunMidIndex("SIGTERM");
    const [code, stderr] = await exitOf(child);
    expect(code).toBe(143);
    expect(stderr).toContain("interrupted by SIGTERM");
    expectProductionUntouched(await liveState(), liveGen);
    const [job] = await t.api`select state, error, generation from sluice.jobs where id = ${indexJob}`;
    expect(job!.state).toBe("failed");
    expect(job!.error).toContain("interrupted by SIGTERM");
    expect(await searchCount(`${t.indexPrefix}image-g${job!.generation}`)).toBeNull();
    const [table] = await t.api`select to_regclass(${`image__g${job!.generation}`}) as t`;
    expect(table!.t).toBeNull();
  }, 180_000);

  test("SIGKILL mid-index: the next run needs no clean-up and does not redo the refresh", async () => {
    const { liveGen, child, indexJob } = await killRunMidIndex("SIGKILL");
    await child.exited;
    expectProductionUntouched(await liveState(), liveGen);
    const refreshesBefore = await t.api`select count(*)::int as n from sluice.jobs where dataset = 'image' and stage = 'refresh'`;
    expect((await t.sluice("run", "image")).code).toBe(0);
    const [dead] = await t.api`select state, error from sluice.jobs where id = ${indexJob}`;
    expect(dead!.state).toBe("failed");
    expect(dead!.error).toContain("process died");
    const refreshesAfter = await t.api`select count(*)::int as n from sluice.jobs where dataset = 'image' and stage = 'refresh'`;
    expect(refreshesAfter[0]!.n).toBe(refreshesBefore[0]!.n);
    // The resumed run reports the rows its generation's refresh read, not 0.
    const [resumed] = await t.api`select counters from sluice.jobs where dataset = 'image' and stage = 'run' order by id desc limit 1`;
    const [refreshed] = await t.api`select counters from sluice.jobs where dataset = 'image' and stage = 'refresh' and state = 'succeeded' order by id desc limit 1`;
    expect(resumed!.counters.read).toBeGreaterThan(0);
    expect(resumed!.counters.read).toBe(refreshed!.counters.read);
    const live = await liveState();
    expect(live.rows).toBe(liveCount);
    expect(live.docs).toBe(liveCount);
  }, 180_000);

  test("queries on the live table and alias during a swap see no error and no empty result", async () => {
    expect((await t.sluice("refresh", "image")).code).toBe(0);
    expect((await t.sluice("index", "image")).code).toBe(0);
    const reader = postgres(t.apiUrl, { max: 2, onnotice: () => {} });
    let stop = false;
    const problems: string[] = [];
    let reads = 0;
    const readLoop = (async () => {
      while (!stop) {
        try {
          const [row] = await reader`select count(*)::int as n from image`;
          if (!row || row.n === 0) problems.push("empty table");
          const docs = await searchCount(`${t.indexPrefix}image`);
          if (!docs) problems.push(`alias count ${docs}`);
          reads++;
        } catch (error) {
          problems.push((error as Error).message);
        }
      }
    })();
    await Bun.sleep(100);
    expect((await t.sluice("swap", "image")).code).toBe(0);
    await Bun.sleep(100);
    stop = true;
    await readLoop;
    await reader.end();
    expect(problems).toEqual([]);
    expect(reads).toBeGreaterThan(2);
  }, 180_000);
});
