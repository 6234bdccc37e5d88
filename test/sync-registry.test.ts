/**
 * Issue 11, point 1: the registry as a built-in sync source. A local CKAN-like registry (Bun.serve)
 * lists one package per file of the shared IATI fixtures (test/fixtures/iati), its hash the file's
 * sha1, as the IATI registry lists a publisher's file; `sluice sync` keeps an index of the
 * packages' metadata: a first sync, then packages added, changed, renamed and removed, an unchanged
 * registry skipped after one request, and a registry that fails or ends mid-listing (nothing
 * beyond what the listing covered is deleted; the next sync converges).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { RegistrySource } from "../src/sources/registry-source.ts";
import type { SourceRecord } from "../src/sources/types.ts";
import { aliasIndices, createTestEnvironment, elasticsearchUrl, type TestEnvironment } from "./support/harness.ts";
import { lastJob } from "./support/openverse.ts";

const FIXTURES = new URL("./fixtures/iati/", import.meta.url).pathname;

interface Package {
  id: string;
  name: string;
  organization: { name: string };
  resources: { url: string; hash: string }[];
  metadata_modified: string;
}

/** Every fixture file as a package: id and name from its path, publisher its folder, hash its sha1. */
function fixturePackages(base: string): Package[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.push(path);
    }
  };
  walk(FIXTURES);
  return files.map((path) => {
    const rel = relative(FIXTURES, path);
    const id = `pkg-${new Bun.CryptoHasher("md5").update(rel).digest("hex").slice(0, 12)}`;
    return {
      id,
      name: rel.replace(/[^a-z0-9]+/gi, "-").toLowerCase(),
      organization: { name: rel.split("/")[0]! },
      resources: [{ url: `${base}files/${rel}`, hash: new Bun.CryptoHasher("sha1").update(readFileSync(path)).digest("hex") }],
      metadata_modified: "2024-06-20T07:10:17.000000",
    };
  });
}

let t: TestEnvironment;
let dir = "";
let configs = 0;
let listing: Package[] = [];
/** What the registry does to a listing request at `start` (the one-row probe is always answered). */
let fault: ((start: number) => Response | null) | null = null;
const requests: string[] = [];
const registry = Bun.serve({
  port: 0,
  fetch(req) {
    const url = new URL(req.url);
    if (url.pathname !== "/api/3/action/package_search") return new Response("?", { status: 404 });
    requests.push(url.search);
    const rows = Number(url.searchParams.get("rows"));
    const start = Number(url.searchParams.get("start"));
    const sort = url.searchParams.get("sort");
    const faulty = rows > 1 ? fault?.(start) : null;
    if (faulty) return faulty;
    const ordered = [...listing].sort((a, b) =>
      sort === "id asc" ? (a.id < b.id ? -1 : 1) : b.metadata_modified.localeCompare(a.metadata_modified) || (a.id < b.id ? -1 : 1),
    );
    return Response.json({ success: true, result: { count: listing.length, sort, results: ordered.slice(start, start + rows) } });
  },
});
const apiUrl = `${registry.url}api/3/action`;

async function writeConfig(name: string, pageSize = 10): Promise<string> {
  const path = join(dir, `c${++configs}.config.ts`);
  await Bun.write(path, `export default { datasets: { ${JSON.stringify(name)}: {
  source: { kind: "postgres", table: "unused" },
  table: { key: "id" },
  index: { alias: ${JSON.stringify(name)}, batchDocuments: 20 },
  sync: { source: { kind: "registry", url: ${JSON.stringify(apiUrl)}, pageSize: ${pageSize} } },
} } };\n`);
  return path;
}

async function documents(alias: string): Promise<Map<string, Record<string, unknown>>> {
  await fetch(`${elasticsearchUrl}/${t.indexPrefix}${alias}/_refresh`, { method: "POST" });
  const res = await fetch(`${elasticsearchUrl}/${t.indexPrefix}${alias}/_search?size=1000`).then((r) => r.json() as Promise<{ hits: { hits: { _id: string; _source: Record<string, unknown> }[] } }>);
  return new Map(res.hits.hits.map((h) => [h._id, h._source]));
}

async function sync(config: string, dataset: string, ...args: string[]) {
  const { code, stdout } = await t.sluice("sync", dataset, "--config", config, "--json", ...args);
  return { code, report: code === 0 ? JSON.parse(stdout) : null };
}

const edited = (p: Package, changes: Partial<Package>): Package => ({ ...p, ...changes });

beforeAll(async () => {
  t = await createTestEnvironment("syncreg");
  dir = `/tmp/${t.name}`;
  mkdirSync(dir, { recursive: true });
  expect((await t.sluice("migrate", "up")).code).toBe(0);
}, 60_000);
afterAll(async () => {
  registry.stop(true);
  await t?.drop();
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe("the registry source", () => {
  const context = { dataset: "packages", key: "id" };
  async function all(source: RegistrySource): Promise<SourceRecord[]> {
    const out: SourceRecord[] = [];
    for await (const r of source.docs(new AbortController().signal)) out.push(r);
    return out;
  }

  test("lists every package, sorted by id, as a record with the package's metadata", async () => {
    listing = fixturePackages(registry.url.href);
    fault = null;
    requests.length = 0;
    const source = new RegistrySource({ kind: "registry", url: apiUrl, pageSize: 10 }, context);
    await source.ping();
    const records = await all(source);
    expect(records.map((r) => r.id)).toEqual(listing.map((p) => p.id).sort());
    const first = listing.find((p) => p.id === records[0]!.id)!;
    expect(records[0]).toEqual({
      id: first.id,
      version: `${first.resources[0]!.hash}@2024-06-20T07:10:17.000Z`,
      doc: { id: first.id, name: first.name, publisher: first.organization.name, url: first.resources[0]!.url, hash: first.resources[0]!.hash, modified: "2024-06-20T07:10:17.000Z" },
    });
    expect(requests.filter((q) => q.includes("rows=10")).every((q) => q.includes("sort=id+asc"))).toBe(true);
  });

  test("changed() follows the count and the newest metadata_modified", async () => {
    listing = fixturePackages(registry.url.href);
    const source = new RegistrySource({ kind: "registry", url: apiUrl }, context);
    const state = await source.state();
    expect(state).toEqual({ url: apiUrl, count: listing.length, newest: "2024-06-20T07:10:17.000Z" });
    expect(await source.changed(state)).toBe(false);
    listing = listing.slice(1);
    expect(await source.changed(state)).toBe(true);
    listing = fixturePackages(registry.url.href).map((p, i) => (i === 5 ? edited(p, { metadata_modified: "2024-07-01T00:00:00" }) : p));
    expect(await source.changed(state)).toBe(true);
  });

  test("a listing that ends before its count, or whose count moves while it is read, throws after its last record", async () => {
    listing = fixturePackages(registry.url.href);
    const source = new RegistrySource({ kind: "registry", url: apiUrl, pageSize: 10 }, context);
    fault = (start) => (start >= 20 ? Response.json({ success: true, result: { count: listing.length, results: [] } }) : null);
    const read: string[] = [];
    const cut = async () => {
      for await (const r of source.docs(new AbortController().signal)) read.push(r.id);
    };
    await expect(cut()).rejects.toThrow(`the registry's listing ended after 20 of the ${listing.length} packages it counts`);
    expect(read).toHaveLength(20);
    fault = (start) => (start >= 10 ? Response.json({ success: true, result: { count: listing.length - 1, results: [...listing].sort((a, b) => (a.id < b.id ? -1 : 1)).slice(start + 1, start + 11) } }) : null);
    await expect(all(source)).rejects.toThrow(`the registry's listing changed while it was read (${listing.length} packages, then ${listing.length - 1})`);
    fault = null;
  });
});

describe("sluice sync of a registry", () => {
  test("first sync, then packages added, changed, renamed and removed; an unchanged registry is skipped", async () => {
    const all = fixturePackages(registry.url.href);
    listing = all.slice(0, -1);
    fault = null;
    const config = await writeConfig("packages");
    const first = await sync(config, "packages");
    expect(first.code).toBe(0);
    expect(first.report).toMatchObject({ mode: "first", generation: 1, counters: { read: listing.length, new: listing.length } });
    expect(await aliasIndices(`${t.indexPrefix}packages`)).toEqual([`${t.indexPrefix}packages-g1`]);
    const indexed = await documents("packages");
    expect([...indexed.keys()].sort()).toEqual(listing.map((p) => p.id).sort());
    const sample = listing[3]!;
    expect(indexed.get(sample.id)).toMatchObject({ name: sample.name, publisher: sample.organization.name, url: sample.resources[0]!.url, hash: sample.resources[0]!.hash });

    // Added: the last fixture. Changed: a new payload hash. Renamed: metadata alone. Removed: one.
    const [changed, renamed, removed] = [listing[0]!, listing[7]!, listing[12]!];
    listing = [
      ...listing
        .filter((p) => p !== removed)
        .map((p) =>
          p === changed
            ? edited(p, { resources: [{ url: p.resources[0]!.url, hash: "0".repeat(40) }], metadata_modified: "2024-07-01T00:00:00" })
            : p === renamed
              ? edited(p, { name: `${p.name}-renamed`, metadata_modified: "2024-07-02T00:00:00" })
              : p,
        ),
      all.at(-1)!,
    ];
    const second = await sync(config, "packages");
    expect(second.code).toBe(0);
    expect(second.report).toMatchObject({ mode: "full", counters: { read: listing.length, new: 1, updated: 2, deleted: 1, unchanged: listing.length - 3 } });
    const now = await documents("packages");
    expect([...now.keys()].sort()).toEqual(listing.map((p) => p.id).sort());
    expect(now.get(changed.id)).toMatchObject({ hash: "0".repeat(40) });
    expect(now.get(renamed.id)).toMatchObject({ name: `${renamed.name}-renamed` });

    // Unchanged: one probe request, no listing, the job says so.
    requests.length = 0;
    const third = await sync(config, "packages");
    expect(third.code).toBe(0);
    expect(third.report.mode).toBe("skipped");
    expect(requests.every((q) => q.includes("rows=1&"))).toBe(true);
    expect((await lastJob(t, "packages", "sync")).state).toBe("succeeded");
  }, 90_000);

  test("a registry that fails mid-listing deletes nothing; the next sync converges", async () => {
    listing = fixturePackages(registry.url.href);
    fault = null;
    const config = await writeConfig("failing");
    expect((await sync(config, "failing")).code).toBe(0);
    const before = await documents("failing");
    expect(before.size).toBe(listing.length);

    // One package removed on the first page and two beyond it; one changed on the first page.
    const sorted = [...listing].sort((a, b) => (a.id < b.id ? -1 : 1));
    const gone = [sorted[2]!.id, sorted[25]!.id, sorted[30]!.id];
    const changed = sorted[4]!;
    listing = sorted
      .filter((p) => !gone.includes(p.id))
      .map((p) => (p === changed ? edited(p, { resources: [{ url: p.resources[0]!.url, hash: "f".repeat(40) }], metadata_modified: "2024-08-01T00:00:00" }) : p));
    // Pages from the third on answer 500 (after the listing's retries).
    fault = (start) => (start >= 20 ? new Response("registry down", { status: 500 }) : null);
    const failed = await sync(config, "failing", "--full");
    expect(failed.code).toBe(1);
    const job = await lastJob(t, "failing", "sync");
    expect(job.state).toBe("failed");
    expect(job.error).toMatch(/the source of dataset failing failed after 20 records: the registry did not answer .*start=20.* after 3 attempts \(HTTP 500\); nothing was deleted and the cursor did not move/);
    const after = await documents("failing");
    // Nothing deleted, not even the package gone from the pages read (the listing is sorted
    // through Postgres before the merge, so nothing was written either).
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    expect(after.get(changed.id)).toEqual(before.get(changed.id)!);

    // A listing cut short without an error (an empty page before the count) deletes nothing either.
    fault = (start) => (start >= 20 ? Response.json({ success: true, result: { count: listing.length, results: [] } }) : null);
    expect((await sync(config, "failing", "--full")).code).toBe(1);
    expect((await lastJob(t, "failing", "sync")).error).toMatch(/the registry's listing ended after 20 of the \d+ packages it counts; nothing was deleted/);
    expect((await documents("failing")).size).toBe(before.size);

    fault = null;
    const fixed = await sync(config, "failing", "--full");
    expect(fixed.code).toBe(0);
    expect(fixed.report.counters).toMatchObject({ deleted: 3, new: 0, updated: 1 });
    const converged = await documents("failing");
    expect([...converged.keys()].sort()).toEqual(listing.map((p) => p.id).sort());
    expect(converged.get(changed.id)).toMatchObject({ hash: "f".repeat(40) });
  }, 90_000);
});
