/**
 * Issue 9's fault tests (points 7, 11, 12): the API database restarting mid-index, a document
 * larger than the cluster accepts, 429 storms, and a blob directory that is a file, not writable
 * or full. Each fault is made by a throwaway proxy or filesystem of the test's own; the shared
 * PostgreSQL and Elasticsearch are never touched.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { aliasIndices, createTestEnvironment, elasticsearchUrl, searchCount, spawnSluice, type TestEnvironment } from "./support/harness.ts";
import { growUpstreamImages, lastJob, loadOpenverseSample } from "./support/openverse.ts";
import { detectEngine } from "../src/adapters/elasticsearch.ts";
import { startEsProxy } from "./support/es-proxy.ts";
import { elasticsearchProxy } from "./support/search-proxy.ts";
import { proxiedDatabase } from "./support/tcp-proxy.ts";

let t: TestEnvironment;
let liveCount = 0;


async function liveState() {
  const [row] = await t.api`select count(*)::int as n from image`;
  const [gen] = await t.api`select number from sluice.generations where dataset = 'image' and state = 'live'`;
  return { rows: row!.n, alias: await aliasIndices(`${t.indexPrefix}image`), docs: await searchCount(`${t.indexPrefix}image`), generation: gen?.number };
}

/** The child's exit code, stderr and how long it took; a child still running after `limitMs` is killed. */
async function exitOf(child: ReturnType<typeof spawnSluice>, limitMs = 60_000): Promise<{ code: number; stderr: string; ms: number; killed: boolean }> {
  const started = Date.now();
  const stderr = new Response(child.stderr).text();
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill("SIGKILL");
  }, limitMs);
  const code = await child.exited;
  clearTimeout(timer);
  return { code, stderr: await stderr, ms: Date.now() - started, killed };
}

async function newestJobId(): Promise<number> {
  const [row] = await t.api`select coalesce(max(id), 0)::int as id from sluice.jobs`;
  return row!.id;
}

async function waitForJob(stage: string, since: number, timeoutMs = 60_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const [row] = await t.api`select id::int from sluice.jobs where dataset = 'image' and stage = ${stage} and state = 'running' and id > ${since} order by id desc limit 1`;
    if (row) return row.id;
    await Bun.sleep(20);
  }
  throw new Error(`no running ${stage} job within ${timeoutMs} ms`);
}

/** A config whose image dataset indexes in small requests, with the tolerance given. */
/** Until the index has taken a document (indexing stats count them before any refresh). */
async function waitForIndexedDocuments(index: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const stats = (await fetch(`${elasticsearchUrl}/${index}/_stats/indexing`).then((r) => (r.ok ? r.json() : null)).catch(() => null)) as { _all?: { primaries?: { indexing?: { index_total?: number } } } } | null;
    if ((stats?._all?.primaries?.indexing?.index_total ?? 0) > 0) return;
    await Bun.sleep(20);
  }
  throw new Error(`${index} took no document within ${timeoutMs} ms`);
}

async function smallBulkConfig(name: string, index: Record<string, number>): Promise<string> {
  const path = `/tmp/${t.name}-${name}.config.ts`;
  await Bun.write(path, `import { openverseDatasets } from ${JSON.stringify(new URL("../src/datasets/openverse/datasets.ts", import.meta.url).pathname)};
export default { datasets: { image: { ...openverseDatasets.image, index: { ...openverseDatasets.image.index, ...${JSON.stringify(index)} } } } };`);
  return path;
}

beforeAll(async () => {
  t = await createTestEnvironment("faults9");
  await loadOpenverseSample(t, ["image"]);
  await growUpstreamImages(t, 20);
  expect((await t.sluice("migrate", "up")).code).toBe(0);
  expect((await t.sluice("run", "image")).code).toBe(0);
  liveCount = (await liveState()).rows;
  expect(liveCount).toBeGreaterThan(20_000);
}, 180_000);
afterAll(async () => {
  await t.drop();
}, 60_000);

describe("a connection that drops ends the command, naming the right service", () => {
  test("the API database restarts during index", async () => {
    const before = await liveState();
    expect((await t.sluice("refresh", "image")).code).toBe(0);
    const db = new URL(t.apiUrl);
    const { proxy, url: viaProxy } = proxiedDatabase(t.apiUrl);
    const since = await newestJobId();
    const child = spawnSluice(["index", "image"], { ...t.childEnv(), DATABASE_URL: viaProxy });
    const job = await waitForJob("index", since);
    // Mid-stream, whatever the host's speed: once the new index has taken its first documents.
    const [{ building }] = (await t.api`select max(number)::int as building from sluice.generations where dataset = 'image'`) as unknown as [{ building: number }];
    await waitForIndexedDocuments(`${t.indexPrefix}image-g${building}`);
    // A restart: every connection is cut, new ones are refused for a moment, then accepted again.
    proxy.pause();
    expect(proxy.dropAll()).toBeGreaterThan(0);
    await Bun.sleep(1500);
    proxy.resume();
    const exit = await exitOf(child, 60_000);
    proxy.stop();
    // Whatever fails below, the child's own words are in the log.
    try {
      expect(exit.killed).toBe(false);
      expect(exit.ms).toBeLessThan(45_000);
      expect(exit.code).toBe(1);
      expect(exit.stderr).toContain("DATABASE_URL");
      // The error lines blame the database, never Elasticsearch (a degrade warning may name ELASTICSEARCH_URL).
      const errorLines = exit.stderr.split("\n").filter((l) => /\[error\]|ERROR/.test(l));
      expect(errorLines.length).toBeGreaterThan(0);
      for (const line of errorLines) expect(line).not.toContain("ELASTICSEARCH_URL");
      expect(exit.stderr).not.toContain("TypeError");
      expect(exit.stderr).not.toContain("unexpected error");
      expect(exit.stderr).toContain("lost the connection to DATABASE_URL");
      expect(exit.stderr).not.toContain(`:${db.password}@`);
      expect(await liveState()).toEqual(before);
      const [row] = await t.api`select state, error from sluice.jobs where id = ${job}`;
      expect(row!.state).toBe("failed");
      expect(row!.error).toContain("DATABASE_URL");
      expect(row!.error).not.toContain("ELASTICSEARCH_URL");
    } catch (error) {
      console.error(`index exited ${exit.code} after ${exit.ms} ms; its stderr:\n${exit.stderr}`);
      throw error;
    }
    // Once the database is back, the index stage succeeds from the kept staging table.
    expect((await t.sluice("index", "image")).code).toBe(0);
  }, 120_000);
});

describe("the API database restarting during refresh", () => {
  test("while the staging table's indexes are built: one line naming DATABASE_URL, the generation discarded, the next refresh succeeds", async () => {
    const before = await liveState();
    const db = new URL(t.apiUrl);
    const { proxy, url: viaProxy } = proxiedDatabase(t.apiUrl);
    const since = await newestJobId();
    const child = spawnSluice(["refresh", "image"], { ...t.childEnv(), DATABASE_URL: viaProxy });
    // Read as it comes, to cut the connections as soon as the step starts.
    let stderr = "";
    const reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stderr as unknown as AsyncIterable<Uint8Array>) stderr += decoder.decode(chunk, { stream: true });
    })();
    const until = Date.now() + 60_000;
    while (!stderr.includes("building indexes on") && Date.now() < until) await Bun.sleep(5);
    expect(stderr).toContain("building indexes on");
    proxy.pause();
    expect(proxy.dropAll()).toBeGreaterThan(0);
    await Bun.sleep(1500);
    proxy.resume();
    const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const code = await child.exited;
    clearTimeout(killer);
    await reading;
    proxy.stop();
    try {
      expect(code).toBe(1);
      // Before, the socket's own error named no server and reached the top as "unexpected error: read ECONNRESET".
      expect(stderr).not.toContain("unexpected error");
      expect(stderr).toContain("lost the connection to DATABASE_URL");
      expect(stderr).not.toContain(`:${db.password}@`);
      expect(await liveState()).toEqual(before);
      const [job] = await t.api`select state, error, generation from sluice.jobs where stage = 'refresh' and id > ${since} order by id desc limit 1`;
      expect(job!.state).toBe("failed");
      expect(job!.error).toContain("DATABASE_URL");
      const [gen] = await t.api`select state, table_name from sluice.generations where dataset = 'image' and number = ${job!.generation}`;
      expect(gen!.state).toBe("discarded");
      const [staging] = await t.api`select to_regclass(${gen!.table_name as string}) as oid`;
      expect(staging!.oid).toBeNull();
    } catch (error) {
      console.error(`refresh exited ${code}; its stderr:\n${stderr}`);
      throw error;
    }
    expect((await t.sluice("refresh", "image")).code).toBe(0);
  }, 120_000);
});

describe("the API database restarting after a swap went live", () => {
  test("while old generations are pruned: the line says the new generation is live, not 'production is untouched'; the next swap prunes what was left", async () => {
    expect((await t.sluice("refresh", "image")).code).toBe(0);
    expect((await t.sluice("index", "image")).code).toBe(0);
    const outgoing = (await liveState()).generation as number;
    const { proxy, url: viaProxy } = proxiedDatabase(t.apiUrl);
    // With --keep 0 the swap drops the outgoing generation's table right after the alias moves.
    proxy.dropAllOn("DROP TABLE IF EXISTS", () => {
      proxy.pause();
      setTimeout(() => proxy.resume(), 1500);
    });
    const exit = await exitOf(spawnSluice(["swap", "image", "--keep", "0"], { ...t.childEnv(), DATABASE_URL: viaProxy }));
    proxy.stop();
    const after = await liveState();
    try {
      expect(exit.code).toBe(1);
      expect(after.generation).not.toBe(outgoing);
      expect(after.alias).toEqual([`${t.indexPrefix}image-g${after.generation}`]);
      // Before, the driver's error reached the top as "lost the connection to DATABASE_URL … production is untouched".
      expect(exit.stderr).toContain(`generation ${after.generation} of image is live, but the clean-up after its swap failed: lost the connection to DATABASE_URL`);
      expect(exit.stderr).not.toContain("production is untouched");
      expect(exit.stderr).not.toContain(`:${new URL(t.apiUrl).password}@`);
      const [job] = await t.api`select state, error from sluice.jobs where stage = 'swap' order by id desc limit 1`;
      expect(job!.state).toBe("failed");
      expect(job!.error).toContain("is live, but the clean-up");
    } catch (error) {
      console.error(`swap exited ${exit.code}; its stderr:\n${exit.stderr}`);
      throw error;
    }
    const [left] = await t.api`select state from sluice.generations where dataset = 'image' and number = ${outgoing}`;
    expect(left!.state).toBe("previous");
    // The next swap prunes it.
    expect((await t.sluice("refresh", "image")).code).toBe(0);
    expect((await t.sluice("index", "image")).code).toBe(0);
    expect((await t.sluice("swap", "image", "--keep", "0")).code).toBe(0);
    const [pruned] = await t.api`select state, table_name from sluice.generations where dataset = 'image' and number = ${outgoing}`;
    expect(pruned!.state).toBe("retired");
    const [table] = await t.api`select to_regclass(${pruned!.table_name as string}) as oid`;
    expect(table!.oid).toBeNull();
  }, 180_000);
});

describe("the API database restarting as a swap records its alias move", () => {
  test("the journal is written once the database answers: the swap finishes, not split", async () => {
    expect((await t.sluice("refresh", "image")).code).toBe(0);
    expect((await t.sluice("index", "image")).code).toBe(0);
    const { proxy, url: viaProxy } = proxiedDatabase(t.apiUrl);
    proxy.dropAllOn("update sluice.swaps set state", () => {
      proxy.pause();
      setTimeout(() => proxy.resume(), 1500);
    });
    const exit = await exitOf(spawnSluice(["swap", "image"], { ...t.childEnv(), DATABASE_URL: viaProxy }));
    proxy.stop();
    const after = await liveState();
    try {
      // Before: "the aliases of image moved but recording it failed (read ECONNRESET); image is split", exit 1.
      expect(exit.stderr).not.toContain("split");
      expect(exit.code).toBe(0);
      expect(after.alias).toEqual([`${t.indexPrefix}image-g${after.generation}`]);
      const [swap] = await t.api`select state, incoming from sluice.swaps order by id desc limit 1`;
      expect(swap).toEqual({ state: "done", incoming: after.generation });
    } catch (error) {
      console.error(`swap exited ${exit.code}; its stderr:\n${exit.stderr}`);
      throw error;
    }
    expect((await t.sluice("status")).code).toBe(0);
  }, 120_000);
});

describe("Elasticsearch refusing requests", () => {
  test("a node closing the start-up probe's connections (a restart) is asked again; a refused connection fails at once", async () => {
    const proxy = startEsProxy();
    try {
      proxy.cutNext(/^GET \/ HTTP/, 2);
      // Before: "cannot reach ELASTICSEARCH_URL (…): ECONNRESET: The socket connection was closed unexpectedly."
      expect((await detectEngine(proxy.url)).product).toBe("elasticsearch");
      expect(proxy.cuts).toBe(2);
    } finally {
      proxy.stop();
    }
    const closed = Bun.serve({ port: 0, fetch: () => new Response("") });
    const refused = `http://127.0.0.1:${closed.port}`;
    closed.stop(true);
    const started = Date.now();
    const error = await detectEngine(refused).catch((e) => e);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error.message).toStartWith(`cannot reach ELASTICSEARCH_URL (${refused}/): `);
  });

  test("a document larger than the cluster accepts fails alone as too_large, with its key; the tolerance decides", async () => {
    const LIMIT = 512 * 1024;
    let refused = 0;
    // Answers as Elasticsearch does for a body over http.max_content_length: 413, empty body.
    const proxy = elasticsearchProxy((body) => (body.byteLength > LIMIT ? (refused++, new Response(null, { status: 413, statusText: "Request Entity Too Large" })) : null));
    const es = { ELASTICSEARCH_URL: `http://127.0.0.1:${proxy.port}` };
    try {
      const before = await liveState();
      expect((await t.sluice("refresh", "image")).code).toBe(0);
      const [gen] = await t.api`select number from sluice.generations where dataset = 'image' and state <> 'live' order by number desc limit 1`;
      const table = `image__g${gen!.number}`;
      const big = await t.api.unsafe(`select identifier::text as id from ${table} order by identifier limit 2`);
      const bigKeys = big.map((r) => r.id as string).sort();
      // About 900 KB of tags each: a document over the proxy's limit on its own.
      await t.api.unsafe(
        `update ${table} set tags = (select jsonb_agg(jsonb_build_object('name', 'a-rather-long-tag-name-' || g)) from generate_series(1, 25000) g)
         where identifier::text = any($1)`,
        [bigKeys],
      );

      const strict = await smallBulkConfig("too-large-strict", { batchBytes: 256 * 1024, maxFailures: 0 });
      const failedRun = await t.sluiceWith(es, "index", "image", "--config", strict);
      expect(failedRun.code).toBe(1);
      const failedJob = await lastJob(t, "image", "index");
      expect(failedJob.state).toBe("failed");
      expect(failedJob.error).toContain("2 documents failed to index, more than the 0 tolerated (too_large 2)");
      expect(failedJob.counters.failed).toEqual({ too_large: 2 });
      expect(failedJob.counters.written).toBe(liveCount - 2);
      expect(failedJob.counters.retries.split_too_large).toBeGreaterThan(0);
      const listed = await t.api`select item_key, reason, detail from sluice.row_failures where job_id = ${failedJob.id} order by item_key`;
      expect(listed.map((r) => [r.item_key, r.reason])).toEqual(bigKeys.map((k) => [k, "too_large"]));
      expect(listed[0]!.detail).toContain("HTTP 413");
      expect(refused).toBeGreaterThan(0);
      expect(await liveState()).toEqual(before);

      const tolerant = await smallBulkConfig("too-large-tolerant", { batchBytes: 256 * 1024, maxFailures: 2 });
      expect((await t.sluiceWith(es, "index", "image", "--config", tolerant)).code).toBe(0);
      const indexed = await lastJob(t, "image", "index");
      expect(indexed.state).toBe("succeeded");
      expect(indexed.counters.written).toBe(liveCount - 2);
      expect(indexed.counters.failed).toEqual({ too_large: 2 });
      expect(await searchCount(`${t.indexPrefix}image-g${gen!.number}`)).toBe(liveCount - 2);
      expect(await liveState()).toEqual(before);
    } finally {
      proxy.stop(true);
    }
  }, 180_000);

  test("the filtered twin's deletes: a request refused with 429, then ids rejected one by one with 429, are resent and counted; the twin is exact", async () => {
    // The commonest title word of the rows, so that the twin leaves out a few hundred documents.
    const [common] = await t.api`select lower(w) as term from image, regexp_split_to_table(title, '[^[:alnum:]]+') w where length(w) > 3 group by 1 order by count(*) desc, 1 limit 1`;
    const config = `/tmp/${t.name}-twin-storm.config.ts`;
    await Bun.write(config, `import { openverseDatasets } from ${JSON.stringify(new URL("../src/datasets/openverse/datasets.ts", import.meta.url).pathname)};
export default { datasets: { image: { ...openverseDatasets.image, index: { ...openverseDatasets.image.index, filtered: { terms: [${JSON.stringify(common!.term)}] } } } } };`);
    const rejected = { whole: 1, itemwise: 2, ids: 0 };
    const busy = { type: "es_rejected_execution_exception", reason: "rejected execution of TimedRunnable (queue capacity 200)" };
    const proxy = elasticsearchProxy((body) => {
      const text = new TextDecoder().decode(body);
      if (!text.startsWith('{"delete"')) return null;
      if (rejected.whole > 0) {
        rejected.whole--;
        return Response.json({ error: { root_cause: [busy], ...busy }, status: 429 }, { status: 429, headers: { "x-elastic-product": "Elasticsearch" } });
      }
      if (rejected.itemwise <= 0) return null;
      rejected.itemwise--;
      // Every other id refused, as a write queue that fills mid-request refuses some and takes the rest: those are deleted for real.
      // The second refusal falls on the resend of the first one's refused ids.
      const actions = text.trim().split("\n").map((line) => (JSON.parse(line) as { delete: { _index: string; _id: string } }).delete);
      const refused = actions.filter((_, i) => i % 2 === 0);
      rejected.ids += refused.length;
      const taken = actions.filter((_, i) => i % 2 === 1);
      return fetch(`${elasticsearchUrl}/_bulk`, { method: "POST", headers: { "content-type": "application/x-ndjson" }, body: taken.map((d) => `${JSON.stringify({ delete: d })}\n`).join("") })
        .then((res) => res.json() as Promise<{ items: { delete: { status: number } }[] }>)
        .then(({ items }) => {
          const answered = items.values();
          const out = actions.map((d, i) => (i % 2 === 0 ? { delete: { _index: d._index, _id: d._id, status: 429, error: busy } } : { delete: { _index: d._index, _id: d._id, status: answered.next().value!.delete.status } }));
          return Response.json({ errors: true, took: 1, items: out }, { headers: { "x-elastic-product": "Elasticsearch" } });
        });
    });
    try {
      const before = await liveState();
      expect((await t.sluice("refresh", "image", "--config", config)).code).toBe(0);
      expect((await t.sluiceWith({ ELASTICSEARCH_URL: `http://127.0.0.1:${proxy.port}` }, "index", "image", "--config", config)).code).toBe(0);
      const job = await lastJob(t, "image", "index");
      expect(job.state).toBe("succeeded");
      expect(rejected).toMatchObject({ whole: 0, itemwise: 0 });
      expect(job.counters.keptOut).toBeGreaterThan(100);
      expect(job.counters.retries).toEqual({ twin_delete_http_429: 1, twin_delete_item_429: 2 });
      const full = `${t.indexPrefix}image-g${job.generation}`;
      const twin = `${t.indexPrefix}image-filtered-g${job.generation}`;
      expect(await searchCount(full)).toBe(liveCount);
      expect(await searchCount(twin)).toBe(liveCount - job.counters.keptOut);
      expect(job.counters.documents).toEqual({ [full]: liveCount, [twin]: liveCount - job.counters.keptOut });
      expect(await liveState()).toEqual(before);
    } finally {
      proxy.stop(true);
    }
  }, 180_000);

  test("disk past the flood-stage watermark (a read-only-allow-delete block): the stage ends at the first refusal, naming it; the new index is deleted", async () => {
    let bulks = 0;
    let blockedAt = 0;
    const proxy = elasticsearchProxy(async (body) => {
      // On the third request, the block Elasticsearch itself puts on an index at flood stage; the request then goes on to the real node.
      if (++bulks !== 3) return null;
      const index = (JSON.parse(new TextDecoder().decode(body.subarray(0, body.indexOf(10)))) as { index: { _index: string } }).index._index;
      const res = await fetch(`${elasticsearchUrl}/${index}/_settings`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ "index.blocks.read_only_allow_delete": true }) });
      expect(res.status).toBe(200);
      blockedAt = performance.now();
      return null;
    });
    try {
      const before = await liveState();
      expect((await t.sluice("refresh", "image")).code).toBe(0);
      const config = await smallBulkConfig("flood", { batchDocuments: 1000, concurrency: 1 });
      const { code } = await t.sluiceWith({ ELASTICSEARCH_URL: `http://127.0.0.1:${proxy.port}` }, "index", "image", "--config", config);
      const ended = performance.now();
      expect(code).toBe(1);
      const job = await lastJob(t, "image", "index");
      expect(job.state).toBe("failed");
      expect(job.error).toStartWith(`Elasticsearch refuses writes to ${t.indexPrefix}image-g${job.generation}: index [${t.indexPrefix}image-g${job.generation}] blocked by: [TOO_MANY_REQUESTS/12/disk usage exceeded flood-stage watermark`);
      // Not a resend of every batch for ~15 s each: over within seconds of the block.
      expect(ended - blockedAt).toBeLessThan(10_000);
      expect(job.counters.retries ?? {}).toEqual({});
      expect((await fetch(`${elasticsearchUrl}/${t.indexPrefix}image-g${job.generation}`)).status).toBe(404);
      expect(await liveState()).toEqual(before);
    } finally {
      proxy.stop(true);
    }
  }, 180_000);

  test("an API key revoked mid-run (401 on a bulk request): one line naming the credentials, not the mappings; production untouched", async () => {
    let bulks = 0;
    const proxy = elasticsearchProxy(() =>
      ++bulks < 3
        ? null
        : Response.json(
            { error: { root_cause: [{ type: "security_exception", reason: "unable to authenticate with provided credentials and anonymous access is not allowed for this request" }], type: "security_exception", reason: "unable to authenticate with provided credentials and anonymous access is not allowed for this request" }, status: 401 },
            { status: 401, headers: { "x-elastic-product": "Elasticsearch", "www-authenticate": 'ApiKey, Basic realm="security"' } },
          ),
    );
    try {
      const before = await liveState();
      expect((await t.sluice("refresh", "image")).code).toBe(0);
      const config = await smallBulkConfig("revoked", { batchDocuments: 1000, concurrency: 1 });
      const child = spawnSluice(["index", "image", "--config", config], { ...t.childEnv(), ELASTICSEARCH_URL: `http://127.0.0.1:${proxy.port}` });
      const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
      expect(code).toBe(1);
      const line = stderr.split("\n").find((l) => l.includes("refused a _bulk request"))!;
      expect(line).toContain("Elasticsearch refused a _bulk request: unable to authenticate with provided credentials");
      expect(line).toContain("(HTTP 401)");
      expect(line).toContain("the credentials stopped being accepted mid-run");
      expect(line).not.toContain("mappings");
      expect((await lastJob(t, "image", "index")).state).toBe("failed");
      expect(await liveState()).toEqual(before);
    } finally {
      proxy.stop(true);
    }
  }, 180_000);

  test("a 429 storm: rejected requests are retried, counted on the job and shown by job show; every document lands once", async () => {
    const STORM = 4;
    let rejectedLeft = STORM;
    const proxy = elasticsearchProxy(() => {
      if (rejectedLeft <= 0) return null;
      rejectedLeft--;
      return Response.json(
        { error: { root_cause: [{ type: "es_rejected_execution_exception", reason: "rejected execution of coordinating operation" }], type: "es_rejected_execution_exception", reason: "rejected execution of coordinating operation" }, status: 429 },
        { status: 429, headers: { "x-elastic-product": "Elasticsearch" } },
      );
    });
    try {
      const before = await liveState();
      expect((await t.sluice("refresh", "image")).code).toBe(0);
      const config = await smallBulkConfig("storm", { batchDocuments: 1000 });
      expect((await t.sluiceWith({ ELASTICSEARCH_URL: `http://127.0.0.1:${proxy.port}` }, "index", "image", "--config", config)).code).toBe(0);
      const job = await lastJob(t, "image", "index");
      expect(job.state).toBe("succeeded");
      expect(rejectedLeft).toBe(0);
      expect(job.counters.retries).toEqual({ http_429: STORM });
      expect(job.counters.written).toBe(liveCount);
      expect(job.counters.failed).toEqual({});
      expect(await searchCount(`${t.indexPrefix}image-g${job.generation}`)).toBe(liveCount);
      expect(await liveState()).toEqual(before);
      const shown = await t.sluice("job", "show", String(job.id));
      expect(shown.stdout).toContain("retries (http_429 4)");
    } finally {
      proxy.stop(true);
    }
  }, 180_000);
});

/** Mounts a tmpfs of `size` at `dir` (we run as root in CI and here); false when this sandbox refuses. */
function mountTmpfs(dir: string, options: string): boolean {
  mkdirSync(dir, { recursive: true });
  return Bun.spawnSync(["mount", "-t", "tmpfs", "-o", options, "tmpfs", dir], { stderr: "pipe" }).exitCode === 0;
}
function unmount(dir: string): void {
  Bun.spawnSync(["umount", dir]);
}

describe("a blob directory that cannot take the payloads", () => {
  const DOCUMENT_BYTES = 400 * 1024;
  let host: ReturnType<typeof Bun.serve>;
  let registry: ReturnType<typeof Bun.serve>;
  let config: string;
  let scratch: string;
  const reload = (blobDir: string) => exitOf(spawnSluice(["reload", "iati", "--config", config], { ...t.childEnv(), SLUICE_BLOB_DIR: blobDir }), 60_000);

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "sluice-blob-faults-"));
    // Four documents of 400 KB each: more than a 1 MB filesystem holds.
    const body = (i: number) => `<?xml version="1.0" encoding="UTF-8"?>\n<iati-activities version="2.03"><!-- ${String(i).repeat(DOCUMENT_BYTES)} --></iati-activities>\n`;
    host = Bun.serve({ port: 0, fetch: (req) => new Response(body(Number(new URL(req.url).pathname.slice(1))), { headers: { "content-type": "application/xml" } }) });
    registry = Bun.serve({
      port: 0,
      fetch: () =>
        Response.json({
          success: true,
          result: { count: 4, results: [1, 2, 3, 4].map((i) => ({ id: `doc${i}`, name: `pub-doc${i}`, organization: { name: "pub" }, resources: [{ url: `${host.url}${i}`, hash: `h${i}` }], metadata_modified: "2024-06-20T07:10:17.000000" })) },
        }),
    });
    config = join(scratch, "sluice.config.ts");
    await Bun.write(config, `import { iatiDataset } from ${JSON.stringify(new URL("../src/datasets/iati/dataset.ts", import.meta.url).pathname)};
export default { datasets: { iati: iatiDataset({ IATI_REGISTRY_URL: ${JSON.stringify(`${registry.url}api/3/action`)} }) } };`);
    expect((await t.sluice("refresh", "iati", "--config", config)).code).toBe(0);
  }, 60_000);
  afterAll(() => {
    host.stop(true);
    registry.stop(true);
    rmSync(scratch, { recursive: true, force: true });
  });

  test("a path under a file: exit 2, one line naming the path and the fix", async () => {
    const file = join(scratch, "not-a-dir");
    writeFileSync(file, "x");
    const exit = await reload(join(file, "blobs"));
    expect(exit.code).toBe(2);
    expect(exit.stderr).toContain(`SLUICE_BLOB_DIR (${join(file, "blobs")}) is not a directory: a file is in the way (ENOTDIR) (point SLUICE_BLOB_DIR at a directory, or move that file)`);
    expect(exit.stderr).not.toContain("unexpected error");
  }, 60_000);

  test("a read-only filesystem: exit 2, naming the path and the fix", async () => {
    const dir = join(scratch, "read-only");
    if (!mountTmpfs(dir, "ro,size=1m")) throw new Error("cannot mount a tmpfs here (needs root); see the report of issue 9");
    try {
      const exit = await reload(join(dir, "blobs"));
      expect(exit.code).toBe(2);
      expect(exit.stderr).toContain(`SLUICE_BLOB_DIR (${join(dir, "blobs")}) is not writable (EROFS: read-only file system)`);
      expect(exit.stderr).not.toContain("unexpected error");
    } finally {
      unmount(dir);
    }
  }, 60_000);

  test("a full disk: exit 1 naming the directory and ENOSPC, no temp file left; the next run sweeps a dead process's leftovers", async () => {
    const dir = join(scratch, "small");
    if (!mountTmpfs(dir, "size=1m")) throw new Error("cannot mount a tmpfs here (needs root); see the report of issue 9");
    try {
      const blobs = join(dir, "blobs");
      const exit = await reload(blobs);
      expect(exit.code).toBe(1);
      expect(exit.stderr).toContain(`the blob store ${blobs} is out of space (ENOSPC: no space left on device) (free space on that filesystem or point SLUICE_BLOB_DIR at a larger one`);
      expect(exit.stderr).not.toContain("unexpected error");
      const leftovers = readdirSync(dir, { recursive: true }).map(String).filter((p) => /\.tmp\/.+|\.tmp-/.test(p));
      expect(leftovers).toEqual([]);
      const failed = await lastJob(t, "iati", "reload");
      expect(failed.state).toBe("failed");
      expect(failed.error).toContain("ENOSPC");

      // A process killed mid-write leaves its temp file; the next run removes it.
      const dead = Bun.spawn(["true"]);
      await dead.exited;
      const orphan = join(blobs, ".tmp", `${hostname().replace(/[^A-Za-z0-9.]/g, "_")}-${dead.pid}-1`);
      writeFileSync(orphan, "half a payload");
      expect(Bun.spawnSync(["mount", "-o", "remount,size=4m", dir]).exitCode).toBe(0);
      const again = await reload(blobs);
      expect(again.code).toBe(0);
      expect(existsSync(orphan)).toBe(false);
      const done = await lastJob(t, "iati", "reload");
      expect(done.state).toBe("succeeded");
      expect(done.counters.blob_store).toEqual({ swept_temp_files: 1 });
      const [gen] = await t.api`select table_name from sluice.generations where dataset = 'iati' order by number desc limit 1`;
      const [row] = await t.api.unsafe(`select count(*) filter (where blob_sha256 is not null)::int as stored from "${gen!.table_name}"`);
      expect(row!.stored).toBe(4);
    } finally {
      unmount(dir);
    }
  }, 120_000);
});
