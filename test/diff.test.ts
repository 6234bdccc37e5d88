/**
 * Issue 14, point 4: `sluice diff` compares a ready generation with live on the Openverse samples
 * (rows and documents per index, documents by a field, new/changed/removed keys with a sample), and
 * `run` shows the same summary before it swaps.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestEnvironment, spawnSluice, type TestEnvironment } from "./support/harness.ts";
import { loadOpenverseSample } from "./support/openverse.ts";

let t: TestEnvironment;
let changed: string, removed: string, added: string;
beforeAll(async () => {
  t = await createTestEnvironment("diff");
  await loadOpenverseSample(t, ["image"]);
  expect((await t.sluice("migrate", "up")).code).toBe(0);
  expect((await t.sluice("run", "image")).code).toBe(0);
  [{ id: changed }] = (await t.upstream`select identifier::text as id from image where not removed_from_source order by identifier limit 1`) as unknown as [{ id: string }];
  [{ id: removed }] = (await t.upstream`select identifier::text as id from image where not removed_from_source order by identifier desc limit 1`) as unknown as [{ id: string }];
  [{ id: added }] = (await t.upstream`select identifier::text as id from image where removed_from_source order by identifier limit 1`) as unknown as [{ id: string }];
  await t.upstream`update image set title = 'diff change' where identifier = ${changed}::uuid`;
  await t.upstream`update image set removed_from_source = true where identifier = ${removed}::uuid`;
  await t.upstream`update image set removed_from_source = false where identifier = ${added}::uuid`;
  // Five documents move from their provider to a new one.
  await t.upstream`update image set provider = 'diffprovider' where identifier in (select identifier from image where not removed_from_source and identifier not in (${changed}::uuid, ${added}::uuid) order by identifier limit 5)`;
  expect((await t.sluice("refresh", "image")).code).toBe(0);
  expect((await t.sluice("index", "image")).code).toBe(0);
}, 60_000);
afterAll(async () => {
  await t.drop();
});

describe("sluice diff", () => {
  test("the ready generation against live: counts, by provider, keys with a sample", async () => {
    const res = await t.sluice("diff", "image", "--by", "provider", "--json");
    expect(res.code).toBe(0);
    const diff = JSON.parse(res.stdout);
    expect(diff).toMatchObject({ dataset: "image", generation: 2, live: 1 });
    expect(diff.counts).toEqual([
      { name: "table", live: 1374, new: 1374, change: 0 },
      { name: `${t.indexPrefix}image`, live: 1374, new: 1374, change: 0 },
      // The filtered twin: one sample row holds a shipped sensitive term.
      { name: `${t.indexPrefix}image-filtered`, live: 1373, new: 1373, change: 0 },
    ]);
    const changedKeys = (await t.upstream`select identifier::text as id from image where provider = 'diffprovider' or identifier = ${changed}::uuid order by 1`).map((r) => r.id);
    expect(diff.keys).toEqual({ new: 1, changed: 6, removed: 1, sample: { new: [added], changed: changedKeys, removed: [removed] } });
    // Provider counts, live beside new, agree with the live and the upstream tables.
    const byProvider = new Map<string, { live: number | null; new: number | null; change: number | null }>(diff.by.values.map((v: any) => [v.name, v]));
    expect(byProvider.get("diffprovider")).toEqual({ name: "diffprovider", live: 0, new: 5, change: 5 } as never);
    const upstreamCounts = await t.upstream`select provider, count(*)::int as n from image where not removed_from_source group by 1`;
    const liveCounts = new Map((await t.api`select provider, count(*)::int as n from image group by 1`).map((r) => [r.provider as string, r.n as number]));
    for (const { provider, n } of upstreamCounts) {
      expect(byProvider.get(provider)).toMatchObject({ new: n, live: liveCounts.get(provider) ?? 0, change: n - (liveCounts.get(provider) ?? 0) });
    }
    // Largest changes first.
    expect(diff.by.values[0].name).toBe("diffprovider");
  }, 120_000);

  test("plain output is a readable table", async () => {
    const res = await t.sluice("diff", "image", "--generation", "2");
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("image generation 2 against live generation 1");
    expect(res.stdout).toMatch(/^table\s+1,374\s+1,374\s+0$/m);
    expect(res.stdout).toMatch(new RegExp(`^removed\\s+1\\s+${removed}$`, "m"));
  }, 120_000);

  test("a live generation, or one that does not exist, is refused with the way out", async () => {
    expect((await t.sluice("diff", "image", "--generation", "1")).code).toBe(1);
    expect((await t.sluice("diff", "image", "--generation", "9")).code).toBe(1);
    // An unmapped field would count every document as missing; it is refused instead.
    expect((await t.sluice("diff", "image", "--by", "no_such_field_xyz")).code).toBe(2);
    expect((await t.sluice("diff", "image", "--by", "title")).code).toBe(2);
  }, 120_000);

  test("run shows the same summary just before it swaps", async () => {
    // The run picks up the ready generation 2 (same configuration) and swaps it.
    const child = spawnSluice(["run", "image", "--json"], t.childEnv());
    const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.outcome).toBe("promoted");
    expect(report.beforeSwap).toMatchObject({ generation: 2, live: 1, keys: { new: 1, changed: 6, removed: 1 } });
    expect(stderr).toContain("image generation 2 against live generation 1");
    expect(stderr).toMatch(/changed\s+6\s+/);
    const swapLine = stderr.split("\n").findIndex((l) => l.includes("is live"));
    expect(stderr.split("\n").findIndex((l) => l.includes("against live generation 1"))).toBeLessThan(swapLine);
  }, 120_000);

  test("run counts by swap.diffBy before it swaps; a field it cannot count by stops nothing", async () => {
    const datasetsModule = new URL("../src/datasets/openverse/datasets.ts", import.meta.url).pathname;
    const config = (field: string) => `import { defineConfig } from "sluice";
import { openverseDatasets } from ${JSON.stringify(datasetsModule)};
export default defineConfig({ datasets: { image: { ...openverseDatasets.image, swap: { diffBy: "${field}" } } } });
`;
    await Bun.write(`/tmp/${t.name}.by.config.ts`, config("provider"));
    await Bun.write(`/tmp/${t.name}.bad.config.ts`, config("no_such_field_xyz"));
    const good = await t.sluice("run", "image", "--rebuild", "--json", "--config", `/tmp/${t.name}.by.config.ts`);
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout).beforeSwap.by.field).toBe("provider");
    const bad = await t.sluice("run", "image", "--rebuild", "--json", "--config", `/tmp/${t.name}.bad.config.ts`);
    expect(bad.code).toBe(0);
    const report = JSON.parse(bad.stdout);
    expect(report.outcome).toBe("promoted");
    expect(report.beforeSwap).toBeUndefined();
  }, 120_000);
});
