/**
 * Issue 14, point 2: search checks run against the new index beside live before the alias moves.
 * A failing check refuses the swap (live untouched, the generation kept ready), its results are
 * stored on the swap job and shown by `job show`; `--force` promotes anyway.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { aliasIndices, createTestEnvironment, spawnSluice, type TestEnvironment } from "./support/harness.ts";
import { startEsProxy } from "./support/es-proxy.ts";
import { lastJob, loadOpenverseSample } from "./support/openverse.ts";

const datasetsModule = new URL("../src/datasets/openverse/datasets.ts", import.meta.url).pathname;
let t: TestEnvironment;
let config: string;
let word: string;
let liveHits: number;
let renamed: string;
let kept: string;

async function titleHits(index: string, w: string): Promise<{ total: number; ids: string[] }> {
  const res = await fetch(`${process.env.ELASTICSEARCH_URL}/${index}/_search`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: { match: { title: w } }, size: 1000, track_total_hits: true, _source: false }),
  });
  const body = (await res.json()) as any;
  return { total: body.hits.total.value, ids: body.hits.hits.map((h: any) => h._id) };
}

beforeAll(async () => {
  t = await createTestEnvironment("checks");
  await loadOpenverseSample(t, ["image"]);
  expect((await t.sluice("migrate", "up")).code).toBe(0);
  expect((await t.sluice("run", "image")).code).toBe(0);
  // The commonest title word of the live rows; half of its rows lose it upstream.
  [{ word }] = (await t.api`
    select lower(w) as word from image, regexp_split_to_table(title, '[^[:alnum:]]+') w
    where length(w) > 3 group by 1 order by count(distinct identifier) desc, 1 limit 1`) as unknown as [{ word: string }];
  const live = await titleHits(`${t.indexPrefix}image`, word);
  liveHits = live.total;
  expect(liveHits).toBeGreaterThanOrEqual(6);
  const ids = [...live.ids].sort();
  const losing = ids.slice(0, Math.ceil(ids.length / 2));
  renamed = losing[0]!;
  kept = ids.at(-1)!;
  await t.upstream`update image set title = regexp_replace(title, ${word}, 'zq', 'gi') where identifier = any(${losing}::uuid[])`;
  config = `/tmp/${t.name}.checks.config.ts`;
  await Bun.write(config, `import { defineConfig } from "sluice";
import { openverseDatasets } from ${JSON.stringify(datasetsModule)};
export default defineConfig({ datasets: { image: { ...openverseDatasets.image, swap: { checks: [
  { name: "everything", query: "*:*", minHits: 1000 },
  { name: "${word} keeps its hits", query: { match: { title: ${JSON.stringify(word)} } }, minShareOfLive: 0.9 },
  { name: "${word}: a renamed row", query: { match: { title: ${JSON.stringify(word)} } }, expectId: "${renamed}", withinTop: 1000 },
  { name: "${word}: a kept row", query: { match: { title: ${JSON.stringify(word)} } }, expectId: "${kept}", withinTop: 1000 },
] } } } });
`);
}, 60_000);
afterAll(async () => {
  await t.drop();
});

describe("search checks before swap", () => {
  test("a failing check refuses the swap; live is untouched and the generation stays ready", async () => {
    const liveTitles = await t.api`select identifier::text, title from image order by 1`;
    const child = spawnSluice(["run", "image", "--config", config], t.childEnv());
    const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    expect(code).toBe(1);
    // The side-by-side table is printed, then the one-line refusal naming the failed checks.
    expect(stderr).toMatch(/CHECK\s+EXPECTS\s+LIVE\s+NEW\s+RESULT/);
    expect(stderr).toContain(`search check "${word} keeps its hits" failed`);
    expect(stderr).toContain(`search check "${word}: a renamed row" failed: ${renamed} not in the top 1000 (live has it)`);
    expect(stderr).not.toContain('search check "everything" failed');
    expect(stderr).not.toContain(`search check "${word}: a kept row" failed`);
    // Live: alias, table and search answers as before.
    expect(await aliasIndices(`${t.indexPrefix}image`)).toEqual([`${t.indexPrefix}image-g1`]);
    expect([...(await t.api`select identifier::text, title from image order by 1`)]).toEqual([...liveTitles]);
    expect((await titleHits(`${t.indexPrefix}image`, word)).total).toBe(liveHits);
    const gens = await t.api`select number, state from sluice.generations where dataset = 'image' order by number`;
    expect([...gens]).toEqual([{ number: 1, state: "live" }, { number: 2, state: "ready" }]);
    // The results are on the swap job, new beside live.
    const swap = await lastJob(t, "image", "swap");
    expect(swap.state).toBe("failed");
    const results = swap.counters.searchChecks as any[];
    expect(results.map((r) => [r.name, r.passed])).toEqual([
      ["everything", true],
      [`${word} keeps its hits`, false],
      [`${word}: a renamed row`, false],
      [`${word}: a kept row`, true],
    ]);
    const newHits = (await titleHits(`${t.indexPrefix}image-g2`, word)).total;
    expect(results[1]).toMatchObject({ live: { hits: liveHits }, new: { hits: newHits } });
    expect(newHits).toBe(liveHits - Math.ceil(liveHits / 2));
    const shown = await t.sluice("job", "show", String(swap.id));
    expect(shown.stdout).toContain("searchChecks (passed 2, failed 2)");
    expect(shown.stdout).toContain("search checks, live beside new:");
    expect(shown.stdout).toMatch(new RegExp(`${word} keeps its hits\\s+≥ 90% of live's hits\\s+${liveHits}\\s+${newHits}\\s+FAILED`));
  }, 120_000);

  test("--force promotes past the failed checks, and the swap job still records them", async () => {
    expect((await t.sluice("swap", "image", "--config", config, "--force")).code).toBe(0);
    expect(await aliasIndices(`${t.indexPrefix}image`)).toEqual([`${t.indexPrefix}image-g2`]);
    const swap = await lastJob(t, "image", "swap");
    expect(swap.state).toBe("succeeded");
    expect((swap.counters.searchChecks as any[]).filter((r) => !r.passed)).toHaveLength(2);
  }, 120_000);

  test("passing checks let the swap go ahead, and are recorded; a check's search the node cuts is asked again", async () => {
    const passing = `/tmp/${t.name}.passing.config.ts`;
    await Bun.write(passing, `import { defineConfig } from "sluice";
import { openverseDatasets } from ${JSON.stringify(datasetsModule)};
export default defineConfig({ datasets: { image: { ...openverseDatasets.image, swap: { checks: [
  { name: "everything", query: "*:*", minHits: 1000, minShareOfLive: 1 },
  { name: "kept row", query: { match: { title: ${JSON.stringify(word)} } }, expectId: "${kept}", withinTop: 1000, minShareOfLive: 1 },
] } } } });
`);
    const proxy = startEsProxy();
    try {
      // A restart or a closed keep-alive connection under the checks' searches, of live and of the new index.
      proxy.cutNext(/^(GET|POST) \/[^/\s?]*-image(-g\d+)?\/_search[\s?]/, 2);
      expect((await t.sluiceWith({ ELASTICSEARCH_URL: proxy.url }, "run", "image", "--config", passing, "--rebuild")).code).toBe(0);
      expect(proxy.cuts).toBe(2);
    } finally {
      proxy.stop();
    }
    expect(await aliasIndices(`${t.indexPrefix}image`)).toEqual([`${t.indexPrefix}image-g3`]);
    const swap = await lastJob(t, "image", "swap");
    expect((swap.counters.searchChecks as any[]).map((r) => r.passed)).toEqual([true, true]);
  }, 120_000);
});
