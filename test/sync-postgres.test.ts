/**
 * Issue 11 on a postgres source: the first sync builds and swaps a generation through the existing
 * stages; later syncs follow the `updated_at` cursor across rows inserted, updated, flagged removed
 * and deleted upstream; a full sync reconciles what an incremental one cannot see; the deletion
 * gate; sync rules; an unchanged source skips; the cursor moves only when a sync succeeds.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestEnvironment, elasticsearchUrl, spawnSluice, type TestEnvironment } from "./support/harness.ts";
import { proxiedDatabase } from "./support/tcp-proxy.ts";
import { lastJob } from "./support/openverse.ts";
import { VersionsCopy } from "../src/stages/sync/versions-mirror.ts";

let t: TestEnvironment;
let config = "";
let alias = "";

function configText(extra = ""): string {
  return `export default { datasets: { notes: {
  source: { kind: "postgres", table: "notes", removedColumn: "removed" },
  table: { key: "id" },
  index: { alias: "notes", body: { mappings: { dynamic: "strict", properties: { id: { type: "keyword" }, title: { type: "text" }, kind: { type: "keyword" }, removed: { type: "boolean" }, updated_at: { type: "date" } } } } },
  sync: { cursorColumn: "updated_at"${extra} },
} } };\n`;
}

async function sync(...args: string[]) {
  const { code, stdout } = await t.sluice("sync", "notes", "--config", config, "--json", ...args);
  return { code, report: code === 0 ? JSON.parse(stdout) : null };
}

async function indexed(): Promise<Map<string, Record<string, unknown>>> {
  await fetch(`${elasticsearchUrl}/${alias}/_refresh`, { method: "POST" });
  const res = await fetch(`${elasticsearchUrl}/${alias}/_search?size=1000`).then((r) => r.json() as Promise<{ hits: { hits: { _id: string; _source: Record<string, unknown> }[] } }>);
  return new Map(res.hits.hits.map((h) => [h._id, h._source]));
}

beforeAll(async () => {
  t = await createTestEnvironment("syncpg");
  alias = `${t.indexPrefix}notes`;
  config = `/tmp/${t.name}.config.ts`;
  await Bun.write(config, configText());
  await t.upstream`create table notes (id integer primary key, title text not null, kind text not null default 'note', removed boolean not null default false, updated_at timestamptz not null default now())`;
  await t.upstream`insert into notes (id, title, updated_at) select n, 'note ' || n, now() - interval '1 day' from generate_series(1, 40) n`;
  expect((await t.sluice("migrate", "up")).code).toBe(0);
}, 60_000);
afterAll(async () => {
  await t.drop();
}, 120_000);

describe("sync on a postgres source", () => {
  test("the first sync builds generation 1 through refresh, index and swap, table and index together", async () => {
    const { code, report } = await sync();
    expect(code).toBe(0);
    expect(report.mode).toBe("first");
    expect(report.generation).toBe(1);
    const docs = await indexed();
    expect(docs.size).toBe(40);
    expect(docs.get("7")).toMatchObject({ title: "note 7", _sluice_id: "7" });
    const [{ n }] = (await t.api`select count(*)::int as n from notes`) as unknown as [{ n: number }];
    expect(n).toBe(40);
    const [gen] = await t.api`select state from sluice.generations where dataset = 'notes' and number = 1`;
    expect(gen!.state).toBe("live");
    const [state] = await t.api`select cursor from sluice.sync_state where dataset = 'notes'`;
    expect(state!.cursor).not.toBeNull();
    // Each document was written once, stamped by the index stage: no second (stamping) pass.
    const written = await fetch(`${elasticsearchUrl}/${alias}/_search?size=1000&version=true&_source=_sluice_job`).then((r) => r.json() as Promise<{ hits: { hits: { _version: number; _source: { _sluice_job?: string } }[] } }>);
    expect(new Set(written.hits.hits.map((h) => h._version))).toEqual(new Set([1]));
    expect(new Set(written.hits.hits.map((h) => h._source._sluice_job))).toEqual(new Set([String(report.job)]));
    expect(report.counters).toMatchObject({ read: 40, new: 40, updated: 0, deleted: 0 });
  });

  test("a full sync right after the first build finds every document unchanged (the stamped versions are the source's)", async () => {
    const { code, report } = await sync("--full");
    expect(code).toBe(0);
    expect(report.counters).toMatchObject({ read: 40, new: 0, updated: 0, deleted: 0, unchanged: 40 });
  });

  test("a full sync compares the source with the versions table the last sync left, and with the index itself when their counts differ", async () => {
    const live = (await t.api`select versions_index from sluice.sync_state where dataset = 'notes'`)[0]!.versions_index as string;
    expect(live).toStartWith(alias);
    const [{ n }] = (await t.api`select count(*)::int as n from sluice.sync_versions where dataset = 'notes'`) as unknown as [{ n: number }];
    expect(n).toBe(40);
    // The table stands in for the index: a version changed there alone makes that document rewritten.
    await t.api`update sluice.sync_versions set version = 'stale' where dataset = 'notes' and id = '9'`;
    const table = await sync("--full");
    expect(table.report.counters).toMatchObject({ updated: 1, unchanged: 39 });
    // A document deleted behind sync's back: the counts differ, so the index itself is read, and the document comes back.
    await fetch(`${elasticsearchUrl}/${alias}/_doc/12?refresh=true`, { method: "DELETE" });
    const drifted = await sync("--full");
    expect(drifted.report.counters).toMatchObject({ new: 1, updated: 0, unchanged: 39 });
    expect((await indexed()).has("12")).toBe(true);
  });

  test("an unchanged source skips the sync, and the job says so", async () => {
    const { code, report } = await sync();
    expect(code).toBe(0);
    expect(report.mode).toBe("skipped");
    const job = await lastJob(t, "notes", "sync");
    expect(job.state).toBe("succeeded");
  });

  test("an incremental sync upserts inserted and updated rows and deletes flagged ones", async () => {
    await t.upstream`insert into notes (id, title) values (41, 'note 41'), (42, 'note 42')`;
    await t.upstream`update notes set title = title || ' (edited)', updated_at = now() where id in (1, 2, 3)`;
    await t.upstream`update notes set removed = true, updated_at = now() where id = 4`;
    await t.upstream`delete from notes where id = 5`;
    const { code, report } = await sync();
    expect(code).toBe(0);
    expect(report.mode).toBe("incremental");
    expect(report.counters).toMatchObject({ read: 5, new: 2, updated: 3, deleted: 1, unchanged: 0 });
    const docs = await indexed();
    expect(docs.get("1")!.title).toBe("note 1 (edited)");
    expect(docs.has("41")).toBe(true);
    expect(docs.has("4")).toBe(false);
    // A row deleted outright has no trace an incremental sync could follow: still there until a full sync.
    expect(docs.has("5")).toBe(true);
    expect(docs.size).toBe(41);
  });

  test("a full sync deletes what vanished outright and skips the rest by version", async () => {
    const { code, report } = await sync("--full");
    expect(code).toBe(0);
    expect(report.mode).toBe("full");
    expect(report.counters).toMatchObject({ read: 40, new: 0, updated: 0, deleted: 1, unchanged: 40 });
    const docs = await indexed();
    expect(docs.has("5")).toBe(false);
    expect(docs.size).toBe(40);
  });

  test("a sync that would delete more than maxDeleteFraction refuses, deletes nothing and keeps the cursor", async () => {
    const [before] = await t.api`select cursor, last_job from sluice.sync_state where dataset = 'notes'`;
    await t.upstream`delete from notes where id between 10 and 15`;
    await t.upstream`update notes set title = 'note 20 again', updated_at = now() where id = 20`;
    const refused = await t.sluice("sync", "notes", "--config", config, "--full");
    expect(refused.code).toBe(1);
    const job = await lastJob(t, "notes", "sync");
    expect(job.state).toBe("failed");
    expect(job.error).toMatch(/would delete 6 of 40 documents \(15\.0%\), more than sync\.maxDeleteFraction 0\.1; deleted nothing/);
    expect(job.error).toContain("--force");
    // The upserts it made stay (they are the source's); only the deletions wait.
    const docs = await indexed();
    expect(docs.size).toBe(40);
    expect(docs.get("20")!.title).toBe("note 20 again");
    const [after] = await t.api`select cursor, last_job from sluice.sync_state where dataset = 'notes'`;
    expect(after).toEqual(before!);

    const { code, report } = await sync("--full", "--force");
    expect(code).toBe(0);
    expect(report.counters).toMatchObject({ deleted: 6, updated: 0, unchanged: 34 });
    expect((await indexed()).size).toBe(34);
  });

  test("sync rules apply before the reconcile: documents a new rule excludes leave the index", async () => {
    await t.upstream`update notes set kind = 'draft' where id in (30, 31)`;
    // A new file: the in-process harness would get the cached module of the old one.
    config = `/tmp/${t.name}-rules.config.ts`;
    await Bun.write(config, configText(`, rules: [{ policy: "include", field: "id", equals: 30 }, { policy: "exclude", field: "kind", equals: "draft" }, { policy: "exclude", field: "title", prefix: "note 4" }]`));
    const { code, report } = await sync("--full", "--force");
    expect(code).toBe(0);
    const docs = await indexed();
    // 30 is included by the first rule, 31 excluded as a draft; "note 4…" titles (40, 41, 42) excluded.
    expect(docs.has("30")).toBe(true);
    expect(docs.has("31")).toBe(false);
    expect(["40", "41", "42"].filter((id) => docs.has(id))).toEqual([]);
    expect(report.counters.skipped.excluded_by_rule).toBe(4);
    expect(report.counters.deleted).toBe(4);
  });
});

describe("a version column", () => {
  test("a full sync compares ids and versions alone and reads whole only the rows it found new or changed", async () => {
    await t.upstream`create table revs (id integer primary key, title text not null, updated_at timestamptz not null default now())`;
    await t.upstream`insert into revs (id, title, updated_at) select n, 'rev ' || n, now() - interval '1 day' from generate_series(1, 30) n`;
    const revsConfig = `/tmp/${t.name}.revs.config.ts`;
    await Bun.write(revsConfig, `export default { datasets: { revs: {
  source: { kind: "postgres", table: "revs" },
  table: { key: "id" },
  index: { alias: "revs", body: { mappings: { properties: { id: { type: "keyword" }, title: { type: "text" }, updated_at: { type: "date" } } } } },
  sync: { versionColumn: "updated_at", maxDeleteFraction: 0.5 },
} } };\n`);
    const run = async () => {
      const { code, stdout } = await t.sluice("sync", "revs", "--config", revsConfig, "--json", "--full");
      expect(code).toBe(0);
      return JSON.parse(stdout).counters;
    };
    expect(await run()).toMatchObject({ new: 30 });
    expect(await run()).toMatchObject({ read: 30, new: 0, updated: 0, unchanged: 30 });
    await t.upstream`update revs set title = title || ' (edited)', updated_at = now() where id in (3, 4)`;
    await t.upstream`insert into revs (id, title) values (31, 'rev 31')`;
    await t.upstream`delete from revs where id = 5`;
    expect(await run()).toMatchObject({ read: 30, new: 1, updated: 2, deleted: 1, unchanged: 27 });
    await fetch(`${elasticsearchUrl}/${t.indexPrefix}revs/_refresh`, { method: "POST" });
    const docs = await fetch(`${elasticsearchUrl}/${t.indexPrefix}revs/_search?size=100`).then((r) => r.json() as Promise<{ hits: { hits: { _id: string; _source: { title: string } }[] } }>);
    const titles = new Map(docs.hits.hits.map((h) => [h._id, h._source.title]));
    expect(titles.size).toBe(30);
    expect(titles.get("3")).toBe("rev 3 (edited)");
    expect(titles.get("31")).toBe("rev 31");
    expect(titles.has("5")).toBe(false);
    expect(await run()).toMatchObject({ new: 0, updated: 0, unchanged: 30 });
  });
});

describe("what sync does not do", () => {
  test("a dataset whose refresh cleans rows or leaves out moderated ones is refused, naming the keys", async () => {
    const cleaned = `/tmp/${t.name}-cleaned.config.ts`;
    await Bun.write(cleaned, `export default { datasets: { cleaned: {
  source: { kind: "postgres", table: "notes" },
  table: { key: "id", deletedTable: "moderated" },
  clean: { urlColumns: ["title"] },
  index: { alias: "cleaned" },
} } };\n`);
    const { code } = await t.sluice("sync", "cleaned", "--config", cleaned);
    expect(code).toBe(2);
    const [job] = await t.api`select id from sluice.jobs where dataset = 'cleaned'`;
    expect(job).toBeUndefined();
  });
});

describe("the first build's versions COPY", () => {
  test("streams ids and versions into sluice.sync_versions, escaped, a repeat of the id just listed once; a discarded COPY leaves nothing", async () => {
    const copy = await VersionsCopy.open(t.apiUrl, "copied");
    const odd = ["tab\there", "line\nbreak", "back\\slash", "ünï"];
    for (const id of odd) copy.push(id, `v-${id}`);
    copy.push("ünï", "again");
    for (let i = 0; i < 4500; i++) copy.push(`n${i}`, String(i));
    await copy.flush();
    const rows = await t.api`select id, version from sluice.sync_versions where dataset = 'copied' order by id`;
    expect(rows).toHaveLength(4504);
    expect(rows.filter((r) => odd.includes(r.id as string)).map((r) => [r.id, r.version])).toEqual(odd.map((id) => [id, `v-${id}`]).sort((a, b) => Buffer.compare(Buffer.from(a[0]!), Buffer.from(b[0]!))));

    const dropped = await VersionsCopy.open(t.apiUrl, "dropped");
    for (let i = 0; i < 2500; i++) dropped.push(`d${i}`, "1");
    await dropped.discard();
    const [{ n }] = (await t.api`select count(*)::int as n from sluice.sync_versions where dataset = 'dropped'`) as unknown as [{ n: number }];
    expect(n).toBe(0);
    await t.api`delete from sluice.sync_versions where dataset = 'copied'`;
  });
});

describe("the upstream database going away", () => {
  /** One sync through a proxy that cuts every connection to UPSTREAM_DATABASE_URL when `statement` is sent, for 1.5 s. */
  async function syncCutAt(statement: string) {
    const { proxy, url } = proxiedDatabase(t.upstreamUrl);
    proxy.dropAllOn(statement, () => {
      proxy.pause();
      setTimeout(() => proxy.resume(), 1500);
    });
    const child = spawnSluice(["sync", "notes", "--config", config], { ...t.childEnv(), UPSTREAM_DATABASE_URL: url });
    const stderr = await new Response(child.stderr).text();
    const code = await child.exited;
    proxy.stop();
    return { code, stderr };
  }

  test("is named as UPSTREAM_DATABASE_URL, before the read and in it; the cursor stays and the next sync converges", async () => {
    const [before] = await t.api`select cursor from sluice.sync_state where dataset = 'notes'`;
    await t.upstream`update notes set title = title || ' (cut)', updated_at = now() where id <= 5`;

    // The source's state, asked before anything is read: the sync's own handler took it for the API database's.
    const atState = await syncCutAt("count(*)::bigint::text AS rows");
    // The rows being read: "the source … failed after 0 records: read ECONNRESET (fix the source …)".
    const atRead = await syncCutAt("row_to_json(t) AS doc");
    for (const { code, stderr } of [atState, atRead]) {
      const last = stderr.trim().split("\n").at(-1)!;
      try {
        expect(code).toBe(1);
        expect(last).toContain("lost the connection to UPSTREAM_DATABASE_URL (");
        expect(last).toContain("while trying to read the sync source of dataset notes");
        expect(last).not.toMatch(/to DATABASE_URL|fix the source/);
      } catch (error) {
        console.error(`sync exited ${code}; its stderr:\n${stderr}`);
        throw error;
      }
    }
    const [after] = await t.api`select cursor from sluice.sync_state where dataset = 'notes'`;
    expect(after!.cursor).toEqual(before!.cursor);
    expect((await sync()).code).toBe(0);
    const docs = await indexed();
    expect(docs.get("3")?.title).toEndWith(" (cut)");
  }, 60_000);
});
