/**
 * Issue 11 on module and file sources: the example module source (unordered, sorted through
 * Postgres) and a CSV file source drive datasets with no table of their own (index-only
 * generations); a source that throws mid-stream deletes nothing it had not covered; a sync and a
 * run of one dataset never overlap; a sync killed with SIGKILL converges when run again; the error
 * monitor (sync.maxConsecutiveFailures, sync.maxErrorRate) stops a sync and keeps its cursor.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, unlinkSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { aliasIndices, createTestEnvironment, elasticsearchUrl, spawnSluice, type TestEnvironment } from "./support/harness.ts";
import { lastJob } from "./support/openverse.ts";
import { scriptedId } from "./support/sync-sources.ts";

let t: TestEnvironment;
let dir = "";
let configs = 0;
const root = new URL("../", import.meta.url).pathname;
const scripted = `${root}test/support/sync-sources.ts:ScriptedSource`;

/** A config file of one dataset (a new file each time: the in-process harness caches imports). */
async function writeConfig(name: string, sync: string): Promise<string> {
  const path = join(dir, `c${++configs}.config.ts`);
  await Bun.write(path, `export default { datasets: { ${JSON.stringify(name)}: {
  source: { kind: "postgres", table: "unused" },
  table: { key: "id" },
  index: { alias: ${JSON.stringify(name)}, batchDocuments: 20 },
  sync: ${sync},
} } };\n`);
  return path;
}

async function ids(alias: string): Promise<string[]> {
  await fetch(`${elasticsearchUrl}/${t.indexPrefix}${alias}/_refresh`, { method: "POST" });
  const res = await fetch(`${elasticsearchUrl}/${t.indexPrefix}${alias}/_search?size=1000&sort=_sluice_id`).then((r) => r.json() as Promise<{ hits: { hits: { _id: string; _source: Record<string, unknown> }[] } }>);
  return res.hits.hits.map((h) => h._id);
}

async function sync(config: string, dataset: string, ...args: string[]) {
  const { code, stdout } = await t.sluice("sync", dataset, "--config", config, "--json", ...args);
  return { code, report: code === 0 ? JSON.parse(stdout) : null };
}

beforeAll(async () => {
  t = await createTestEnvironment("syncmod");
  dir = `/tmp/${t.name}`;
  mkdirSync(dir, { recursive: true });
  expect((await t.sluice("migrate", "up")).code).toBe(0);
}, 60_000);
afterAll(async () => {
  await t.drop();
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe("the example module source", () => {
  test("builds an index-only generation, then keeps it in step: new, changed, deleted files", async () => {
    const notes = join(dir, "notes");
    for (const n of ["b", "a", "c", "d"]) await Bun.write(join(notes, `${n}.json`), JSON.stringify({ title: `note ${n}` }));
    const config = await writeConfig("notes", `{ source: { kind: "module", module: "./examples/sources/json-directory.ts:JsonDirectorySource", options: { dir: ${JSON.stringify(notes)} } } }`);
    const first = await sync(config, "notes");
    expect(first.code).toBe(0);
    expect(first.report).toMatchObject({ mode: "first", generation: 1, counters: { read: 4, new: 4 } });
    expect(await aliasIndices(`${t.indexPrefix}notes`)).toEqual([`${t.indexPrefix}notes-g1`]);
    expect(await ids("notes")).toEqual(["a", "b", "c", "d"]);
    // A body naming no replicas gets the index stage's 0, not Elasticsearch's 1 (a yellow index on one node).
    const settings = (await (await fetch(`${elasticsearchUrl}/${t.indexPrefix}notes-g1/_settings?flat_settings=true`)).json()) as Record<string, { settings: Record<string, string> }>;
    expect(settings[`${t.indexPrefix}notes-g1`]!.settings["index.number_of_replicas"]).toBe("0");

    // Edit one file (a later mtime), add one, delete one.
    await Bun.write(join(notes, "b.json"), JSON.stringify({ title: "note b, edited" }));
    const later = new Date(Date.now() + 5000);
    utimesSync(join(notes, "b.json"), later, later);
    await Bun.write(join(notes, "e.json"), JSON.stringify({ title: "note e" }));
    utimesSync(join(notes, "e.json"), later, later);
    unlinkSync(join(notes, "d.json"));
    const full = await sync(config, "notes", "--full", "--force");
    expect(full.code).toBe(0);
    expect(full.report.counters).toMatchObject({ read: 4, new: 1, updated: 1, unchanged: 2, deleted: 1 });
    expect(await ids("notes")).toEqual(["a", "b", "c", "e"]);

    // Incremental: only what changed after the stored cursor is read.
    const latest = new Date(Date.now() + 10_000);
    await Bun.write(join(notes, "a.json"), JSON.stringify({ title: "note a, edited" }));
    utimesSync(join(notes, "a.json"), latest, latest);
    const inc = await sync(config, "notes", "--incremental");
    expect(inc.code).toBe(0);
    expect(inc.report).toMatchObject({ mode: "incremental", counters: { read: 1, updated: 1 } });
  });
});

describe("a file source", () => {
  test("a CSV file synced, then changed", async () => {
    const csv = join(dir, "books.csv");
    await Bun.write(csv, "id,title,year\n1,Dune,1965\n2,Emma,1815\n3,Ulysses,1922\n");
    const config = await writeConfig("books", `{ source: { kind: "file", path: ${JSON.stringify(csv)} }, rules: [{ policy: "exclude", field: "year", lt: 1900 }] }`);
    const first = await sync(config, "books");
    expect(first.code).toBe(0);
    expect(first.report.counters).toMatchObject({ read: 3, new: 2, skipped: { excluded_by_rule: 1 } });
    expect(await ids("books")).toEqual(["1", "3"]);
    await Bun.write(csv, "id,title,year\n1,Dune,1965\n3,Ulysses (annotated),1922\n4,Beloved,1987\n");
    const second = await sync(config, "books", "--force");
    expect(second.code).toBe(0);
    expect(second.report.counters).toMatchObject({ read: 3, new: 1, updated: 1, unchanged: 1 });
    expect(await ids("books")).toEqual(["1", "3", "4"]);
  });
});

describe("the error monitor", () => {
  /** A JSONL file source whose `year` field the first records map as a number; "unknown" then fails to index. */
  async function monitored(name: string, limits: string) {
    const file = join(dir, `${name}.jsonl`);
    await Bun.write(file, [1, 2, 3].map((n) => JSON.stringify({ id: String(n), year: 1900 + n })).join("\n") + "\n");
    const path = join(dir, `c${++configs}.config.ts`);
    await Bun.write(path, `export default { datasets: { ${JSON.stringify(name)}: {
  source: { kind: "postgres", table: "unused" },
  table: { key: "id" },
  index: { alias: ${JSON.stringify(name)}, batchDocuments: 20, maxFailures: 100000 },
  sync: { source: { kind: "file", path: ${JSON.stringify(file)} }, ${limits} },
} } };\n`);
    expect((await sync(path, name)).code).toBe(0);
    const [state] = await t.api`select cursor, last_job from sluice.sync_state where dataset = ${name}`;
    return { file, path, state };
  }

  test("documents failing in a row past sync.maxConsecutiveFailures stop the sync; the cursor stays", async () => {
    const { file, path, state } = await monitored("streak", "maxConsecutiveFailures: 3");
    const records = [1, 2, 3].map((n) => ({ id: String(n), year: 1900 + n }));
    for (let n = 4; n <= 10; n++) records.push({ id: String(n), year: "unknown" as unknown as number });
    await Bun.write(file, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
    expect((await sync(path, "streak", "--full")).code).not.toBe(0);
    const job = await lastJob(t, "streak", "sync");
    expect(job.state).toBe("failed");
    expect(job.error).toMatch(/documents failed in a row \(sync\.maxConsecutiveFailures is 3\); stopped the sync/);
    expect((await t.api`select cursor, last_job from sluice.sync_state where dataset = 'streak'`)[0]).toEqual(state!);
  });

  test("a share of failed documents past sync.maxErrorRate stops the sync, though none failed in a row", async () => {
    const { file, path, state } = await monitored("sparse", "maxConsecutiveFailures: 1000, maxErrorRate: 0.05");
    // Every tenth record fails: 10% spread thinly, never two in a row.
    const records = Array.from({ length: 1200 }, (_, i) => ({ id: String(i + 1), year: i % 10 === 9 ? "unknown" : 1900 + (i % 100) }));
    await Bun.write(file, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
    expect((await sync(path, "sparse", "--full")).code).not.toBe(0);
    const job = await lastJob(t, "sparse", "sync");
    expect(job.state).toBe("failed");
    expect(job.error).toMatch(/documents failed, more than sync\.maxErrorRate 0\.05; stopped the sync/);
    expect((await t.api`select cursor, last_job from sluice.sync_state where dataset = 'sparse'`)[0]).toEqual(state!);
  });
});

describe("never delete by mistake", () => {
  test("a source that throws mid-stream deletes nothing it had not covered; the next good sync converges", async () => {
    const good = await writeConfig("things", `{ source: { kind: "module", module: ${JSON.stringify(scripted)}, options: { count: 20 } } }`);
    expect((await sync(good, "things")).code).toBe(0);
    expect(await ids("things")).toHaveLength(20);
    const [state] = await t.api`select cursor, last_job from sluice.sync_state where dataset = 'things'`;

    // r0003 and r0015 are gone upstream; the source dies after 10 records (around r0011).
    const cut = await writeConfig("things", `{ source: { kind: "module", module: ${JSON.stringify(scripted)}, options: { count: 20, version: "2", drop: ["r0003", "r0015"], failAfter: 10 } } }`);
    expect((await sync(cut, "things", "--full")).code).toBe(1);
    const job = await lastJob(t, "things", "sync");
    expect(job.state).toBe("failed");
    expect(job.error).toMatch(/the source of dataset things failed after 10 records: scripted failure after 10 records; nothing was deleted and the cursor did not move/);
    const after = await ids("things");
    expect(after).toContain("r0015");
    // Nothing is deleted by a failed sync, not even what it had passed.
    expect(after).toContain("r0003");
    expect(after).toHaveLength(20);
    const [unchangedState] = await t.api`select cursor, last_job from sluice.sync_state where dataset = 'things'`;
    expect(unchangedState).toEqual(state!);

    const whole = await writeConfig("things", `{ source: { kind: "module", module: ${JSON.stringify(scripted)}, options: { count: 20, version: "2", drop: ["r0003", "r0015"] } } }`);
    const fixed = await sync(whole, "things", "--full");
    expect(fixed.code).toBe(0);
    expect(fixed.report.counters).toMatchObject({ deleted: 2 });
    expect(await ids("things")).toEqual(Array.from({ length: 20 }, (_, i) => scriptedId(i + 1)).filter((id) => id !== "r0003" && id !== "r0015"));
  });
});

describe("in the job model", () => {
  async function runningSync(config: string, dataset: string): Promise<Bun.Subprocess<"ignore", "pipe", "pipe">> {
    const child = spawnSluice(["sync", dataset, "--config", config, "--full"], t.childEnv());
    for (let i = 0; i < 200; i++) {
      const [row] = await t.api`select id from sluice.jobs where dataset = ${dataset} and stage = 'sync' and state = 'running' order by id desc limit 1`.catch(() => []);
      if (row) return child;
      await Bun.sleep(100);
    }
    child.kill(9);
    throw new Error("the sync child never started reading");
  }

  test("a sync and a run of one dataset never overlap: the second exits 4", async () => {
    const slow = await writeConfig("locked", `{ source: { kind: "module", module: ${JSON.stringify(scripted)}, options: { count: 400, delayMs: 20 } } }`);
    const child = await runningSync(slow, "locked");
    try {
      expect((await t.sluice("run", "locked", "--config", slow)).code).toBe(4);
      expect((await t.sluice("sync", "locked", "--config", slow)).code).toBe(4);
    } finally {
      child.kill("SIGTERM");
      await child.exited;
    }
  }, 60_000);

  test("a sync stopped by SIGTERM while it writes into the live index does not claim production untouched", async () => {
    const base = await writeConfig("stopped", `{ source: { kind: "module", module: ${JSON.stringify(scripted)}, options: { count: 300 } } }`);
    expect((await sync(base, "stopped")).code).toBe(0);
    const changed = await writeConfig("stopped", `{ source: { kind: "module", module: ${JSON.stringify(scripted)}, options: { count: 300, version: "2", delayMs: 20 } } }`);
    const child = await runningSync(changed, "stopped");
    await Bun.sleep(2500);
    expect(child.exitCode).toBeNull();
    child.kill("SIGTERM");
    const stderr = await new Response(child.stderr).text();
    expect(await child.exited).toBe(143);
    // Before: "interrupted by SIGTERM (production was left untouched; …)", with part of the changes already live.
    expect(stderr).toContain("interrupted by SIGTERM (this sync had begun writing into the live index");
    expect(stderr).not.toContain("untouched");
    const [job] = await t.api`select state from sluice.jobs where dataset = 'stopped' and stage = 'sync' order by id desc limit 1`;
    expect(job!.state).toBe("failed");
  }, 60_000);

  test("a sync killed with SIGKILL leaves the last committed state, and the next sync converges", async () => {
    const base = await writeConfig("killed", `{ source: { kind: "module", module: ${JSON.stringify(scripted)}, options: { count: 300 } } }`);
    expect((await sync(base, "killed")).code).toBe(0);
    const [before] = await t.api`select cursor, last_job from sluice.sync_state where dataset = 'killed'`;
    // Every record changes and 20 vanish; the sync is killed part-way through.
    const changed = await writeConfig("killed", `{ source: { kind: "module", module: ${JSON.stringify(scripted)}, options: { count: 300, version: "2", drop: ${JSON.stringify(Array.from({ length: 20 }, (_, i) => scriptedId(i * 15 + 1)))}, delayMs: 20 } } }`);
    const child = await runningSync(changed, "killed");
    // Part-way: some batches of 20 written with version 2, the rest and every deletion not yet.
    await Bun.sleep(2500);
    expect(child.exitCode).toBeNull();
    child.kill("SIGKILL");
    await child.exited;
    const versionCount = async (v: number) => {
      await fetch(`${elasticsearchUrl}/${t.indexPrefix}killed/_refresh`, { method: "POST" });
      return (await fetch(`${elasticsearchUrl}/${t.indexPrefix}killed/_count?q=version:${v}`).then((r) => r.json() as Promise<{ count: number }>)).count;
    };
    // Killed mid-stream: some documents rewritten, others not, none deleted.
    expect(await versionCount(2)).toBeGreaterThan(0);
    expect(await versionCount(1)).toBeGreaterThan(0);
    expect(await ids("killed")).toHaveLength(300);
    const [stillBefore] = await t.api`select cursor, last_job from sluice.sync_state where dataset = 'killed'`;
    expect(stillBefore).toEqual(before!);

    const again = await writeConfig("killed", `{ source: { kind: "module", module: ${JSON.stringify(scripted)}, options: { count: 300, version: "2", drop: ${JSON.stringify(Array.from({ length: 20 }, (_, i) => scriptedId(i * 15 + 1)))} } } }`);
    const rerun = await sync(again, "killed", "--full");
    expect(rerun.code).toBe(0);
    expect(rerun.report.counters.deleted).toBe(20);
    const now = await ids("killed");
    expect(now).toHaveLength(280);
    // Every document now carries version 2.
    expect(await versionCount(1)).toBe(0);
    const dead = await t.api`select state from sluice.jobs where dataset = 'killed' and stage = 'sync' order by id`;
    expect(dead.map((r) => r.state)).toEqual(["succeeded", "failed", "succeeded"]);
    const [{ n }] = (await t.api`select count(*)::int as n from sluice.sync_records`) as unknown as [{ n: number }];
    expect(n).toBe(0);
  }, 90_000);
});
