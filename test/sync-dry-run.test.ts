/**
 * Issue 14 point 3 for sync: `sluice sync <dataset> --dry-run` reads the source and the live index
 * as the real sync does and reports exactly what it would do (counts and sample ids, the deletion
 * gate), leaving the index, its mapping, the cursor, the jobs and the generations as they were; the
 * real sync then does what the dry run said.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { aliasIndices, createTestEnvironment, elasticsearchUrl, type TestEnvironment } from "./support/harness.ts";

let t: TestEnvironment;
let config = "";
let alias = "";

async function sluiceJson(...args: string[]) {
  const { code, stdout } = await t.sluice("sync", "notes", "--config", config, "--json", ...args);
  return { code, report: code === 0 ? JSON.parse(stdout) : null };
}

/** Everything a sync could change: documents and their versions, the mapping, the cursor, the jobs, the generations, the scratch rows. */
async function snapshot() {
  const indices = await aliasIndices(alias);
  let documents: unknown = null;
  let mapping: unknown = null;
  if (indices.length) {
    await fetch(`${elasticsearchUrl}/${alias}/_refresh`, { method: "POST" });
    const count = (await fetch(`${elasticsearchUrl}/${alias}/_count`).then((r) => r.json())) as { count: number };
    const res = (await fetch(`${elasticsearchUrl}/${alias}/_search?size=1000&_source=_sluice_version,_sluice_job,title`).then((r) => r.json())) as { hits: { hits: { _id: string; _source: unknown }[] } };
    documents = { count: count.count, hits: res.hits.hits.map((h) => [h._id, h._source]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))) };
    mapping = await fetch(`${elasticsearchUrl}/${alias}/_mapping`).then((r) => r.json());
  }
  const prefixed = (await fetch(`${elasticsearchUrl}/_cat/indices/${t.indexPrefix}*?format=json&h=index`).then((r) => r.json())) as { index: string }[];
  const state = await t.api`select * from sluice.sync_state where dataset = 'notes'`;
  const [jobs] = await t.api`select count(*)::int as n from sluice.jobs`;
  const [generations] = await t.api`select count(*)::int as n from sluice.generations`;
  const [scratch] = await t.api`select (select count(*) from sluice.sync_records) + (select count(*) from sluice.sync_index_entries) + (select count(*) from sluice.sync_deletions) as n`;
  return { indices, prefixed: prefixed.map((i) => i.index).sort(), documents, mapping, state, jobs: jobs!.n, generations: generations!.n, scratch: Number(scratch!.n) };
}

/** The dry run, checked to have left everything as it was. */
async function dryRun(...args: string[]) {
  const before = await snapshot();
  const { code, report } = await sluiceJson("--dry-run", ...args);
  expect(code).toBe(0);
  expect(report.dryRun).toBe(true);
  expect(await snapshot()).toEqual(before);
  return report;
}

beforeAll(async () => {
  t = await createTestEnvironment("syncdry");
  alias = `${t.indexPrefix}notes`;
  config = `/tmp/${t.name}.config.ts`;
  await Bun.write(
    config,
    `export default { datasets: { notes: {
  source: { kind: "postgres", table: "notes", removedColumn: "removed" },
  table: { key: "id" },
  index: { alias: "notes", body: { mappings: { dynamic: "strict", properties: { id: { type: "keyword" }, title: { type: "text" }, removed: { type: "boolean" }, updated_at: { type: "date" } } } } },
  sync: { cursorColumn: "updated_at" },
} } };\n`,
  );
  await t.upstream`create table notes (id integer primary key, title text not null, removed boolean not null default false, updated_at timestamptz not null default now())`;
  await t.upstream`insert into notes (id, title, updated_at) select n, 'note ' || n, now() - interval '1 day' from generate_series(1, 40) n`;
  expect((await t.sluice("migrate", "up")).code).toBe(0);
}, 60_000);
afterAll(async () => {
  await t.drop();
}, 120_000);

describe("sync --dry-run", () => {
  test("with no live index it says sync would build a first generation of every record, and builds nothing", async () => {
    const plan = await dryRun();
    expect(plan).toMatchObject({ mode: "first", outcome: "would build a first generation", index: null });
    expect(plan.counters).toMatchObject({ read: 40, new: 40, deleted: 0 });
    expect(plan.sample.new).toHaveLength(10);
    const { code, report } = await sluiceJson();
    expect(code).toBe(0);
    expect(report.mode).toBe("first");
  });

  test("an incremental dry run reports the exact new, updated and deleted ids; the real sync then does just that", async () => {
    await t.upstream`insert into notes (id, title) values (41, 'note 41'), (42, 'note 42')`;
    await t.upstream`update notes set title = title || ' (edited)', updated_at = now() where id in (1, 2, 3)`;
    await t.upstream`update notes set removed = true, updated_at = now() where id = 4`;
    await t.upstream`delete from notes where id = 5`;
    const plan = await dryRun();
    expect(plan.mode).toBe("incremental");
    expect(plan.outcome).toBe("would sync");
    expect(plan.counters).toMatchObject({ read: 5, new: 2, updated: 3, deleted: 1, unchanged: 0 });
    expect(plan.sample).toEqual({ new: ["41", "42"], updated: ["1", "2", "3"], deleted: ["4"] });
    expect(plan.gate).toMatchObject({ deletions: 1, documents: 40, wouldRefuse: false });

    const { code, report } = await sluiceJson();
    expect(code).toBe(0);
    expect(report.mode).toBe("incremental");
    for (const key of ["read", "new", "updated", "deleted", "unchanged"]) expect(report.counters[key]).toBe(plan.counters[key]);
  });

  test("a full dry run finds what vanished outright; the real full sync deletes exactly it", async () => {
    const plan = await dryRun("--full");
    expect(plan.mode).toBe("full");
    expect(plan.counters).toMatchObject({ read: 40, new: 0, updated: 0, deleted: 1, unchanged: 40 });
    expect(plan.sample.deleted).toEqual(["5"]);
    const { code, report } = await sluiceJson("--full");
    expect(code).toBe(0);
    for (const key of ["read", "new", "updated", "deleted", "unchanged"]) expect(report.counters[key]).toBe(plan.counters[key]);
    expect(((await fetch(`${elasticsearchUrl}/${alias}/_doc/5`).then((r) => r.json())) as { found: boolean }).found).toBe(false);
  });

  test("a dry run says when the deletion gate would refuse, and still changes nothing", async () => {
    await t.upstream`delete from notes where id between 10 and 15`;
    await t.upstream`update notes set title = 'note 20 again', updated_at = now() where id = 20`;
    const plan = await dryRun("--full");
    expect(plan.outcome).toBe("would be refused");
    expect(plan.gate).toEqual({ maxDeleteFraction: 0.1, deletions: 6, documents: 40, wouldRefuse: true });
    expect(plan.counters).toMatchObject({ updated: 1, unchanged: 33 });
    expect(plan.sample.updated).toEqual(["20"]);
    const refused = await t.sluice("sync", "notes", "--config", config, "--full");
    expect(refused.code).toBe(1);

    const forced = await dryRun("--full", "--force");
    expect(forced.outcome).toBe("would sync");
    expect(forced.counters).toMatchObject({ deleted: 6 });
    expect(forced.sample.deleted.sort()).toEqual(["10", "11", "12", "13", "14", "15"]);
  });

  test("the human report names the outcome and says nothing was written", async () => {
    const { code, stdout } = await t.sluice("sync", "notes", "--config", config, "--dry-run", "--full");
    expect(code).toBe(0);
    expect(stdout).toContain("notes sync dry run (full,");
    expect(stdout).toContain("would be refused; nothing was written");
    expect(stdout).toMatch(/deletion gate: 6 of 40 documents .* would refuse/);
  });
});

describe("sync --dry-run over an index built by run", () => {
  test("every record counts as updated (it is stamped once) and what the source lost is deleted, as the real sync does", async () => {
    const built = `/tmp/${t.name}-built.config.ts`;
    await Bun.write(
      built,
      `export default { datasets: { built: {
  source: { kind: "postgres", table: "built" },
  table: { key: "id" },
  index: { alias: "built", body: { mappings: { dynamic: "strict", properties: { id: { type: "keyword" }, title: { type: "text" }, updated_at: { type: "date" } } } } },
  sync: { cursorColumn: "updated_at" },
} } };\n`,
    );
    await t.upstream`create table built (id integer primary key, title text not null, updated_at timestamptz not null default now())`;
    await t.upstream`insert into built (id, title) select n, 'built ' || n from generate_series(1, 30) n`;
    expect((await t.sluice("run", "built", "--config", built)).code).toBe(0);
    await t.upstream`delete from built where id = 7`;
    const builtAlias = `${t.indexPrefix}built`;
    const mappingBefore = await fetch(`${elasticsearchUrl}/${builtAlias}/_mapping`).then((r) => r.json());
    const [jobsBefore] = await t.api`select count(*)::int as n from sluice.jobs`;
    const dry = await t.sluice("sync", "built", "--config", built, "--json", "--dry-run", "--full");
    expect(dry.code).toBe(0);
    const plan = JSON.parse(dry.stdout);
    expect(plan.counters).toMatchObject({ read: 29, new: 0, updated: 29, deleted: 1, unchanged: 0 });
    expect(plan.sample.deleted).toEqual(["7"]);
    expect(await fetch(`${elasticsearchUrl}/${builtAlias}/_mapping`).then((r) => r.json())).toEqual(mappingBefore);
    const [jobsAfter] = await t.api`select count(*)::int as n from sluice.jobs`;
    expect(jobsAfter!.n).toBe(jobsBefore!.n);

    const real = await t.sluice("sync", "built", "--config", built, "--json", "--full");
    expect(real.code).toBe(0);
    const report = JSON.parse(real.stdout);
    for (const key of ["read", "new", "updated", "deleted", "unchanged"]) expect(report.counters[key]).toBe(plan.counters[key]);
  });
});
