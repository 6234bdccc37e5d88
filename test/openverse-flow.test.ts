/**
 * Issue 3, end to end on the real samples: refresh → index → swap of `image` and `audio`, with the
 * exact counts that must come out, generations, rollback, the swap gates and the refresh limit.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { aliasIndices, createTestEnvironment, elasticsearchUrl, searchCount, type TestEnvironment } from "./support/harness.ts";
import { lastJob, loadOpenverseSample } from "./support/openverse.ts";

let t: TestEnvironment;
beforeAll(async () => {
  t = await createTestEnvironment("openverse");
  await loadOpenverseSample(t);
  expect((await t.sluice("migrate", "up")).code).toBe(0);
});
afterAll(async () => {
  await t.drop();
});

describe("sluice run image on the dirty sample", () => {
  test("exits 0 and counts every upstream row", async () => {
    expect((await t.sluice("run", "image")).code).toBe(0);
    const refresh = await lastJob(t, "image", "refresh");
    expect(refresh.state).toBe("succeeded");
    // 1,899 rows upstream; 525 are removed_from_source (checked against the upstream below).
    expect(refresh.counters).toMatchObject({
      read: 1899,
      written: 1374,
      skipped: { removed_from_source: 525 },
      failed: {},
      cleaned: {
        tags_low_accuracy: 241,
        tags_denylisted: 207,
        tags_not_a_list: 30,
        url_scheme_url: 2,
        url_scheme_foreign_landing_url: 103,
        url_scheme_creator_url: 215,
      },
    });
    const [removed] = await t.upstream`select count(*)::int as n from image where removed_from_source`;
    expect(removed!.n).toBe(525);
  });

  test("the live table holds exactly the rows not removed upstream", async () => {
    const upstreamKept = await t.upstream`select identifier::text from image where not removed_from_source order by 1`;
    const live = await t.api`select identifier::text from image order by 1`;
    expect(live.map((r) => r.identifier)).toEqual(upstreamKept.map((r) => r.identifier));
  });

  test("which tags survive: none denylisted, none below 0.9, every tags value a list", async () => {
    const [bad] = await t.api`
      select
        count(*) filter (where jsonb_typeof(tags) <> 'array')::int as not_list,
        (select count(*)::int from image, jsonb_array_elements(tags) tag
          where jsonb_typeof(tags) = 'array' and (tag->>'accuracy')::float < 0.9) as low,
        (select count(*)::int from image, jsonb_array_elements(tags) tag
          where jsonb_typeof(tags) = 'array' and (lower(tag->>'name') in ('no person', 'squareformat', 'by')
            or lower(tag->>'name') like '%uploaded%' or lower(tag->>'name') like '%cc0%' or tag->>'name' like '%:%')) as denied
      from image`;
    expect(bad).toEqual({ not_list: 0, low: 0, denied: 0 });
    // Tags that pass every rule are kept as they were upstream.
    const [kept] = await t.api`select count(*)::int as n from image, jsonb_array_elements(tags) tag where tag->>'name' = 'landscape'`;
    const [upstreamKept] = await t.upstream`
      select count(*)::int as n from image, jsonb_array_elements(case when jsonb_typeof(tags) = 'array' then tags else '[]' end) tag
      where not removed_from_source and tag->>'name' = 'landscape' and coalesce((tag->>'accuracy')::float, 1) >= 0.9
        and coalesce(tag->>'provider', '') <> 'rekognition'`;
    expect(kept!.n).toBe(upstreamKept!.n);
  });

  test("which URLs change: every URL has a scheme, and only scheme-less ones changed", async () => {
    const [noScheme] = await t.api`
      select count(*)::int as n from image
      where url !~ '^[a-z]+://' or foreign_landing_url !~ '^[a-z]+://' or creator_url !~ '^[a-z]+://'`;
    expect(noScheme!.n).toBe(0);
    const upstream = await t.upstream`select identifier::text, foreign_landing_url from image where not removed_from_source and foreign_landing_url !~ '^[a-z]+://'`;
    expect(upstream.length).toBe(103);
    const sample = upstream[0]!;
    const [live] = await t.api`select foreign_landing_url from image where identifier = ${sample.identifier}::uuid`;
    expect(live!.foreign_landing_url).toBe(`https://${sample.foreign_landing_url.replace(/^\/\//, "")}`);
  });

  test("the alias serves every live row, with Openverse's computed fields", async () => {
    expect(await searchCount(`${t.indexPrefix}image`)).toBe(1374);
    expect(await aliasIndices(`${t.indexPrefix}image`)).toEqual([`${t.indexPrefix}image-g1`]);
    const res = await fetch(`${elasticsearchUrl}/${t.indexPrefix}image/_search?q=title:*&size=1`);
    const hit = ((await res.json()) as any).hits.hits[0]._source;
    expect(hit).toHaveProperty("aspect_ratio");
    expect(hit).toHaveProperty("size");
    expect(hit).toHaveProperty("authority_boost");
    const index = await lastJob(t, "image", "index");
    expect(index.counters).toMatchObject({ read: 1374, written: 1374, failed: {} });
  });
});

describe("audio", () => {
  test("all 100 rows go live and are searchable", async () => {
    expect((await t.sluice("run", "audio")).code).toBe(0);
    const refresh = await lastJob(t, "audio", "refresh");
    expect(refresh.counters).toMatchObject({ read: 100, written: 100, failed: {} });
    expect(await searchCount(`${t.indexPrefix}audio`)).toBe(100);
    const res = await fetch(`${elasticsearchUrl}/${t.indexPrefix}audio/_search?size=1`);
    expect(((await res.json()) as any).hits.hits[0]._source).toHaveProperty("length");
  });
});

describe("generations", () => {
  test("a second run with --rebuild promotes g2, keeps g1 for rollback, and reports no changes", async () => {
    // Without --rebuild an unchanged upstream stops before index and swap (test/run-outcomes.test.ts).
    expect((await t.sluice("run", "image", "--rebuild")).code).toBe(0);
    const refresh = await lastJob(t, "image", "refresh");
    expect(refresh.generation).toBe(2);
    expect(refresh.counters.changes).toEqual({ new: 0, changed: 0, removed: 0 });
    expect(await aliasIndices(`${t.indexPrefix}image`)).toEqual([`${t.indexPrefix}image-g2`]);
    const tables = await t.api`select tablename from pg_tables where tablename like 'image%' order by 1`;
    expect(tables.map((r) => r.tablename)).toEqual(["image", "image__g1"]);
  });

  test("--rollback restores g1 in the table and the alias", async () => {
    expect((await t.sluice("swap", "image", "--rollback")).code).toBe(0);
    expect(await aliasIndices(`${t.indexPrefix}image`)).toEqual([`${t.indexPrefix}image-g1`]);
    const gens = await t.api`select number, state from sluice.generations where dataset = 'image' order by number`;
    expect([...gens]).toEqual([{ number: 1, state: "live" }, { number: 2, state: "discarded" }]);
    expect(await searchCount(`${t.indexPrefix}image`)).toBe(1374);
    // Nothing left to roll back to.
    expect((await t.sluice("swap", "image", "--rollback")).code).toBe(1);
  });

  test("a limited refresh copies the first N rows by key, and the swap gate refuses the shrink", async () => {
    process.env.DATA_REFRESH_LIMIT = "100";
    const code = (await t.sluice("run", "image")).code;
    process.env.DATA_REFRESH_LIMIT = "0";
    expect(code).toBe(1);
    const refresh = await lastJob(t, "image", "refresh");
    expect(refresh.counters).toMatchObject({ read: 1899, written: 100, skipped: { removed_from_source: 525, over_refresh_limit: 1274 } });
    const swap = await lastJob(t, "image", "swap");
    expect(swap.state).toBe("failed");
    expect(swap.error).toContain("swap of image refused: staging has 100 rows, 92.7% fewer than live's 1374");
    // Production untouched: live table and alias as before; the refused generation is kept ready
    // (table and index) so that the advice `sluice swap image --force` can be followed.
    expect(swap.error).toContain("generation 3 is kept ready: inspect it, then `sluice swap image --force` if it is right");
    const [live] = await t.api`select count(*)::int as n from image`;
    expect(live!.n).toBe(1374);
    expect(await aliasIndices(`${t.indexPrefix}image`)).toEqual([`${t.indexPrefix}image-g1`]);
    expect(await searchCount(`${t.indexPrefix}image-g3`)).toBe(100);
    const [g3] = await t.api`select state from sluice.generations where dataset = 'image' and number = 3`;
    expect(g3!.state).toBe("ready");
  });

  test("refresh, index and swap run one by one; --keep 0 prunes every old generation", async () => {
    process.env.DATA_REFRESH_LIMIT = "100";
    expect((await t.sluice("refresh", "image")).code).toBe(0);
    process.env.DATA_REFRESH_LIMIT = "0";
    const first100 = await t.upstream`select identifier::text from image where not removed_from_source order by identifier limit 100`;
    const staged = await t.api`select identifier::text from image__g4 order by identifier`;
    expect(staged.map((r) => r.identifier)).toEqual(first100.map((r) => r.identifier));
    expect((await t.sluice("index", "image")).code).toBe(0);
    expect((await t.sluice("swap", "image")).code).toBe(1);
    expect((await t.sluice("swap", "image", "--force", "--keep", "0")).code).toBe(0);
    expect(await searchCount(`${t.indexPrefix}image`)).toBe(100);
    const tables = await t.api`select tablename from pg_tables where tablename like 'image%' order by 1`;
    expect(tables.map((r) => r.tablename)).toEqual(["image"]);
    const indices = await (await fetch(`${elasticsearchUrl}/_cat/indices/${t.indexPrefix}image-*?h=index`)).text();
    // The live generation's index and its filtered twin (issue 14); every older one pruned.
    expect(indices.trim().split("\n").sort()).toEqual([`${t.indexPrefix}image-filtered-g4`, `${t.indexPrefix}image-g4`]);
    // Run again after success: production ends up the same.
    expect((await t.sluice("swap", "image")).code).toBe(1);
  });
});
