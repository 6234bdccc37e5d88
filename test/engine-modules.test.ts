/**
 * Issue 10, point 4: the engines `scripts/services up` starts, and what each can do.
 *
 * OpenSearch (OPENSEARCH_URL) is the engine with the standard modules: analysis-common (stemmers,
 * the `english` analyzer), mapper-extras (`rank_feature`), lang-painless, reindex and rank-eval, which
 * scripts/services lays out from Maven Central. Elasticsearch (ELASTICSEARCH_URL) is the Maven
 * Central integ-test zip, which has none of them; the last block records that difference, so that
 * a mapping bent to fit it is a choice and not an accident.
 *
 * Plain fetch on purpose: this is about the servers, not about a client library.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const opensearchUrl = (process.env.OPENSEARCH_URL ?? "http://127.0.0.1:9250").replace(/\/$/, "");
const elasticsearchUrl = (process.env.ELASTICSEARCH_URL ?? "http://127.0.0.1:9200").replace(/\/$/, "");

const suffix = Math.random().toString(36).slice(2, 8);
const created: Array<[string, string]> = [];

/** A fresh index name on BASE, deleted after the file. */
function indexName(base: string, label: string): string {
  const name = `sluice-t-engine-${label}-${suffix}`;
  created.push([base, name]);
  return name;
}

async function call(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any; text: string }> {
  let response: Response;
  try {
    response = await fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": typeof body === "string" ? "application/x-ndjson" : "application/json" },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
  } catch (error) {
    throw new Error(`${base} does not answer (${(error as Error).message}); run \`eval "$(scripts/services up)"\` or set OPENSEARCH_URL / ELASTICSEARCH_URL`);
  }
  const text = await response.text();
  let json: any = undefined;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: response.status, json, text };
}

async function moduleNames(base: string): Promise<string[]> {
  const { status, json } = await call(base, "GET", "/_nodes/plugins?filter_path=nodes.*.modules.name");
  expect(status).toBe(200);
  const nodes = Object.values(json.nodes) as Array<{ modules: Array<{ name: string }> }>;
  expect(nodes.length).toBe(1);
  return nodes[0]!.modules.map((m) => m.name).sort();
}

async function englishTokens(base: string, text: string): Promise<{ status: number; tokens: string[]; error: string }> {
  const { status, json } = await call(base, "POST", "/_analyze", { analyzer: "english", text });
  return { status, tokens: (json?.tokens ?? []).map((t: { token: string }) => t.token), error: json?.error?.reason ?? "" };
}

const openverseFixtures = join(import.meta.dir, "fixtures/openverse/api");

/** Openverse's own index body (es_mapping.py as JSON), without our provenance key. */
function openverseIndexBody(media: "image" | "audio"): Record<string, unknown> {
  const { _source, ...body } = JSON.parse(readFileSync(join(openverseFixtures, `${media}.index.json`), "utf8"));
  return body;
}

interface OpenverseQuery {
  name: string;
  media: "image" | "audio";
  es_request: { path: string; params: Record<string, string> };
  body: unknown;
}

const rankFeatureMapping = {
  settings: { number_of_shards: 1, number_of_replicas: 0 },
  mappings: {
    properties: {
      title: { type: "text", analyzer: "english" },
      standardized_popularity: { type: "rank_feature" },
      popularity_as_float: { type: "float" },
    },
  },
};

afterAll(async () => {
  for (const [base, name] of created) {
    await call(base, "DELETE", `/${name}?ignore_unavailable=true`).catch(() => {});
  }
});

describe("OpenSearch at OPENSEARCH_URL has the standard modules", () => {
  test("it is OpenSearch, and `GET /` answers", async () => {
    const { status, json } = await call(opensearchUrl, "GET", "/");
    expect(status).toBe(200);
    expect(json.version.distribution).toBe("opensearch");
  });

  test("_nodes/plugins lists analysis-common, mapper-extras, lang-painless, reindex and rank-eval", async () => {
    const modules = await moduleNames(opensearchUrl);
    expect(modules).toEqual(expect.arrayContaining(["analysis-common", "mapper-extras", "lang-painless", "reindex", "rank-eval", "transport-netty4"]));
  });

  test("the english analyzer stems: cats -> cat, running -> run", async () => {
    const { status, tokens } = await englishTokens(opensearchUrl, "cats running");
    expect(status).toBe(200);
    expect(tokens).toEqual(["cat", "run"]);
  });

  test("a rank_feature field takes documents and a rank_feature query ranks by it", async () => {
    const index = indexName(opensearchUrl, "rank");
    const createIndex = await call(opensearchUrl, "PUT", `/${index}`, rankFeatureMapping);
    expect(createIndex.status).toBe(200);
    const mapping = await call(opensearchUrl, "GET", `/${index}/_mapping`);
    expect(mapping.json[index].mappings.properties.standardized_popularity.type).toBe("rank_feature");

    const docs = [
      { id: "unpopular", title: "A cat", pop: 0.5 },
      { id: "popular", title: "Cats", pop: 40 },
      { id: "middling", title: "The cat", pop: 5 },
      { id: "dog", title: "A dog", pop: 90 },
    ];
    const bulk = docs
      .map((d) => `${JSON.stringify({ index: { _id: d.id } })}\n${JSON.stringify({ title: d.title, standardized_popularity: d.pop, popularity_as_float: d.pop })}\n`)
      .join("");
    const indexed = await call(opensearchUrl, "POST", `/${index}/_bulk?refresh=true`, bulk);
    expect(indexed.status).toBe(200);
    expect(indexed.json.errors).toBe(false);

    // The shape Openverse's default search uses: text must match, rank_feature only reorders.
    const search = await call(opensearchUrl, "POST", `/${index}/_search`, {
      query: { bool: { must: [{ match: { title: "cat" } }], should: [{ rank_feature: { field: "standardized_popularity", boost: 10000 } }] } },
    });
    expect(search.status).toBe(200);
    expect(search.json.hits.hits.map((h: { _id: string }) => h._id)).toEqual(["popular", "middling", "unpopular"]);

    // The failure issue 10 reports: the same query on a float field is refused, on any cluster.
    const onFloat = await call(opensearchUrl, "POST", `/${index}/_search`, {
      query: { rank_feature: { field: "popularity_as_float" } },
    });
    expect(onFloat.status).toBe(400);
    expect(onFloat.text).toContain("rank_feature");
  }, 30_000);

  test("painless runs a script and reindex copies an index", async () => {
    const executed = await call(opensearchUrl, "POST", "/_scripts/painless/_execute", {
      script: { source: "params.a * 2", params: { a: 21 } },
    });
    expect(executed.status).toBe(200);
    expect(executed.json.result).toBe("42");

    const source = indexName(opensearchUrl, "reindex-src");
    const dest = indexName(opensearchUrl, "reindex-dest");
    const put = await call(opensearchUrl, "POST", `/${source}/_bulk?refresh=true`, `{"index":{"_id":"1"}}\n{"n":1}\n{"index":{"_id":"2"}}\n{"n":2}\n`);
    expect(put.json.errors).toBe(false);
    const reindexed = await call(opensearchUrl, "POST", "/_reindex?refresh=true", {
      source: { index: source },
      dest: { index: dest },
      script: { source: "ctx._source.n = ctx._source.n * 10" },
    });
    expect(reindexed.status).toBe(200);
    expect(reindexed.json.created).toBe(2);
    const copied = await call(opensearchUrl, "POST", `/${dest}/_search`, { sort: ["n"] });
    expect(copied.json.hits.hits.map((h: { _source: { n: number } }) => h._source.n)).toEqual([10, 20]);
  }, 30_000);
});

describe("Openverse's index bodies and queries (test/fixtures/openverse/api) on OpenSearch", () => {
  test("both index bodies are accepted, and custom_english stems and keeps its overrides", async () => {
    for (const media of ["image", "audio"] as const) {
      const index = indexName(opensearchUrl, `openverse-${media}`);
      const created = await call(opensearchUrl, "PUT", `/${index}`, openverseIndexBody(media));
      expect(created.status).toBe(200);
      const analyzed = await call(opensearchUrl, "POST", `/${index}/_analyze`, { analyzer: "custom_english", text: "The cats' animals universe" });
      expect(analyzed.json.tokens.map((t: { token: string }) => t.token)).toEqual(["cat", "animal", "universe"]);
    }
  }, 60_000);

  test("every query body in queries.json is accepted", async () => {
    const { queries } = JSON.parse(readFileSync(join(openverseFixtures, "queries.json"), "utf8")) as { queries: OpenverseQuery[] };
    expect(queries.length).toBeGreaterThan(30);
    // The queries name `image`, `audio` and their `-filtered` twins; map each to an index of ours.
    const indices = new Map<string, string>();
    for (const target of ["image", "image-filtered", "audio", "audio-filtered"]) {
      const index = indexName(opensearchUrl, `openverse-q-${target}`);
      const body = openverseIndexBody(target.startsWith("image") ? "image" : "audio") as { settings: { index: Record<string, unknown> } };
      // One shard instead of Openverse's 18: the shard count does not change what a query may
      // ask, and 4 x 18 shards take seconds on a small machine (the test above keeps the 18).
      body.settings.index.number_of_shards = 1;
      const created = await call(opensearchUrl, "PUT", `/${index}`, body);
      expect(created.status).toBe(200);
      indices.set(target, index);
    }
    const refused: string[] = [];
    for (const query of queries) {
      const [, target, endpoint] = query.es_request.path.split("/");
      const index = indices.get(target!);
      expect(index).toBeDefined();
      const params = new URLSearchParams(query.es_request.params).toString();
      const { status, text } = await call(opensearchUrl, "POST", `/${index}/${endpoint}?${params}`, query.body);
      if (status !== 200) refused.push(`${query.name}: ${status} ${text.slice(0, 200)}`);
    }
    expect(refused).toEqual([]);
  }, 60_000);
});

describe("Elasticsearch at ELASTICSEARCH_URL (the Maven Central integ-test zip) lacks them", () => {
  test("its modules are only apm, transport-netty4, x-pack-core and x-pack-security", async () => {
    expect(await moduleNames(elasticsearchUrl)).toEqual(["apm", "transport-netty4", "x-pack-core", "x-pack-security"]);
  });

  test("a rank_feature mapping is refused (no mapper-extras)", async () => {
    const index = indexName(elasticsearchUrl, "rank");
    const { status, text } = await call(elasticsearchUrl, "PUT", `/${index}`, {
      mappings: { properties: { standardized_popularity: { type: "rank_feature" } } },
    });
    expect(status).toBe(400);
    expect(text).toContain("The mapper type [rank_feature] declared on field [standardized_popularity] does not exist");
  });

  test("Openverse's image index body is refused", async () => {
    const index = indexName(elasticsearchUrl, "openverse-image");
    const { status } = await call(elasticsearchUrl, "PUT", `/${index}`, openverseIndexBody("image"));
    expect(status).toBe(400);
  });

  test("there is no english analyzer (no analysis-common)", async () => {
    const { status, error } = await englishTokens(elasticsearchUrl, "cats");
    expect(status).toBe(400);
    expect(error).toBe("failed to find global analyzer [english]");
  });

  test("no painless, no reindex, and `GET /` answers 405", async () => {
    // Without lang-painless the path is read as "store a script with id painless": refused.
    const painless = await call(elasticsearchUrl, "POST", "/_scripts/painless/_execute", { script: { source: "1" } });
    expect(painless.status).toBe(400);
    expect(painless.json.result).toBeUndefined();
    expect((await call(elasticsearchUrl, "POST", "/_reindex", { source: { index: "a" }, dest: { index: "b" } })).status).toBe(405);
    expect((await call(elasticsearchUrl, "GET", "/")).status).toBe(405);
  });
});
