/**
 * Issue 9, point 9: the swap's two halves always agree. A throwaway proxy in front of the shared
 * Elasticsearch cuts the `_aliases` call (before Elasticsearch sees it, or after it applied it
 * and before the client hears), or plays dead from that call on. Each case ends with table, alias
 * and sluice.generations on one generation, or `status` reporting a split that `swap --repair`
 * converges.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type EsProxy, startEsProxy } from "./support/es-proxy.ts";
import { aliasIndices, createTestEnvironment, elasticsearchUrl, type TestEnvironment } from "./support/harness.ts";
import { lastJob, loadOpenverseSample } from "./support/openverse.ts";

let t: TestEnvironment;
let proxy: EsProxy;
/** The upstream row whose title says which generation a table was built in. */
let marker = "";

beforeAll(async () => {
  t = await createTestEnvironment("swapsplit");
  await loadOpenverseSample(t, ["image"]);
  expect((await t.sluice("migrate", "up")).code).toBe(0);
  const [row] = await t.upstream`select identifier::text as id from image where not removed_from_source order by identifier limit 1`;
  marker = row!.id;
  await label("g1");
  expect((await t.sluice("run", "image")).code).toBe(0);
  await label("g2");
  expect((await t.sluice("run", "image")).code).toBe(0);
  proxy = startEsProxy();
}, 120_000);
afterAll(async () => {
  proxy?.stop();
  await t.drop();
}, 120_000);

async function label(text: string): Promise<void> {
  await t.upstream`update image set title = ${text} where identifier = ${marker}::uuid`;
}

/** Refreshes and indexes a generation whose marker row says `text`; returns its number. */
async function readyGeneration(text: string): Promise<number> {
  await label(text);
  expect((await t.sluice("refresh", "image")).code).toBe(0);
  expect((await t.sluice("index", "image")).code).toBe(0);
  return (await lastJob(t, "image", "index")).generation;
}

/** Which generation each of the three says is live. */
async function whereIsLive() {
  const [row] = await t.api`select title from image where identifier = ${marker}::uuid`;
  const live = await t.api`select number from sluice.generations where dataset = 'image' and state = 'live'`;
  const open = await t.api`select incoming from sluice.swaps where dataset = 'image' and state = 'tables_moved'`;
  return {
    table: row!.title as string,
    alias: await aliasIndices(`${t.indexPrefix}image`),
    generations: live.map((r) => r.number as number),
    openSwaps: open.length,
  };
}

function agreeOn(generation: number) {
  return { table: `g${generation}`, alias: [`${t.indexPrefix}image-g${generation}`], generations: [generation], openSwaps: 0 };
}

async function statusOf(esUrl: string) {
  const { code, stdout } = await t.sluiceWith({ ELASTICSEARCH_URL: esUrl }, "status", "--json");
  expect(code).toBe(0);
  return (JSON.parse(stdout) as { datasets: { name: string; swap: { state: string; repair: string | null } }[] }).datasets.find((d) => d.name === "image")!.swap;
}

describe("a swap cut at the alias move", () => {
  test("connection cut before Elasticsearch sees _aliases: everything stays on the old generation", async () => {
    const incoming = await readyGeneration("g3");
    expect(incoming).toBe(3);
    proxy.mode = "cut-request";
    const swap = await t.sluiceWith({ ELASTICSEARCH_URL: proxy.url }, "swap", "image");
    proxy.mode = "pass";
    expect(proxy.aliasCalls).toBe(1);
    expect(swap.code).toBe(1);
    expect((await lastJob(t, "image", "swap")).error).toContain("the table swap was undone");
    expect(await whereIsLive()).toEqual(agreeOn(2));
    const [g3] = await t.api`select state from sluice.generations where dataset = 'image' and number = 3`;
    expect(g3!.state).toBe("ready");
    expect((await statusOf(proxy.url)).state).toBe("agreed");
    // The advised commands work: roll back to g1, then swap the ready g3 over it.
    expect((await t.sluice("swap", "image", "--rollback")).code).toBe(0);
    expect(await whereIsLive()).toEqual(agreeOn(1));
    expect((await t.sluice("swap", "image")).code).toBe(0);
    expect(await whereIsLive()).toEqual(agreeOn(3));
  }, 120_000);

  test("answer cut after Elasticsearch applied _aliases: the swap stands, on the new generation", async () => {
    const incoming = await readyGeneration("g4");
    proxy.mode = "cut-response";
    const swap = await t.sluiceWith({ ELASTICSEARCH_URL: proxy.url }, "swap", "image");
    proxy.mode = "pass";
    expect(proxy.aliasCalls).toBe(2);
    expect(await whereIsLive()).toEqual(agreeOn(incoming));
    // The swap took effect, so it is not reported as a failure.
    expect(swap.code).toBe(0);
    expect((await lastJob(t, "image", "swap")).state).toBe("succeeded");
    expect((await statusOf(proxy.url)).state).toBe("agreed");
    // Rollback still finds the generation the swap replaced.
    expect((await t.sluice("swap", "image", "--rollback")).code).toBe(0);
    expect(await whereIsLive()).toEqual(agreeOn(3));
  }, 120_000);

  test("Elasticsearch gone from the alias move on: status says split, and --repair converges once it is back", async () => {
    const incoming = await readyGeneration("g5");
    proxy.mode = "die";
    const swap = await t.sluiceWith({ ELASTICSEARCH_URL: proxy.url }, "swap", "image");
    expect(swap.code).toBe(1);
    const error = (await lastJob(t, "image", "swap")).error!;
    expect(error).toContain("image is split");
    expect(error).toContain("sluice swap image --repair");
    // Elasticsearch still down: status names the split and the one command that repairs it.
    const split = await statusOf(proxy.url);
    expect(split.state).toBe("split");
    expect(split.repair).toBe("sluice swap image --repair");
    // Nothing else is promoted over a split dataset.
    expect((await t.sluice("swap", "image", "--rollback")).code).toBe(1);
    expect((await lastJob(t, "image", "rollback")).error).toContain("sluice swap image --repair");
    // The repair cannot finish while Elasticsearch is away, and changes nothing.
    expect((await t.sluiceWith({ ELASTICSEARCH_URL: proxy.url }, "swap", "image", "--repair")).code).not.toBe(0);
    expect((await statusOf(proxy.url)).state).toBe("split");
    proxy.restart();
    expect((await t.sluiceWith({ ELASTICSEARCH_URL: proxy.url }, "swap", "image", "--repair")).code).toBe(0);
    expect(await whereIsLive()).toEqual(agreeOn(incoming));
    expect((await statusOf(proxy.url)).state).toBe("agreed");
    // And the dataset works as before: rollback, then a second repair finds nothing to do.
    expect((await t.sluice("swap", "image", "--rollback")).code).toBe(0);
    expect(await whereIsLive()).toEqual(agreeOn(3));
    const again = await t.sluice("swap", "image", "--repair");
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("nothing to repair");
  }, 120_000);

  test("a run whose alias move is cut keeps the generation it promoted: status says split and --repair converges on it", async () => {
    const before = (await whereIsLive()).generations[0]!;
    await label("g-run");
    proxy.mode = "die";
    const run = await t.sluiceWith({ ELASTICSEARCH_URL: proxy.url }, "run", "image");
    expect(run.code).toBe(1);
    const job = await lastJob(t, "image", "run");
    expect(job.error).toContain("image is split");
    const promoted = job.generation;
    expect(promoted).toBeGreaterThan(before);
    // Before, the run's clean-up marked the generation it had just put in the table discarded, and
    // the repair then left no live generation at all.
    const [row] = await t.api`select state from sluice.generations where dataset = 'image' and number = ${promoted}`;
    expect(row!.state).toBe("live");
    expect((await statusOf(proxy.url)).state).toBe("split");
    proxy.restart();
    expect((await t.sluiceWith({ ELASTICSEARCH_URL: proxy.url }, "run", "image")).code).toBe(1);
    expect((await t.sluice("swap", "image", "--repair")).code).toBe(0);
    expect(await whereIsLive()).toEqual({ ...agreeOn(promoted), table: "g-run" });
    expect((await statusOf(elasticsearchUrl)).state).toBe("agreed");
    // Rollback still finds the generation it replaced.
    expect((await t.sluice("swap", "image", "--rollback")).code).toBe(0);
    expect((await whereIsLive()).generations).toEqual([before]);
  }, 120_000);

  test("an alias moved off the live generation by hand: status says split and --repair points it back", async () => {
    const live = (await whereIsLive()).generations[0]!;
    const [other] = await t.api`select number from sluice.generations where dataset = 'image' and number <> ${live} and state in ('previous', 'ready', 'discarded') order by number desc limit 1`;
    const alias = `${t.indexPrefix}image`;
    const aside = `${t.indexPrefix}image-g${other!.number}`;
    const res = await fetch(`${elasticsearchUrl}/_aliases`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ actions: [{ remove: { index: `${alias}-g${live}`, alias } }, { add: { index: aside, alias } }] }),
    });
    expect(res.status).toBe(200);
    const split = await statusOf(elasticsearchUrl);
    expect(split.state).toBe("split");
    expect(split.repair).toBe("sluice swap image --repair");
    const repaired = await t.sluice("swap", "image", "--repair");
    expect(repaired.code).toBe(0);
    expect(repaired.stdout).toContain(`moved the alias back onto live generation ${live}`);
    expect(await whereIsLive()).toEqual(agreeOn(live));
    expect((await statusOf(elasticsearchUrl)).state).toBe("agreed");
  }, 120_000);
});

describe("the index stage's control calls under a restarting node", () => {
  test("a connection the node closes under create, settings, refresh, count and the twin's clone is tried again, and the index stage succeeds", async () => {
    await label("g-cut");
    expect((await t.sluice("refresh", "image")).code).toBe(0);
    const before = proxy.cuts;
    proxy.cutNext(/^PUT \/[^/\s?]*-image-g\d+[\s?]/, 2);
    proxy.cutNext(/^(GET|POST) \/[^/\s?]*-image-g\d+\/_refresh[\s?]/, 1);
    proxy.cutNext(/^(GET|POST) \/[^/\s?]*-image-g\d+\/_count[\s?]/, 1);
    // The filtered twin's part: the full index's settings (restored, then write-blocked), the clone, the twin's refresh and count.
    proxy.cutNext(/^PUT \/[^/\s?]*-image-g\d+\/_settings[\s?]/, 2);
    // The clone cut twice: unforwarded, then after it landed (the retry finds the twin made and marked as ours).
    proxy.cutNext(/^(PUT|POST) \/[^/\s?]*-image-g\d+\/_clone\//, 1);
    proxy.cutAnswerNext(/^(PUT|POST) \/[^/\s?]*-image-g\d+\/_clone\//, 1);
    proxy.cutNext(/^(GET|POST) \/[^/\s?]*-image-filtered-g\d+\/_(refresh|count)[\s?]/, 2);
    const index = await t.sluiceWith({ ELASTICSEARCH_URL: proxy.url }, "index", "image");
    // Before, the first cut ended the command: "cannot index image into ELASTICSEARCH_URL …: socket hang up".
    expect(proxy.cuts - before).toBe(10);
    expect(index.code).toBe(0);
    const job = await lastJob(t, "image", "index");
    expect(job.state).toBe("succeeded");
    const [{ n }] = (await t.api`select count(*)::int as n from ${t.api(`image__g${job.generation}`)}`) as unknown as [{ n: number }];
    expect(job.counters.documents[`${t.indexPrefix}image-g${job.generation}`]).toBe(n);
    expect(job.counters.documents[`${t.indexPrefix}image-filtered-g${job.generation}`]).toBe(n - job.counters.keptOut);
  }, 120_000);
});
