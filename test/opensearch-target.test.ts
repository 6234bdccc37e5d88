/**
 * Issue 10, point 4: OpenSearch as a target. ELASTICSEARCH_URL points at the OpenSearch that
 * `scripts/services up` starts (OPENSEARCH_URL); sluice tells the engine when it connects and
 * speaks to it with OpenSearch's client. run, swap --rollback and ownership marks work as on
 * Elasticsearch.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { detectEngine, openSearch } from "../src/adapters/elasticsearch.ts";
import { aliasIndices, createTestEnvironment, elasticsearch8Url, elasticsearchUrl, opensearchUrl, searchCount, spawnSluice, type TestEnvironment } from "./support/harness.ts";
import { lastJob, loadOpenverseSample } from "./support/openverse.ts";

let t: TestEnvironment;
beforeAll(async () => {
  t = await createTestEnvironment("os_target", { searchUrl: opensearchUrl });
  await loadOpenverseSample(t, ["image"]);
  expect((await t.sluice("migrate", "up")).code).toBe(0);
});
afterAll(async () => {
  await t.drop();
});

async function markOf(index: string): Promise<{ database: string; dataset: string; generation: number } | null> {
  const res = await fetch(`${opensearchUrl}/${index}/_mapping`);
  if (!res.ok) return null;
  const body = (await res.json()) as Record<string, { mappings: { _meta?: { sluice?: { database: string; dataset: string; generation: number } } } }>;
  return Object.values(body)[0]?.mappings._meta?.sluice ?? null;
}

describe("the engine behind ELASTICSEARCH_URL", () => {
  test("is told apart when sluice connects: OpenSearch by GET /, the integ-test Elasticsearch (405 on GET /) by its header", async () => {
    expect(await detectEngine(opensearchUrl)).toEqual({ product: "opensearch", version: expect.stringMatching(/^2\./) });
    expect(await detectEngine(elasticsearchUrl)).toEqual({ product: "elasticsearch", version: expect.stringMatching(/^9\./) });
    if (elasticsearch8Url) expect(await detectEngine(elasticsearch8Url)).toEqual({ product: "elasticsearch", version: expect.stringMatching(/^8\./) });
    const client = await openSearch(opensearchUrl);
    try {
      expect(client.engine.product).toBe("opensearch");
      expect((await client.cluster.health({})).status).toMatch(/green|yellow/);
      expect(await client.indices.exists({ index: `${t.indexPrefix}nothing-here` })).toBe(false);
    } finally {
      await client.close();
    }
  });

  test("a server that is neither is refused with one line naming ELASTICSEARCH_URL", async () => {
    const other = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => Response.json({ name: "something else" }) });
    try {
      const url = `http://127.0.0.1:${other.port}`;
      await expect(detectEngine(url)).rejects.toThrow(`ELASTICSEARCH_URL (${url}/) is neither Elasticsearch nor OpenSearch (GET / answered null, without x-elastic-product)`);
    } finally {
      other.stop(true);
    }
  });

  test("config check names the engine", async () => {
    // Other checks fail here (no audio upstream, no registry); this one must pass.
    const { stdout } = await t.sluice("config", "check");
    expect(stdout).toMatch(/ok\s+elasticsearch: ELASTICSEARCH_URL \(http:\/\/127\.0\.0\.1:9250\/?\) answers: OpenSearch 2\.\d+\.\d+ cluster/);
  });
});

describe("sluice run image against OpenSearch", () => {
  test("builds generation 1 behind the alias, marked as this database's", async () => {
    expect((await t.sluice("run", "image")).code).toBe(0);
    expect((await lastJob(t, "image", "index")).state).toBe("succeeded");
    const [kept] = await t.upstream`select count(*)::int as n from image where not removed_from_source`;
    expect(await searchCount(`${t.indexPrefix}image`, opensearchUrl)).toBe(kept!.n);
    expect(await aliasIndices(`${t.indexPrefix}image`, opensearchUrl)).toEqual([`${t.indexPrefix}image-g1`]);
    const [identity] = await t.api`select id::text from sluice.database_identity`;
    expect(await markOf(`${t.indexPrefix}image-g1`)).toEqual({ database: identity!.id, dataset: "image", generation: 1 });
  });

  test("a rebuild goes live as generation 2, and swap --rollback brings generation 1 back", async () => {
    expect((await t.sluice("run", "image", "--rebuild")).code).toBe(0);
    expect(await aliasIndices(`${t.indexPrefix}image`, opensearchUrl)).toEqual([`${t.indexPrefix}image-g2`]);
    expect((await t.sluice("swap", "image", "--rollback")).code).toBe(0);
    expect(await aliasIndices(`${t.indexPrefix}image`, opensearchUrl)).toEqual([`${t.indexPrefix}image-g1`]);
    const [live] = await t.api`select number from sluice.generations where dataset = 'image' and state = 'live'`;
    expect(live!.number).toBe(1);
  });

  test("an index with no mark at the next generation's name is refused and kept", async () => {
    const [next] = await t.api`select coalesce(max(number), 0)::int + 1 as n from sluice.generations where dataset = 'image'`;
    const index = `${t.indexPrefix}image-g${next!.n}`;
    const put = await fetch(`${opensearchUrl}/${index}`, { method: "PUT", headers: { "content-type": "application/json" }, body: "{}" });
    expect(put.status).toBe(200);
    await fetch(`${opensearchUrl}/${index}/_doc/hand-1?refresh=true`, { method: "PUT", headers: { "content-type": "application/json" }, body: '{"title":"by hand"}' });
    expect((await t.sluice("run", "image", "--rebuild")).code).toBe(1);
    expect((await lastJob(t, "image", "index")).error).toStartWith(`index ${index} carries no sluice mark`);
    expect(await searchCount(index, opensearchUrl)).toBe(1);
    expect(await aliasIndices(`${t.indexPrefix}image`, opensearchUrl)).toEqual([`${t.indexPrefix}image-g1`]);
  });
});

describe("sync on OpenSearch", () => {
  test("is refused before anything is read or written, with one line naming OpenSearch and the way out", async () => {
    await t.upstream`create table notes (id integer primary key, title text not null)`;
    await t.upstream`insert into notes values (1, 'one'), (2, 'two')`;
    const config = `/tmp/${t.name}.sync.config.ts`;
    await Bun.write(config, `export default { datasets: { notes: { source: { kind: "postgres", table: "notes" }, table: { key: "id" }, index: { alias: "notes" } } } };\n`);
    const child = spawnSluice(["sync", "notes", "--config", config], t.childEnv());
    const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    expect(code).toBe(1);
    const errors = stderr.split("\n").filter((l: string) => l.includes("[error]") || l.includes("ERROR"));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain("sync is not supported on OpenSearch yet");
    expect(errors[0]).toContain("sluice run notes");
    expect((await fetch(`${opensearchUrl}/_cat/indices/${t.indexPrefix}notes*?h=index`).then((r) => r.text())).trim()).toBe("");
    const [{ n }] = (await t.api`select count(*)::int as n from sluice.generations where dataset = 'notes'`) as unknown as [{ n: number }];
    expect(n).toBe(0);
  });
});
