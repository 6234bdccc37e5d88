/**
 * Issue 9, points 10, 4 and 5 (the refused swap's advice), on the Openverse image sample: a run
 * with nothing to promote says so and builds nothing; a pending generation is resumed only under
 * the configuration it was built from; a swap refused by its gates keeps its generation, and the
 * command it names works.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { aliasIndices, createTestEnvironment, searchCount, spawnSluice, type TestEnvironment } from "./support/harness.ts";
import { lastJob, loadOpenverseSample } from "./support/openverse.ts";

let t: TestEnvironment;
/** Config B: the built-in image dataset with one more denied tag. */
let configB = "";
const datasets = new URL("../src/datasets/openverse/datasets.ts", import.meta.url).pathname;

beforeAll(async () => {
  t = await createTestEnvironment("outcomes");
  await loadOpenverseSample(t, ["image"]);
  expect((await t.sluice("migrate", "up")).code).toBe(0);
  configB = `/tmp/${t.name}-b.config.ts`;
  await Bun.write(configB, `import { openverseDatasets } from ${JSON.stringify(datasets)};
const image = openverseDatasets.image;
const tags = image.clean.tags;
export default { datasets: { image: { ...image, clean: { ...image.clean, tags: { ...tags, denylist: [...tags.denylist, "landscape"] } } } } };
`);
}, 60_000);
afterAll(async () => {
  await t.drop();
}, 120_000);

async function liveNumber(): Promise<number> {
  const [row] = await t.api`select number from sluice.generations where dataset = 'image' and state = 'live'`;
  return row!.number;
}

async function generation(number: number) {
  const [row] = await t.api`select state, stats from sluice.generations where dataset = 'image' and number = ${number}`;
  return row as { state: string; stats: Record<string, unknown> };
}

async function landscapeTags(): Promise<number> {
  const [row] = await t.api`select count(*)::int as n from image, jsonb_array_elements(tags) tag where tag->>'name' = 'landscape'`;
  return row!.n;
}

async function childRun(...args: string[]): Promise<{ code: number; stderr: string }> {
  const child = spawnSluice(args, t.childEnv());
  const stderr = await new Response(child.stderr).text();
  return { code: await child.exited, stderr };
}

describe("a run with nothing to promote says so", () => {
  test("the second run over an unchanged upstream stops before index and swap", async () => {
    expect((await t.sluice("run", "image")).code).toBe(0);
    expect(await liveNumber()).toBe(1);
    const { code, stdout } = await t.sluice("run", "image", "--json");
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.outcome).toBe("unchanged");
    expect(report.unchanged).toEqual({ live: 1, changes: { new: 0, changed: 0, removed: 0 } });
    expect(report.generation).toBe(1);
    // Same live generation; the staging generation is dropped and marked; nothing made in Elasticsearch.
    expect(await liveNumber()).toBe(1);
    const g2 = await generation(2);
    expect(g2.state).toBe("discarded");
    expect(g2.stats.outcome).toBe("unchanged");
    const [table] = await t.api`select to_regclass('image__g2') as t`;
    expect(table!.t).toBeNull();
    expect(await searchCount(`${t.indexPrefix}image-g2`)).toBeNull();
    expect(await aliasIndices(`${t.indexPrefix}image`)).toEqual([`${t.indexPrefix}image-g1`]);
    expect((await lastJob(t, "image", "index")).generation).toBe(1);
    const run = await lastJob(t, "image", "run");
    expect(run.state).toBe("succeeded");
    expect(run.counters.changes).toEqual({ new: 0, changed: 0, removed: 0 });
    // The text summary names the outcome and the flag that builds anyway.
    const text = await t.sluice("run", "image");
    expect(text.stdout).toContain("unchanged");
    expect(text.stdout).toContain("--rebuild");
  }, 120_000);

  test("one changed upstream row makes a real run; --rebuild builds even when nothing changed", async () => {
    await t.upstream`update image set title = 'changed by run-outcomes' where identifier = (select identifier from image where not removed_from_source order by identifier limit 1)`;
    const changed = await t.sluice("run", "image", "--json");
    expect(changed.code).toBe(0);
    expect(JSON.parse(changed.stdout).outcome).toBe("promoted");
    const live = await liveNumber();
    expect(live).toBeGreaterThan(1);
    expect((await lastJob(t, "image", "refresh")).counters.changes).toEqual({ new: 0, changed: 1, removed: 0 });
    expect(await aliasIndices(`${t.indexPrefix}image`)).toEqual([`${t.indexPrefix}image-g${live}`]);
    const rebuilt = await t.sluice("run", "image", "--rebuild", "--json");
    expect(rebuilt.code).toBe(0);
    expect(JSON.parse(rebuilt.stdout).outcome).toBe("promoted");
    expect(await liveNumber()).toBeGreaterThan(live);
  }, 120_000);
});

describe("resume only what this configuration built", () => {
  test("a generation refreshed under config A is not indexed under config B", async () => {
    expect((await t.sluice("refresh", "image")).code).toBe(0);
    const pending = (await lastJob(t, "image", "refresh")).generation;
    expect((await t.sluice("index", "image", "--config", configB)).code).toBe(1);
    const index = await lastJob(t, "image", "index");
    expect(index.generation).not.toBe(pending);
    expect(await searchCount(`${t.indexPrefix}image-g${pending}`)).toBeNull();
    expect((await generation(pending)).state).toBe("building");
  }, 120_000);

  test("run under config B discards config A's pending generation, says why, and promotes B's data", async () => {
    const pending = (await lastJob(t, "image", "refresh")).generation;
    expect(await landscapeTags()).toBeGreaterThan(0);
    const { code, stderr } = await childRun("run", "image", "--config", configB);
    expect(code).toBe(0);
    expect(stderr).toContain(`generation ${pending} was built from another configuration`);
    const discarded = await generation(pending);
    expect(discarded.state).toBe("discarded");
    expect(String(discarded.stats.discardedBecause)).toContain("another configuration");
    expect(await liveNumber()).toBeGreaterThan(pending);
    expect(await landscapeTags()).toBe(0);
  }, 120_000);

  test("swap of a generation built under another configuration is refused; --force promotes it", async () => {
    expect((await t.sluice("refresh", "image")).code).toBe(0);
    expect((await t.sluice("index", "image")).code).toBe(0);
    const ready = (await lastJob(t, "image", "index")).generation;
    expect((await t.sluice("swap", "image", "--config", configB)).code).toBe(1);
    expect((await lastJob(t, "image", "swap")).error).toContain("built from another configuration");
    expect((await generation(ready)).state).toBe("ready");
    expect((await t.sluice("swap", "image", "--config", configB, "--force")).code).toBe(0);
    expect(await liveNumber()).toBe(ready);
    expect(await landscapeTags()).toBeGreaterThan(0);
  }, 120_000);
});

describe("a swap refused by its gates names a command that works", () => {
  test("run's refused generation is kept ready, and the printed advice promotes it", async () => {
    const before = await liveNumber();
    process.env.DATA_REFRESH_LIMIT = "100";
    expect((await t.sluice("run", "image", "--config", configB)).code).toBe(1);
    const first = await lastJob(t, "image", "swap");
    // The next run does not resume a generation the gates refused: it refreshes anew.
    const refused = await t.sluice("run", "image", "--config", configB);
    process.env.DATA_REFRESH_LIMIT = "0";
    expect(refused.code).toBe(1);
    const swap = await lastJob(t, "image", "swap");
    expect(swap.generation).toBeGreaterThan(first.generation);
    expect((await generation(first.generation)).state).toBe("discarded");
    expect(swap.error).toContain("swap of image refused");
    expect(await liveNumber()).toBe(before);
    expect((await generation(swap.generation)).state).toBe("ready");
    expect(await searchCount(`${t.indexPrefix}image-g${swap.generation}`)).toBe(100);
    const advice = /`sluice (swap [^`]+)`/.exec(swap.error ?? "")?.[1];
    expect(advice).toBe(`swap image --config ${configB} --force`);
    expect((await t.sluice(...advice!.split(" "))).code).toBe(0);
    expect(await liveNumber()).toBe(swap.generation);
    expect(await searchCount(`${t.indexPrefix}image`)).toBe(100);
    const [rows] = await t.api`select count(*)::int as n from image`;
    expect(rows!.n).toBe(100);
  }, 120_000);
});
