/**
 * Issue 14, point 1: the filtered twin, built in the same pass as the full index, checked against
 * Openverse's own method (a `must_not` query over the full index) on the samples; swapped and
 * rolled back with the full index, ownership-marked, and counted per term on the index job.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { aliasIndices, createTestEnvironment, elasticsearchUrl, type TestEnvironment } from "./support/harness.ts";
import { lastJob, loadOpenverseSample } from "./support/openverse.ts";
import { parseTermsFile } from "../src/transforms/sensitive-terms.ts";

const datasetsModule = new URL("../src/datasets/openverse/datasets.ts", import.meta.url).pathname;
const shippedTerms = parseTermsFile(await Bun.file(new URL("../src/datasets/openverse/sensitive-terms.txt", import.meta.url).pathname).text());
let t: TestEnvironment;

async function ids(index: string, query: Record<string, unknown> = { match_all: {} }): Promise<string[]> {
  const res = await fetch(`${elasticsearchUrl}/${index}/_search`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query, size: 10_000, _source: false, sort: ["_doc"] }),
  });
  const body = (await res.json()) as any;
  expect(res.status).toBe(200);
  return body.hits.hits.map((h: any) => h._id as string).sort();
}

async function flatSettings(index: string): Promise<Record<string, string>> {
  const res = await fetch(`${elasticsearchUrl}/${index}/_settings?flat_settings=true`);
  expect(res.status).toBe(200);
  return ((await res.json()) as any)[index].settings;
}

/** Openverse's filtered index: a `must_not` of each term in the unstemmed `.raw` fields. */
function openverseMustNot(terms: string[]): Record<string, unknown> {
  const lower = terms.map((term) => term.toLowerCase());
  return { bool: { must_not: ["tags.name", "title", "description"].map((field) => ({ terms: { [`${field}.raw`]: lower } })) } };
}

beforeAll(async () => {
  t = await createTestEnvironment("twin");
  await loadOpenverseSample(t);
  expect((await t.sluice("migrate", "up")).code).toBe(0);
}, 60_000);
afterAll(async () => {
  await t.drop();
});

describe("the filtered twin", () => {
  test("built-in image: the twin is the full index minus the documents a shipped term is in, exactly as Openverse's must_not finds them", async () => {
    expect((await t.sluice("run", "image")).code).toBe(0);
    const full = `${t.indexPrefix}image-g1`;
    const twin = `${t.indexPrefix}image-filtered-g1`;
    expect(await aliasIndices(`${t.indexPrefix}image-filtered`)).toEqual([twin]);
    expect(await ids(twin)).toEqual(await ids(full, openverseMustNot(shippedTerms)));
    const index = await lastJob(t, "image", "index");
    const all = (await ids(full)).length;
    expect(index.counters.keptOut).toBeGreaterThan(0);
    expect(index.counters.keptOut).toBe(all - (await ids(twin)).length);
    expect(index.counters.documents).toEqual({ [full]: all, [twin]: all - index.counters.keptOut });
    // The twin is a clone of the full index: the full index's write block was lifted afterwards, on
    // both; and the body's replicas (0) hold on both (a clone left alone takes 1: a yellow twin).
    for (const index of [full, twin]) {
      const settings = await flatSettings(index);
      expect(settings["index.blocks.write"] ?? "false").toBe("false");
      expect(settings["index.number_of_replicas"]).toBe("0");
    }
  }, 120_000);

  test("with common words as terms: many kept out, each term counted, same ids as the must_not", async () => {
    // The commonest title words and tag names of the sample, so that the twin leaves out hundreds.
    const words = await t.api`
      (select lower(w) as term from image, regexp_split_to_table(title, '[^[:alnum:]]+') w where length(w) > 3 group by 1 order by count(*) desc, 1 limit 3)
      union
      (select lower(tag->>'name') from image, jsonb_array_elements(tags) tag where tag->>'name' ~ '^[a-z]+$' group by 1 order by count(*) desc, 1 limit 2)`;
    const terms = words.map((r) => r.term as string);
    const termsFile = `/tmp/${t.name}.terms.txt`;
    // Upper case in the file: matching ignores case. Forty more terms that match nothing make the
    // list long enough for the matcher's Aho–Corasick path (over 32 terms), checked here against Openverse's method.
    const filler = Array.from({ length: 40 }, (_, i) => `zqfiller${i}`);
    await Bun.write(termsFile, `# test terms\n${[...terms.map((w) => w.toUpperCase()), ...filler].join("\n")}\n`);
    const config = `/tmp/${t.name}.twin.config.ts`;
    await Bun.write(config, `import { defineConfig } from "sluice";
import { openverseDatasets } from ${JSON.stringify(datasetsModule)};
export default defineConfig({ datasets: { image: { ...openverseDatasets.image, index: { ...openverseDatasets.image.index, filtered: { termsFile: ${JSON.stringify(termsFile)} } } } } });
`);
    expect((await t.sluice("run", "image", "--config", config)).code).toBe(0);
    const full = `${t.indexPrefix}image-g2`;
    const twin = `${t.indexPrefix}image-filtered-g2`;
    const kept = await ids(twin);
    const all = await ids(full);
    expect(kept).toEqual(await ids(full, openverseMustNot(terms)));
    expect(all.length - kept.length).toBeGreaterThan(100);
    const index = await lastJob(t, "image", "index");
    expect(index.counters.keptOut).toBe(all.length - kept.length);
    // Per term: how many documents each kept out, each checked against a query for that term alone.
    for (const term of terms.map((w) => w.toUpperCase())) {
      const alone = (await ids(full, { bool: { should: ["tags.name", "title", "description"].map((f) => ({ term: { [`${f}.raw`]: term.toLowerCase() } })) } })).length;
      expect(index.counters.filtered[term] ?? 0).toBe(alone);
    }
    // Both aliases moved in the one swap; the twin carries sluice's ownership mark.
    expect(await aliasIndices(`${t.indexPrefix}image`)).toEqual([full]);
    expect(await aliasIndices(`${t.indexPrefix}image-filtered`)).toEqual([twin]);
    const mapping = (await (await fetch(`${elasticsearchUrl}/${twin}/_mapping`)).json()) as any;
    expect(mapping[twin].mappings._meta.sluice).toMatchObject({ dataset: "image", generation: 2 });
  }, 120_000);

  test("rollback moves both aliases back together", async () => {
    expect((await t.sluice("swap", "image", "--rollback")).code).toBe(0);
    expect(await aliasIndices(`${t.indexPrefix}image`)).toEqual([`${t.indexPrefix}image-g1`]);
    expect(await aliasIndices(`${t.indexPrefix}image-filtered`)).toEqual([`${t.indexPrefix}image-filtered-g1`]);
  }, 120_000);

  test("audio has its twin too", async () => {
    expect((await t.sluice("run", "audio")).code).toBe(0);
    expect(await ids(`${t.indexPrefix}audio-filtered-g1`)).toEqual(await ids(`${t.indexPrefix}audio-g1`, openverseMustNot(shippedTerms)));
  }, 120_000);

  test("upgrading: a generation built before the twin is replaced by one with it; rolling back to it is refused, not half done", async () => {
    const noTwin = `/tmp/${t.name}.notwin.config.ts`;
    await Bun.write(noTwin, `import { openverseDatasets } from ${JSON.stringify(datasetsModule)};
const { filtered: _twin, ...index } = openverseDatasets.audio.index as Record<string, unknown>;
export default { datasets: { audio: { ...openverseDatasets.audio, index } } };
`);
    expect((await t.sluice("run", "audio", "--config", noTwin, "--rebuild")).code).toBe(0);
    expect(await aliasIndices(`${t.indexPrefix}audio`)).toEqual([`${t.indexPrefix}audio-g2`]);
    // Without the twin in the configuration, its alias is left where it was.
    expect(await aliasIndices(`${t.indexPrefix}audio-filtered`)).toEqual([`${t.indexPrefix}audio-filtered-g1`]);
    expect((await t.sluice("run", "audio")).code).toBe(0);
    expect(await aliasIndices(`${t.indexPrefix}audio`)).toEqual([`${t.indexPrefix}audio-g3`]);
    expect(await aliasIndices(`${t.indexPrefix}audio-filtered`)).toEqual([`${t.indexPrefix}audio-filtered-g3`]);
    expect((await t.sluice("swap", "audio", "--rollback")).code).toBe(1);
    expect(await aliasIndices(`${t.indexPrefix}audio`)).toEqual([`${t.indexPrefix}audio-g3`]);
    expect(await aliasIndices(`${t.indexPrefix}audio-filtered`)).toEqual([`${t.indexPrefix}audio-filtered-g3`]);
  }, 120_000);

  test("a body's replicas and refresh interval, written as Openverse's body writes them (settings.index), come back on the full index and its twin", async () => {
    const bodyModule = new URL("../src/datasets/openverse/index-body.ts", import.meta.url).pathname;
    const config = `/tmp/${t.name}.serving.config.ts`;
    await Bun.write(config, `import { openverseDatasets } from ${JSON.stringify(datasetsModule)};
import { audioIndexBody } from ${JSON.stringify(bodyModule)};
export default { datasets: { audio: { ...openverseDatasets.audio, index: { ...openverseDatasets.audio.index, body: audioIndexBody({ replicas: 1, refreshInterval: "30s" }) } } } };
`);
    // One node: the replica stays unassigned (yellow), which neither the load nor the clone waits on.
    expect((await t.sluice("run", "audio", "--config", config, "--rebuild")).code).toBe(0);
    for (const index of [`${t.indexPrefix}audio-g4`, `${t.indexPrefix}audio-filtered-g4`]) {
      const settings = await flatSettings(index);
      expect([index, settings["index.number_of_replicas"], settings["index.refresh_interval"]]).toEqual([index, "1", "30s"]);
    }
    expect(await aliasIndices(`${t.indexPrefix}audio-filtered`)).toEqual([`${t.indexPrefix}audio-filtered-g4`]);
  }, 120_000);
});
