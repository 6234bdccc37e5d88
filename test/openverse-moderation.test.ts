/**
 * Issue 10, point 2: moderation as Openverse does it. The built-in image dataset leaves out rows
 * listed in the API database's `api_deletedimage` and indexes rows listed in `api_matureimage`
 * with `mature: true` (besides those whose meta_data says mature), when those tables exist.
 * The expected sets are computed from the sample upstream, not written down.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { maturity } from "../src/datasets/openverse/documents.ts";
import { createTestEnvironment, elasticsearchUrl, type TestEnvironment } from "./support/harness.ts";
import { lastJob, loadOpenverseSample } from "./support/openverse.ts";

let t: TestEnvironment;
let deleted: string[];
let matureListed: string[];
beforeAll(async () => {
  t = await createTestEnvironment("moderation");
  await loadOpenverseSample(t, ["image"]);
  expect((await t.sluice("migrate", "up")).code).toBe(0);
  // Openverse's API tables (Django models DeletedImage, MatureImage): identifier uuid, created_on.
  for (const table of ["api_deletedimage", "api_matureimage"]) {
    await t.api.unsafe(`create table ${table} (id serial primary key, created_on timestamptz not null default now(), identifier uuid not null unique)`);
  }
  const kept = await t.upstream`select identifier::text from image where not removed_from_source order by identifier limit 10`;
  deleted = kept.slice(0, 3).map((r) => r.identifier);
  // One listed as both: deleted wins.
  matureListed = kept.slice(2, 8).map((r) => r.identifier);
  for (const id of deleted) await t.api`insert into api_deletedimage (identifier) values (${id})`;
  for (const id of matureListed) await t.api`insert into api_matureimage (identifier) values (${id})`;
});
afterAll(async () => {
  await t.drop();
});

async function idsWhere(query: unknown): Promise<string[]> {
  const res = await fetch(`${elasticsearchUrl}/${t.indexPrefix}image/_search`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query, size: 5000, _source: false }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { hits: { hits: { _id: string }[] } }).hits.hits.map((h) => h._id).sort();
}

describe("run image with api_deletedimage and api_matureimage in the API database", () => {
  test("leaves out exactly the deleted rows, counted as deleted_by_moderator", async () => {
    expect((await t.sluice("run", "image")).code).toBe(0);
    const refresh = await lastJob(t, "image", "refresh");
    expect(refresh.counters.skipped.deleted_by_moderator).toBe(deleted.length);
    const live = await t.api`select identifier::text from image where identifier::text in ${t.api(deleted)}`;
    expect(live.length).toBe(0);
    expect(await idsWhere({ ids: { values: deleted } })).toEqual([]);
    const [kept] = await t.upstream`select count(*)::int as n from image where not removed_from_source`;
    const [indexed] = await t.api`select count(*)::int as n from image`;
    expect(indexed!.n).toBe(kept!.n - deleted.length);
  });

  test("marks mature exactly the rows api_matureimage lists or whose meta_data says so", async () => {
    const rows = await t.upstream`select identifier::text, meta_data from image where not removed_from_source`;
    const listed = new Set(matureListed);
    const expected = rows
      .filter((r) => !deleted.includes(r.identifier) && maturity(r.meta_data, listed.has(r.identifier)))
      .map((r) => r.identifier)
      .sort();
    // The table adds rows that meta_data alone does not mark.
    expect(expected.length).toBeGreaterThan(rows.filter((r) => !deleted.includes(r.identifier) && maturity(r.meta_data, false)).length);
    expect(await idsWhere({ term: { mature: true } })).toEqual(expected);
  });

  test("without the tables, nothing is left out and maturity comes from meta_data alone", async () => {
    await t.api`alter table api_deletedimage rename to api_deletedimage_gone`;
    await t.api`alter table api_matureimage rename to api_matureimage_gone`;
    expect((await t.sluice("run", "image", "--rebuild")).code).toBe(0);
    const rows = await t.upstream`select identifier::text, meta_data from image where not removed_from_source`;
    expect((await idsWhere({ match_all: {} })).length).toBe(rows.length);
    expect(await idsWhere({ term: { mature: true } })).toEqual(rows.filter((r) => maturity(r.meta_data, false)).map((r) => r.identifier).sort());
  });
});
