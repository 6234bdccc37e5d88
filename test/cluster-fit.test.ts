/**
 * Issue 10, point 3: know the cluster. The built-in Openverse body needs mapper-extras and
 * analysis-common. The core-only Elasticsearch lacks both: without leave to degrade, `run image`
 * is refused with one line naming them before anything is created; with it (as every other test
 * on that cluster runs, see test/support/harness.ts) it builds the degraded mapping and says so
 * at the start and in the summary. OpenSearch, which has both, gets Openverse's body untouched.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestEnvironment, elasticsearchUrl, nodeVersion, opensearchUrl, spawnSluice, type TestEnvironment } from "./support/harness.ts";
import { loadOpenverseSample } from "./support/openverse.ts";

let es: TestEnvironment;
let os: TestEnvironment;
beforeAll(async () => {
  es = await createTestEnvironment("fit_es");
  os = await createTestEnvironment("fit_os", { searchUrl: opensearchUrl });
  for (const t of [es, os]) {
    await loadOpenverseSample(t, ["audio"]);
    expect((await t.sluice("migrate", "up")).code).toBe(0);
  }
});
afterAll(async () => {
  await es.drop();
  await os.drop();
});

async function mappingOf(base: string, index: string): Promise<{ settings: any; mappings: any }> {
  const [mapping, settings] = await Promise.all([fetch(`${base}/${index}/_mapping`).then((r) => r.json()), fetch(`${base}/${index}/_settings`).then((r) => r.json())]);
  const name = Object.keys(mapping as object)[0]!;
  return { mappings: (mapping as any)[name].mappings, settings: (settings as any)[name].settings };
}

describe("the core-only Elasticsearch", () => {
  test("without leave to degrade, run audio is refused with one line naming the modules, exit 1, nothing created", async () => {
    const child = spawnSluice(["run", "audio"], { ...es.childEnv(), SLUICE_INDEX_DEGRADE: "", SLUICE_LOG_LEVEL: "error" });
    const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    expect(code).toBe(1);
    const line =
      `the audio mapping needs mapper-extras (rank_feature) and analysis-common (stemmer, stemmer_override), which ELASTICSEARCH_URL (${new URL(elasticsearchUrl)}, Elasticsearch ${await nodeVersion()}) lacks ` +
      "(point sluice at a cluster with mapper-extras and analysis-common, or set index.degrade (or SLUICE_INDEX_DEGRADE) to ranking,stemming to build without ranking and stemming)";
    expect(stderr).toContain(line);
    expect(stderr.split("\n").filter((l) => l.includes("the audio mapping needs")).length).toBe(1);
    const [generations] = await es.api`select count(*)::int as n from sluice.generations`;
    expect(generations!.n).toBe(0);
    const tables = await es.api`select tablename from pg_tables where schemaname = 'public'`;
    expect(tables.length).toBe(0);
    const indices = await fetch(`${elasticsearchUrl}/_cat/indices/${es.indexPrefix}*?h=index`).then((r) => r.text());
    expect(indices.trim()).toBe("");
  });

  test("leave for only one of the two is still refused", async () => {
    const { code } = await es.sluiceWith({ SLUICE_INDEX_DEGRADE: "ranking" }, "run", "audio");
    expect(code).toBe(1);
    const [generations] = await es.api`select count(*)::int as n from sluice.generations`;
    expect(generations!.n).toBe(0);
  });

  test("a degradation sluice does not know is a configuration error (exit 2)", async () => {
    expect((await es.sluiceWith({ SLUICE_INDEX_DEGRADE: "ranking,speed" }, "run", "audio")).code).toBe(2);
  });

  test("with leave, it builds the degraded mapping and names what is lost in the summary", async () => {
    const { code, stdout } = await es.sluiceWith({ SLUICE_INDEX_DEGRADE: "ranking,stemming" }, "run", "audio", "--json");
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { warnings: string[] };
    expect(report.warnings).toEqual([expect.stringMatching(/^audio: ELASTICSEARCH_URL \(.*\) lacks mapper-extras \(rank_feature\) and analysis-common \(stemmer, stemmer_override\); indexing without ranking \(.*\); stemming \(.*\)$/)]);
    const { mappings, settings } = await mappingOf(elasticsearchUrl, `${es.indexPrefix}audio`);
    expect(mappings.properties.standardized_popularity).toEqual({ type: "float" });
    expect(settings.index.analysis.analyzer.custom_english).toEqual({ filter: ["lowercase", "english_stop"], tokenizer: "standard" });
  });
});

describe("OpenSearch with the modules", () => {
  test("gets Openverse's body untouched and no warning", async () => {
    const { code, stdout } = await os.sluice("run", "audio", "--json");
    expect(code).toBe(0);
    expect((JSON.parse(stdout) as { warnings: string[] }).warnings).toEqual([]);
    const { mappings, settings } = await mappingOf(opensearchUrl, `${os.indexPrefix}audio`);
    expect(mappings.properties.standardized_popularity).toEqual({ type: "rank_feature" });
    expect(mappings.properties.authority_penalty).toEqual({ type: "rank_feature", positive_score_impact: false });
    expect(settings.index.analysis.analyzer.custom_english.filter).toEqual(["stem_overrides", "english_possessive_stemmer", "lowercase", "english_stop", "english_stemmer"]);
  });
});
