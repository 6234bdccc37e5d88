/**
 * Issue 11: Elasticsearch goes away in the middle of a sync (a throwaway TCP proxy in front of the
 * shared server stops passing connections; the server itself is never touched). The sync fails
 * naming ELASTICSEARCH_URL, deletes nothing and keeps the cursor; once Elasticsearch is back, the
 * next sync converges.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createTestEnvironment, elasticsearchUrl, type TestEnvironment } from "./support/harness.ts";
import { lastJob } from "./support/openverse.ts";
import { scriptedId } from "./support/sync-sources.ts";
import { type EsProxy, startEsProxy } from "./support/es-proxy.ts";
import { TcpProxy } from "./support/tcp-proxy.ts";

let t: TestEnvironment;
let proxy: TcpProxy;
let restarting: EsProxy;
let dir = "";
const scripted = `${new URL("../", import.meta.url).pathname}test/support/sync-sources.ts:ScriptedSource`;
const dropped = Array.from({ length: 10 }, (_, i) => scriptedId(i * 20 + 5));

async function config(file: string, options: string): Promise<string> {
  const path = join(dir, file);
  await Bun.write(path, `export default { datasets: { docs: {
  source: { kind: "postgres", table: "unused" },
  table: { key: "id" },
  index: { alias: "docs", batchDocuments: 20, concurrency: 1 },
  sync: { source: { kind: "module", module: ${JSON.stringify(scripted)}, options: ${options} } },
} } };\n`);
  return path;
}

async function versions(): Promise<Record<string, number>> {
  await fetch(`${elasticsearchUrl}/${t.indexPrefix}docs/_refresh`, { method: "POST" });
  const res = await fetch(`${elasticsearchUrl}/${t.indexPrefix}docs/_search?size=0`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ aggs: { v: { terms: { field: "_sluice_version", size: 10 } } }, track_total_hits: true }),
  }).then((r) => r.json() as Promise<{ hits: { total: { value: number } }; aggregations?: { v: { buckets: { key: string; doc_count: number }[] } } }>);
  return { total: res.hits.total.value, ...Object.fromEntries((res.aggregations?.v.buckets ?? []).map((b) => [b.key.split("@")[0]!, b.doc_count])) };
}

beforeAll(async () => {
  t = await createTestEnvironment("syncfault");
  dir = `/tmp/${t.name}`;
  mkdirSync(dir, { recursive: true });
  const es = new URL(elasticsearchUrl);
  proxy = new TcpProxy(es.hostname, Number(es.port));
  restarting = startEsProxy();
  expect((await t.sluice("migrate", "up")).code).toBe(0);
}, 60_000);
afterAll(async () => {
  proxy.stop();
  restarting.stop();
  await t.drop();
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

test("Elasticsearch down mid-sync: the sync fails naming it, deletes nothing; the next sync converges", async () => {
  const viaProxy = { ELASTICSEARCH_URL: `http://127.0.0.1:${proxy.port}` };
  const first = await config("a.config.ts", "{ count: 200 }");
  expect((await t.sluiceWith(viaProxy, "sync", "docs", "--config", first)).code).toBe(0);
  const [state] = await t.api`select cursor, last_job from sluice.sync_state where dataset = 'docs'`;

  const changed = await config("b.config.ts", `{ count: 200, version: "2", drop: ${JSON.stringify(dropped)}, delayMs: 10 }`);
  const running = t.sluiceWith(viaProxy, "sync", "docs", "--config", changed, "--full");
  await Bun.sleep(800);
  proxy.pause();
  proxy.dropAll();
  const { code } = await running;
  expect(code).toBe(1);
  const job = await lastJob(t, "docs", "sync");
  expect(job.state).toBe("failed");
  expect(job.error).toMatch(/ELASTICSEARCH_URL/);
  const partial = await versions();
  expect(partial.total).toBe(200);
  const [kept] = await t.api`select cursor, last_job from sluice.sync_state where dataset = 'docs'`;
  expect(kept).toEqual(state!);

  proxy.resume();
  const again = await config("c.config.ts", `{ count: 200, version: "2", drop: ${JSON.stringify(dropped)} }`);
  const { code: after, stdout } = await t.sluiceWith(viaProxy, "sync", "docs", "--config", again, "--full", "--json");
  expect(after).toBe(0);
  expect(JSON.parse(stdout).counters.deleted).toBe(10);
  expect(await versions()).toEqual({ total: 190, "2": 190 });
}, 120_000);

test("a node restarting under the sync's control calls: each is tried again and the sync converges", async () => {
  const viaProxy = { ELASTICSEARCH_URL: restarting.url };
  const alias = `${t.indexPrefix}sluiced`;
  const file = async (name: string, options: string) => {
    const path = await config(name, options);
    await Bun.write(path, (await Bun.file(path).text()).replaceAll("docs", "sluiced"));
    return path;
  };
  // The first sync makes an index-only generation: create and refresh.
  let before = restarting.cuts;
  restarting.cutNext(new RegExp(`^PUT /${alias}-g\\d+[\\s?]`), 2);
  restarting.cutNext(new RegExp(`^(GET|POST) /${alias}-g\\d+/_refresh[\\s?]`), 1);
  const first = await t.sluiceWith(viaProxy, "sync", "sluiced", "--config", await file("r1.config.ts", "{ count: 100 }"));
  // Before, the first cut ended the sync: "cannot sync sluiced into ELASTICSEARCH_URL …: socket hang up".
  expect(restarting.cuts - before).toBe(3);
  expect(first.code).toBe(0);

  // A full sync puts its fields in the mapping, counts unstamped documents and refreshes at the end.
  before = restarting.cuts;
  restarting.cutNext(/^PUT \/[^/\s?]+\/_mapping[\s?]/, 1);
  restarting.cutNext(/^(GET|POST) \/[^/\s?]+\/_count[\s?]/, 1);
  restarting.cutNext(/^(GET|POST) \/[^/\s?]+\/_refresh[\s?]/, 1);
  const dropped = Array.from({ length: 5 }, (_, i) => scriptedId(i * 20 + 3));
  const full = await t.sluiceWith(viaProxy, "sync", "sluiced", "--full", "--json", "--config", await file("r2.config.ts", `{ count: 100, version: "2", drop: ${JSON.stringify(dropped)} }`));
  expect(full.code).toBe(0);
  expect(restarting.cuts - before).toBe(3);
  expect(JSON.parse(full.stdout).counters.deleted).toBe(5);
  await fetch(`${elasticsearchUrl}/${alias}/_refresh`, { method: "POST" });
  const { count } = (await (await fetch(`${elasticsearchUrl}/${alias}/_count`)).json()) as { count: number };
  expect(count).toBe(95);
}, 120_000);
