/**
 * Issue 14, point 3: `refresh --dry-run` and `run --dry-run` on the Openverse samples report what
 * would change (rows by reason, keys against live with a sample, gates) and leave the database and
 * the cluster exactly as they were.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestEnvironment, elasticsearchUrl, type TestEnvironment } from "./support/harness.ts";
import { loadOpenverseSample } from "./support/openverse.ts";

let t: TestEnvironment;
beforeAll(async () => {
  t = await createTestEnvironment("dryrun");
  await loadOpenverseSample(t, ["image"]);
  expect((await t.sluice("migrate", "up")).code).toBe(0);
});
afterAll(async () => {
  await t.drop();
});

/** Everything a dry run could leave behind: tables (any schema but the catalog), indices, aliases, sluice's rows and sequences, locks. */
async function snapshot(): Promise<unknown> {
  const tables = await t.api`select schemaname || '.' || tablename as t from pg_tables where schemaname not in ('pg_catalog', 'information_schema') order by 1`;
  const sequences = await t.api`select sequencename as s, last_value::text as v from pg_sequences order by 1`;
  const counts = await t.api`select (select count(*)::int from sluice.generations) as generations, (select count(*)::int from sluice.jobs) as jobs, (select count(*)::int from sluice.row_failures) as failures`;
  const generations = await t.api`select dataset, number, state from sluice.generations order by 1, 2`;
  const locks = await t.api`select count(*)::int as n from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())`;
  const indices = await fetch(`${elasticsearchUrl}/_cat/indices/${t.indexPrefix}*?h=index,docs.count&s=index&expand_wildcards=all`).then((r) => r.text());
  const aliases = await fetch(`${elasticsearchUrl}/_cat/aliases/${t.indexPrefix}*?h=alias,index&s=alias`).then((r) => r.text());
  return { tables, sequences, counts, generations, locks, indices, aliases };
}

describe("--dry-run", () => {
  test("before anything is live: refresh --dry-run counts every row as the refresh does, all keys new", async () => {
    const before = await snapshot();
    const res = await t.sluice("refresh", "image", "--dry-run", "--json");
    expect(res.code).toBe(0);
    const plan = JSON.parse(res.stdout);
    expect(plan).toMatchObject({ dryRun: true, command: "refresh", outcome: "would refresh", live: null, counters: { read: 1899, written: 1374, skipped: { removed_from_source: 525 }, failed: {} } });
    expect(plan.changes).toMatchObject({ new: 1374, changed: 0, removed: 0 });
    expect(plan.changes.sample.new).toHaveLength(10);
    expect(await snapshot()).toEqual(before);
  }, 120_000);

  test("run --dry-run on an unchanged upstream says unchanged, and --rebuild says it would promote", async () => {
    expect((await t.sluice("run", "image")).code).toBe(0);
    const before = await snapshot();
    expect(JSON.parse((await t.sluice("run", "image", "--dry-run", "--json")).stdout)).toMatchObject({ outcome: "unchanged", live: 1, changes: { new: 0, changed: 0, removed: 0 } });
    expect(JSON.parse((await t.sluice("run", "image", "--dry-run", "--rebuild", "--json")).stdout).outcome).toBe("would promote");
    expect(await snapshot()).toEqual(before);
  }, 120_000);

  test("with an upstream change: new, changed and removed keys against live, a shrink gate, and nothing left behind", async () => {
    // One row changed, one newly removed upstream, one brought back (new against live).
    const [changed] = await t.upstream`select identifier::text as id from image where not removed_from_source order by identifier limit 1`;
    const [removed] = await t.upstream`select identifier::text as id from image where not removed_from_source order by identifier desc limit 1`;
    const [added] = await t.upstream`select identifier::text as id from image where removed_from_source order by identifier limit 1`;
    await t.upstream`update image set title = 'dry run change' where identifier = ${changed!.id}::uuid`;
    await t.upstream`update image set removed_from_source = true where identifier = ${removed!.id}::uuid`;
    await t.upstream`update image set removed_from_source = false where identifier = ${added!.id}::uuid`;
    const before = await snapshot();
    const res = await t.sluice("run", "image", "--dry-run", "--json");
    expect(res.code).toBe(0);
    const plan = JSON.parse(res.stdout);
    expect(plan.outcome).toBe("would promote");
    expect(plan.live).toBe(1);
    expect(plan.changes).toEqual({ new: 1, changed: 1, removed: 1, sample: { new: [added!.id], changed: [changed!.id], removed: [removed!.id] } });
    expect(plan.refusals).toEqual([]);
    expect(await snapshot()).toEqual(before);

    // A tight shrink gate: remove 20% of the rows upstream; the plan names swap.maxShrink, the real run is refused the same way.
    await t.upstream`update image set removed_from_source = true where identifier in (select identifier from image where not removed_from_source and identifier <> ${added!.id}::uuid order by identifier limit 300)`;
    const before2 = await snapshot();
    const refused = JSON.parse((await t.sluice("run", "image", "--dry-run", "--json")).stdout);
    expect(refused.outcome).toBe("would be refused");
    expect(refused.refusals.map((r: { gate: string }) => r.gate)).toEqual(["swap.maxShrink", "swap.maxShrink"]);
    expect(refused.changes.removed).toBe(301);
    expect(await snapshot()).toEqual(before2);
    // The plain output is a table naming the same.
    const plain = await t.sluice("run", "image", "--dry-run");
    expect(plain.stdout).toContain("image dry run (run): would be refused; nothing was written");
    expect(plain.stdout).toMatch(/removed\s+301/);
    expect(plain.stdout).toContain("swap.maxShrink");
    expect(await snapshot()).toEqual(before2);
  }, 120_000);

  test("bad rows: the plan counts them as the refresh then does, and a tolerance breach shows as refresh.tolerance", async () => {
    await t.upstream.unsafe(`
      CREATE TABLE raw_photos (identifier text, title text, width text, meta_data text);
      INSERT INTO raw_photos VALUES
        ('6f1c2b9e-0000-4000-8000-000000000001', 'good one', '640', '{"description": "ok"}'),
        ('6f1c2b9e-0000-4000-8000-000000000002', 'bad json', '640', '{"description": '),
        ('6f1c2b9e-0000-4000-8000-000000000003', 'too wide', '99999999999', '{}'),
        (NULL, 'no key', '1', '{}'),
        ('6f1c2b9e-0000-4000-8000-000000000001', 'duplicate key', '640', '{}'),
        ('6f1c2b9e-0000-4000-8000-000000000006', 'good two', '640', '{}'),
        ('6f1c2b9e-0000-4000-8000-000000000007', 'good three', '640', '{}'),
        ('6f1c2b9e-0000-4000-8000-000000000008', 'good four', '640', '{}'),
        ('6f1c2b9e-0000-4000-8000-000000000009', 'good five', NULL, NULL);`);
    const config = (maxFailedFraction: number) => `import { defineConfig } from "sluice";
export default defineConfig({ datasets: { photos: {
  source: { kind: "postgres", table: "raw_photos" },
  table: { key: "identifier", columns: { identifier: "uuid", title: "text", width: "integer", meta_data: "jsonb" } },
  refresh: { maxFailedFraction: ${maxFailedFraction} },
} } });
`;
    const strict = `/tmp/${t.name}.strict.config.ts`;
    const lenient = `/tmp/${t.name}.lenient.config.ts`;
    await Bun.write(strict, config(0.01));
    await Bun.write(lenient, config(0.5));
    const before = await snapshot();
    const refused = JSON.parse((await t.sluice("refresh", "photos", "--config", strict, "--dry-run", "--json")).stdout);
    expect(refused.outcome).toBe("would fail");
    expect(refused.refusals).toHaveLength(1);
    expect(refused.refusals[0].gate).toBe("refresh.tolerance");
    expect(refused.refusals[0].reason).toContain("4 of 9 rows read failed");
    const plan = JSON.parse((await t.sluice("refresh", "photos", "--config", lenient, "--dry-run", "--json")).stdout);
    expect(plan.outcome).toBe("would refresh");
    expect(await snapshot()).toEqual(before);
    // The real refresh counts exactly what the plan said.
    expect((await t.sluice("refresh", "photos", "--config", lenient)).code).toBe(0);
    const [job] = await t.api`select counters from sluice.jobs where dataset = 'photos' and stage = 'refresh' order by id desc limit 1`;
    const { changes: _ignored, ...counted } = job!.counters;
    const { changes, ...planned } = plan.counters;
    expect(planned).toEqual(counted);
    expect(planned.failed).toMatchObject({ duplicate_key: 1 });
    expect(changes).toEqual({ new: 5, changed: 0, removed: 0 });
  }, 120_000);

  test("a registry dataset is refused with the way out, exit 2", async () => {
    const res = await t.sluice("refresh", "iati", "--dry-run");
    expect(res.code).toBe(2);
  }, 120_000);
});
