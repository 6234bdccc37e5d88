/**
 * Issue 9's fault tests (points 7, 11, 12): the API database restarting mid-index, a document
 * larger than the cluster accepts, 429 storms, and a blob directory that is a file, not writable
 * or full. Each fault is made by a throwaway proxy or filesystem of the test's own; the shared
 * PostgreSQL and Elasticsearch are never touched.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { aliasIndices, createTestEnvironment, searchCount, spawnSluice, type TestEnvironment } from "./support/harness.ts";
import { lastJob, loadOpenverseSample } from "./support/openverse.ts";
import { TcpProxy } from "./support/tcp-proxy.ts";

let t: TestEnvironment;
let liveCount = 0;

async function growUpstream(copies: number): Promise<void> {
  await t.upstream.unsafe(`
    INSERT INTO image SELECT gen_random_uuid(), created_on, updated_on, ingestion_type, provider, source,
      foreign_identifier || '-' || n, foreign_landing_url, url || '?copy=' || n, thumbnail, width, height, filesize,
      license, license_version, creator, creator_url, title, meta_data, tags, watermarked, last_synced_with_source,
      removed_from_source, filetype, category, standardized_popularity
    FROM (SELECT * FROM image) sample, generate_series(1, ${copies - 1}) n`);
}

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

beforeAll(async () => {
  t = await createTestEnvironment("faults9");
  await loadOpenverseSample(t, ["image"]);
  await growUpstream(20);
  expect((await t.sluice("migrate", "up")).code).toBe(0);
  expect((await t.sluice("run", "image")).code).toBe(0);
  liveCount = (await liveState()).rows;
  expect(liveCount).toBeGreaterThan(20_000);
}, 180_000);
afterAll(async () => {
  await t.drop();
});

describe("a connection that drops ends the command, naming the right service", () => {
  test("the API database restarts during index", async () => {
    const before = await liveState();
    expect((await t.sluice("refresh", "image")).code).toBe(0);
    const db = new URL(t.apiUrl);
    const proxy = new TcpProxy(db.hostname, Number(db.port || 5432));
    const viaProxy = new URL(t.apiUrl);
    viaProxy.port = String(proxy.port);
    const since = await newestJobId();
    const child = spawnSluice(["index", "image"], { ...t.childEnv(), DATABASE_URL: viaProxy.toString() });
    const job = await waitForJob("index", since);
    await Bun.sleep(300);
    // A restart: every connection is cut, new ones are refused for a moment, then accepted again.
    proxy.pause();
    expect(proxy.dropAll()).toBeGreaterThan(0);
    await Bun.sleep(1500);
    proxy.resume();
    const exit = await exitOf(child, 60_000);
    proxy.stop();
    if (exit.code !== 1) console.error(exit.stderr);
    expect(exit.killed).toBe(false);
    expect(exit.ms).toBeLessThan(45_000);
    expect(exit.code).toBe(1);
    expect(exit.stderr).toContain("DATABASE_URL");
    expect(exit.stderr).not.toContain("ELASTICSEARCH_URL");
    expect(exit.stderr).not.toContain("TypeError");
    expect(exit.stderr).not.toContain("unexpected error");
    expect(exit.stderr).toContain("lost the connection to DATABASE_URL");
    expect(exit.stderr).not.toContain(`:${db.password}@`);
    expect(await liveState()).toEqual(before);
    const [row] = await t.api`select state, error from sluice.jobs where id = ${job}`;
    expect(row!.state).toBe("failed");
    expect(row!.error).toContain("DATABASE_URL");
    expect(row!.error).not.toContain("ELASTICSEARCH_URL");
    // Once the database is back, the index stage succeeds from the kept staging table.
    expect((await t.sluice("index", "image")).code).toBe(0);
  }, 120_000);
});
