/**
 * The blob store is shared by every dataset (and ingest) that points SLUICE_BLOB_DIR at it; each
 * writes and deletes in a part of its own (generations/dataset-blobs.ts). Two registry datasets
 * holding the same document: one letting go of it must not delete the payload the other reads.
 * A generation discarded before its swap takes the payloads only it referenced with it; one kept
 * for rollback keeps its own.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blobFile, endBlobTest } from "./support/blobs.ts";
import { createTestEnvironment, type TestEnvironment } from "./support/harness.ts";

const FIXTURES = new URL("./fixtures/iati/activities/", import.meta.url).pathname;
const LONG = 120_000;

let t: TestEnvironment;
let blobDir: string;
let configFile: string;
let configDir: string;
let host: ReturnType<typeof Bun.serve>;
let registry: ReturnType<typeof Bun.serve>;
const files = new Map<string, string>();
/** Each dataset's registry listing: document id → path on the host. */
const listings: Record<"a" | "b", Map<string, string>> = { a: new Map(), b: new Map() };

beforeAll(async () => {
  t = await createTestEnvironment("blobs");
  blobDir = mkdtempSync(join(tmpdir(), "sluice-blob-namespaces-"));
  process.env.SLUICE_BLOB_DIR = blobDir;
  files.set("/org1.xml", await Bun.file(join(FIXTURES, "test-org-1-activity-1.xml")).text());
  files.set("/org2.xml", await Bun.file(join(FIXTURES, "test-org-2-activity-1.xml")).text());
  files.set("/org3.xml", await Bun.file(join(FIXTURES, "test-org-3-activity-1.xml")).text());
  host = Bun.serve({
    port: 0,
    fetch(req) {
      const body = files.get(new URL(req.url).pathname);
      return body ? new Response(body, { headers: { "content-type": "application/xml" } }) : new Response("?", { status: 404 });
    },
  });
  registry = Bun.serve({
    port: 0,
    fetch(req) {
      const url = new URL(req.url);
      const listing = listings[url.pathname.startsWith("/b/") ? "b" : "a"];
      const start = Number(url.searchParams.get("start"));
      const rows = Number(url.searchParams.get("rows"));
      const results = [...listing].slice(start, start + rows).map(([id, path]) => ({
        id,
        name: `pub-${id}`,
        organization: { name: "pub" },
        resources: [{ url: `${host.url}${path.slice(1)}`, hash: `${path}-${files.get(path)!.length}` }],
        metadata_modified: "2024-06-20T07:10:17.000000",
      }));
      return Response.json({ success: true, result: { count: listing.size, results } });
    },
  });
  configDir = mkdtempSync(join(tmpdir(), "sluice-blob-namespaces-config-"));
  configFile = join(configDir, "sluice.config.ts");
  const datasetModule = new URL("../src/datasets/iati/dataset.ts", import.meta.url).pathname;
  await Bun.write(
    configFile,
    `import { iatiDataset } from ${JSON.stringify(datasetModule)};
const a = iatiDataset({ IATI_REGISTRY_URL: ${JSON.stringify(`${registry.url}a/api/3/action`)} });
const b = iatiDataset({ IATI_REGISTRY_URL: ${JSON.stringify(`${registry.url}b/api/3/action`)} });
export default { datasets: {
  iati: { ...a, swap: { maxShrink: 0.9 } },
  iatib: { ...b, table: { ...b.table, name: "iatib_documents" }, index: { ...b.index, alias: "iatib" }, swap: { maxShrink: 0.9 } },
} };
`,
  );
  expect((await t.sluice("migrate", "up")).code).toBe(0);
}, LONG);

afterAll(() => endBlobTest(t, [blobDir, configDir], host, registry), LONG);

const sluice = (...args: string[]) => t.sluice(...args, "--config", configFile);
const shaOf = async (table: string, id: string) => ((await t.api.unsafe(`select blob_sha256 from ${table} where id = $1`, [id]))[0]?.blob_sha256 as string | undefined) ?? null;
/** Blob files under a directory, at any depth. */
const blobsUnder = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((p) => /[0-9a-f]{64}$/.test(p)) : []);

test(
  "a payload one dataset let go of stays for the other dataset holding the same document",
  async () => {
    for (const id of ["org1", "org2", "org3"]) {
      listings.a.set(id, `/${id}.xml`);
      listings.b.set(id, `/${id}.xml`);
    }
    expect((await sluice("run", "iati")).code).toBe(0);
    expect((await sluice("run", "iatib")).code).toBe(0);
    const shared = (await shaOf("iati_documents", "org3"))!;
    expect(await shaOf("iatib_documents", "org3")).toBe(shared);
    expect(existsSync(await blobFile(t.api, blobDir, "datasets/iati", shared))).toBe(true);
    expect(existsSync(await blobFile(t.api, blobDir, "datasets/iatib", shared))).toBe(true);

    // org3 leaves the first registry only; the swap after next prunes the last generation holding
    // it, and deletes the payload in the dataset's own part of the store.
    listings.a.delete("org3");
    expect((await sluice("run", "iati")).code).toBe(0);
    expect(existsSync(await blobFile(t.api, blobDir, "datasets/iati", shared))).toBe(true);
    expect((await sluice("run", "iati")).code).toBe(0);
    const [swap] = await t.api`select counters from sluice.jobs where dataset = 'iati' and stage = 'swap' order by id desc limit 1`;
    expect(swap!.counters.payloads_deleted).toBe(1);
    expect(existsSync(await blobFile(t.api, blobDir, "datasets/iati", shared))).toBe(false);

    // The other dataset indexes every row again from its payloads, org3's included.
    expect(existsSync(await blobFile(t.api, blobDir, "datasets/iatib", shared))).toBe(true);
    const again = await sluice("run", "iatib");
    expect(again.code).toBe(0);
    const count = await fetch(`${process.env.ELASTICSEARCH_URL}/${t.indexPrefix}iatib/_count`).then((r) => r.json() as Promise<{ count: number }>);
    expect(count.count).toBe(3);
  },
  LONG,
);

test(
  "a generation discarded before its swap takes the payloads only it referenced",
  async () => {
    const live = (await shaOf("iati_documents", "org1"))!;
    // A new version of org1 is downloaded into a generation that is never swapped in…
    files.set("/org1-v2.xml", files.get("/org1.xml")!.replace("Test Activity", "Test Activity, second version"));
    listings.a.set("org1", "/org1-v2.xml");
    expect((await sluice("refresh", "iati")).code).toBe(0);
    expect((await sluice("reload", "iati")).code).toBe(0);
    const [pending] = await t.api`select number from sluice.generations where dataset = 'iati' and state = 'building' order by number desc limit 1`;
    const second = (await shaOf(`iati_documents__g${pending!.number}`, "org1"))!;
    expect(second).not.toBe(live);
    const secondFile = await blobFile(t.api, blobDir, "datasets/iati", second);
    expect(existsSync(secondFile)).toBe(true);

    // …and a third version comes before the next refresh, which discards that generation.
    files.set("/org1-v3.xml", files.get("/org1.xml")!.replace("Test Activity", "Test Activity, third version"));
    listings.a.set("org1", "/org1-v3.xml");
    const refreshed = await sluice("refresh", "iati");
    expect(refreshed.code).toBe(0);
    expect(existsSync(secondFile)).toBe(false);
    // The live generation's payloads stay.
    expect(existsSync(await blobFile(t.api, blobDir, "datasets/iati", live))).toBe(true);
    expect((await sluice("run", "iati")).code).toBe(0);
    // org2 changes, and two swaps later the generations holding its old payload are pruned.
    files.set("/org2-v2.xml", files.get("/org2.xml")!.replace("Test Activity", "Test Activity, second version"));
    listings.a.set("org2", "/org2-v2.xml");
    expect((await sluice("run", "iati")).code).toBe(0);
    expect((await sluice("run", "iati")).code).toBe(0);

    // Every blob in the dataset's part is one a kept table references.
    const referenced = new Set<string>();
    for (const { relname } of await t.api`select relname from pg_class where relname like 'iati\\_documents%' and relkind = 'r'`) {
      for (const row of await t.api.unsafe(`select blob_sha256, cleaned_sha256 from ${relname}`)) {
        if (row.blob_sha256) referenced.add(row.blob_sha256);
        if (row.cleaned_sha256) referenced.add(row.cleaned_sha256);
      }
    }
    const part = (await blobFile(t.api, blobDir, "datasets/iati", "0".repeat(64))).split("/00/00/")[0]!;
    const stored = blobsUnder(part).map((p) => p.slice(-64));
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.filter((sha) => !referenced.has(sha))).toEqual([]);
  },
  LONG,
);

test(
  "after a rollback, a source back to what the restored generation holds is indexed from that generation's payloads",
  async () => {
    const restored = (await shaOf("iati_documents", "org1"))!;
    const before = listings.a.get("org1")!;
    files.set("/org1-bad.xml", files.get("/org1.xml")!.replace("Test Activity", "Test Activity, a bad version"));
    listings.a.set("org1", "/org1-bad.xml");
    expect((await sluice("run", "iati")).code).toBe(0);
    // The bad version is live; the one before is kept for rollback, its payloads with it.
    expect(existsSync(await blobFile(t.api, blobDir, "datasets/iati", restored))).toBe(true);
    expect((await sluice("swap", "iati", "--rollback")).code).toBe(0);
    expect(await shaOf("iati_documents", "org1")).toBe(restored);

    // The publisher puts the good file back: unchanged against live, so nothing is downloaded, and
    // the index stage reads the restored generation's payloads.
    listings.a.set("org1", before);
    const { code, stdout } = await sluice("run", "iati", "--json");
    expect(code).toBe(0);
    const reload = JSON.parse(stdout).steps.find((s: { stage: string }) => s.stage === "reload");
    expect(reload.counters.written).toBe(0);
    const doc = await fetch(`${process.env.ELASTICSEARCH_URL}/${t.indexPrefix}iati/_search?q=dataset_id:org1`).then((r) => r.json() as Promise<{ hits: { hits: { _source: { title_narrative?: unknown } }[] } }>);
    expect(JSON.stringify(doc.hits.hits.map((h) => h._source))).toContain("third version");
  },
  LONG,
);
