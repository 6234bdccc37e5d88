/**
 * Issue 15, point 6: both Elasticsearch majors are served. The main flow (migrate, refresh, index,
 * swap, a search hit, swap --rollback, sync) runs against every major `scripts/services up` gives:
 * ELASTICSEARCH_URL (9, the pin) and ELASTICSEARCH8_URL (8.19), each through the client of its
 * major. Outside CI a missing ELASTICSEARCH8_URL skips the 8 half, saying so; in CI it fails.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { openSearch, type SearchClient } from "../src/adapters/elasticsearch.ts";
import { aliasIndices, createTestEnvironment, elasticsearch8Url, elasticsearchUrl, nodeVersion, type TestEnvironment } from "./support/harness.ts";
import { lastJob } from "./support/openverse.ts";

const inCi = Boolean(process.env.CI) && process.env.CI !== "false" && process.env.CI !== "0";

const targets = [
  { variable: "ELASTICSEARCH_URL", url: elasticsearchUrl, major: 9 },
  ...(elasticsearch8Url ? [{ variable: "ELASTICSEARCH8_URL", url: elasticsearch8Url, major: 8 }] : []),
];

describe("the Elasticsearch majors under test", () => {
  test("ELASTICSEARCH_URL is Elasticsearch 9, the pinned default", async () => {
    expect(await nodeVersion(elasticsearchUrl)).toMatch(/^9\./);
  });

  const eightUrl = elasticsearch8Url;
  if (eightUrl) {
    test("ELASTICSEARCH8_URL is Elasticsearch 8", async () => {
      expect(await nodeVersion(eightUrl)).toMatch(/^8\./);
    });
  } else if (inCi) {
    test("ELASTICSEARCH8_URL is set (CI runs the main flow on Elasticsearch 8 too)", () => {
      expect(process.env.ELASTICSEARCH8_URL, "scripts/services up exports ELASTICSEARCH8_URL unless SLUICE_ES8=0").toBeTruthy();
    });
  } else {
    console.warn("es-majors: ELASTICSEARCH8_URL is unset, so the Elasticsearch 8 half is skipped (`scripts/services up` starts 8.19 on 9201)");
    test.skip("Elasticsearch 8: skipped because ELASTICSEARCH8_URL is unset (`scripts/services up` starts 8.19 on 9201)", () => {});
  }
});

function configText(): string {
  return `export default { datasets: { notes: {
  source: { kind: "postgres", table: "notes", removedColumn: "removed" },
  table: { key: "id" },
  index: { alias: "notes", body: { mappings: { dynamic: "strict", properties: { id: { type: "keyword" }, title: { type: "text" }, removed: { type: "boolean" }, updated_at: { type: "date" } } } } },
  sync: { cursorColumn: "updated_at" },
} } };\n`;
}

for (const target of targets) {
  describe(`the main flow on ${target.variable} (Elasticsearch ${target.major})`, () => {
    let t: TestEnvironment;
    let es: SearchClient;
    let config = "";
    let alias = "";
    const run = (...args: string[]) => t.sluice(...args, "--config", config);
    const generationIndices = async (n: number) => (await t.api`select index_name from sluice.generations where dataset = 'notes' and number = ${n}`).map((r) => r.index_name as string);
    const titleHits = async (words: string) => {
      await es.indices.refresh({ index: alias });
      const res = await es.search({ index: alias, query: { match: { title: { query: words, operator: "and" } } } });
      return res.hits.hits.map((h) => h._id);
    };

    beforeAll(async () => {
      t = await createTestEnvironment(`es${target.major}`, { searchUrl: target.url });
      alias = `${t.indexPrefix}notes`;
      config = `/tmp/${t.name}.config.ts`;
      await Bun.write(config, configText());
      await t.upstream`create table notes (id integer primary key, title text not null, removed boolean not null default false, updated_at timestamptz not null default now())`;
      await t.upstream`insert into notes (id, title, updated_at) select n, 'note ' || n, now() - interval '1 day' from generate_series(1, 30) n`;
      es = await openSearch(target.url);
    }, 60_000);
    afterAll(async () => {
      await es?.close();
      await t?.drop();
    }, 120_000);

    test(`sluice talks to it through the ${target.major} client`, () => {
      expect(es.engine).toMatchObject({ product: "elasticsearch", version: expect.stringMatching(new RegExp(`^${target.major}\\.`)) });
      expect(es.client).toBe(`@elastic/elasticsearch ${target.major}`);
    });

    test("migrate, refresh, index and swap publish generation 1, and a search finds a row", async () => {
      expect((await t.sluice("migrate", "up")).code).toBe(0);
      expect((await run("refresh", "notes")).code).toBe(0);
      expect((await run("index", "notes")).code).toBe(0);
      expect((await run("swap", "notes")).code).toBe(0);
      expect(await aliasIndices(alias, target.url)).toEqual(await generationIndices(1));
      expect(await titleHits("note 7")).toEqual(["7"]);
    });

    test("a second generation goes live, and swap --rollback brings the first back", async () => {
      await t.upstream`update notes set title = 'renamed seven', updated_at = now() where id = 7`;
      expect((await run("refresh", "notes")).code).toBe(0);
      expect((await run("index", "notes")).code).toBe(0);
      expect((await run("swap", "notes")).code).toBe(0);
      expect(await aliasIndices(alias, target.url)).toEqual(await generationIndices(2));
      expect(await titleHits("renamed seven")).toEqual(["7"]);

      expect((await run("swap", "notes", "--rollback")).code).toBe(0);
      expect(await aliasIndices(alias, target.url)).toEqual(await generationIndices(1));
      expect(await titleHits("renamed seven")).toEqual([]);
      expect(await titleHits("note 7")).toEqual(["7"]);
    });

    test("sync brings a row inserted upstream into the live index", async () => {
      // The first sync of a dataset builds a generation of its own; the next one follows the cursor.
      expect((await run("sync", "notes")).code).toBe(0);
      await t.upstream`insert into notes (id, title, updated_at) values (31, 'fresh arrival', now() + interval '1 second')`;
      const { code, stdout } = await run("sync", "notes", "--json");
      expect(code).toBe(0);
      expect(JSON.parse(stdout).mode).toBe("incremental");
      expect(await titleHits("fresh arrival")).toEqual(["31"]);
      expect((await lastJob(t, "notes", "sync")).state).toBe("succeeded");
    });
  });
}

describe("one pin everywhere", () => {
  test("docker-compose.yml runs the versions scripts/services pins", async () => {
    const root = new URL("../", import.meta.url).pathname;
    const services = await Bun.file(`${root}scripts/services`).text();
    const compose = await Bun.file(`${root}docker-compose.yml`).text();
    const nine = services.match(/^ES9_VERSION=\$\{SLUICE_ES_VERSION:-([0-9.]+)\}$/m)?.[1];
    const eight = services.match(/^ES8_VERSION=\$\{SLUICE_ES8_VERSION:-([0-9.]+)\}$/m)?.[1];
    expect(nine).toMatch(/^9\./);
    expect(eight).toMatch(/^8\./);
    const images = [...compose.matchAll(/image: docker\.elastic\.co\/elasticsearch\/elasticsearch:(\S+)/g)].map((m) => m[1]);
    expect(images).toEqual([nine, eight]);
  });
});
