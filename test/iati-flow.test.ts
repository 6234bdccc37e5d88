/**
 * Issue 4, end to end: a local registry and a local publishers' host (Bun.serve) stand in for the
 * IATI registry and the web; `sluice run iati` refreshes, downloads, validates, indexes and swaps,
 * then the registry changes and the next run picks up only what changed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import iconv from "iconv-lite";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256Hex } from "../src/adapters/blob-store.ts";
import { explodeActivity, flattenActivities } from "../src/datasets/iati/index.ts";
import { blobFile, endBlobTest } from "./support/blobs.ts";
import { createTestEnvironment, elasticsearchUrl, searchCount, type TestEnvironment } from "./support/harness.ts";

const FIXTURES = new URL("./fixtures/iati/", import.meta.url).pathname;
const read = (path: string) => Bun.file(join(FIXTURES, path)).text();
const LONG = 120_000;

interface Listed {
  id: string;
  publisher: string;
  path: string;
  hash: string;
}

let t: TestEnvironment;
let blobDir: string;
let configFile: string;
let configDir: string;
const files = new Map<string, { body: string | Uint8Array; type: string }>();
let listing: Listed[] = [];
let host: ReturnType<typeof Bun.serve>;
let registry: ReturnType<typeof Bun.serve>;
let refusedUrl: string;
const failFiles = readdirSync(join(FIXTURES, "schema-tests/should-fail")).sort();

function packageOf(doc: Listed) {
  const url = /^[a-z]+:/.test(doc.path) ? doc.path : `${host.url}${doc.path.slice(1)}`;
  return { id: doc.id, name: `${doc.publisher}-${doc.id}`, organization: { name: doc.publisher }, resources: [{ url, hash: doc.hash }], metadata_modified: "2024-06-20T07:10:17.000000" };
}

async function job(stage: string) {
  const [row] = await t.api`select id, state, counters, error from sluice.jobs where dataset = 'iati' and stage = ${stage} order by id desc limit 1`;
  return row!;
}

/** What the index must hold for the given served files, computed with the pure modules. */
function expectedDocuments(paths: string[]) {
  let activities = 0;
  let budgets = 0;
  let transactions = 0;
  for (const path of paths) {
    const body = files.get(path)!.body;
    for (const flat of flattenActivities(typeof body === "string" ? body : new TextDecoder().decode(body))) {
      const e = explodeActivity(flat, { idPrefix: "x" });
      activities++;
      budgets += e.budgets.length;
      transactions += e.transactions.length;
    }
  }
  return { activities, budgets, transactions };
}

beforeAll(async () => {
  t = await createTestEnvironment("iati");
  blobDir = mkdtempSync(join(tmpdir(), "sluice-iati-blobs-"));
  process.env.SLUICE_BLOB_DIR = blobDir;

  const org2 = await read("activities/test-org-2-activity-1.xml");
  const cp1252 = (await read("schema-tests/should-pass/02-minimal-doc.xml"))
    .replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="windows-1252"?>')
    .replace("Organisation name", "Café – € Org");
  const xml = "application/xml";
  files.set("/org1.xml", { body: await read("activities/test-org-1-activity-1.xml"), type: xml });
  files.set("/org1-modified.xml", { body: await read("activities/test-org-1-activity-1-modified.xml"), type: xml });
  files.set("/org2.xml", { body: org2, type: xml });
  files.set("/org3.xml", { body: await read("activities/test-org-3-activity-1.xml"), type: xml });
  files.set("/budget.xml", { body: await read("schema-tests/should-pass/19-budget.xml"), type: xml });
  files.set("/trans.xml", { body: await read("schema-tests/should-pass/21-transaction.xml"), type: xml });
  files.set("/partly.xml", { body: org2.replace("</iati-activities>", "<iati-activity><!-- empty --></iati-activity>\n</iati-activities>"), type: xml });
  files.set("/cp1252.xml", { body: iconv.encode(cp1252, "windows-1252"), type: "text/xml" });
  files.set("/hostile.xml", {
    body: '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>\n<iati-activities version="2.03"><iati-activity>&lol2;</iati-activity></iati-activities>',
    type: xml,
  });
  for (const f of failFiles) files.set(`/fail/${f}`, { body: await read(`schema-tests/should-fail/${f}`), type: xml });

  host = Bun.serve({
    port: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/missing") return new Response("not here", { status: 404 });
      if (path === "/broken") return new Response("oops", { status: 500 });
      if (path === "/slow") {
        await Bun.sleep(3000);
        return new Response("<late/>");
      }
      if (path === "/loop") return new Response(null, { status: 302, headers: { location: "/loop" } });
      if (path === "/hop") return new Response(null, { status: 302, headers: { location: "/org2.xml" } });
      const file = files.get(path);
      return file ? new Response(file.body, { headers: { "content-type": file.type } }) : new Response("?", { status: 404 });
    },
  });
  const closed = Bun.serve({ port: 0, fetch: () => new Response("") });
  refusedUrl = `${closed.url}gone.xml`;
  closed.stop(true);
  registry = Bun.serve({
    port: 0,
    fetch(req) {
      const url = new URL(req.url);
      if (url.pathname !== "/api/3/action/package_search") return new Response("?", { status: 404 });
      const rows = Number(url.searchParams.get("rows"));
      const start = Number(url.searchParams.get("start"));
      return Response.json({ success: true, result: { count: listing.length, results: listing.slice(start, start + rows).map(packageOf) } });
    },
  });

  listing = [
    { id: "org1", publisher: "org1", path: "/org1.xml", hash: "h1" },
    { id: "org2", publisher: "org2", path: "/org2.xml", hash: "h2" },
    { id: "org3", publisher: "org3", path: "/org3.xml", hash: "h3" },
    { id: "budget", publisher: "passer", path: "/budget.xml", hash: "hb" },
    { id: "trans", publisher: "passer", path: "/trans.xml", hash: "ht" },
    { id: "partly", publisher: "org2", path: "/partly.xml", hash: "hp" },
    { id: "cp1252", publisher: "passer", path: "/cp1252.xml", hash: "hc" },
    { id: "hop", publisher: "org2", path: "/hop", hash: "hh" },
    { id: "hostile", publisher: "passer", path: "/hostile.xml", hash: "hx" },
    ...failFiles.map((f, i) => ({ id: `fail-${i + 1}`, publisher: "flooder", path: `/fail/${f}`, hash: `f${i}` })),
    { id: "err-404", publisher: "errs", path: "/missing", hash: "e1" },
    { id: "err-500", publisher: "errs", path: "/broken", hash: "e2" },
    { id: "err-slow", publisher: "errs", path: "/slow", hash: "e3" },
    { id: "err-loop", publisher: "errs", path: "/loop", hash: "e4" },
    { id: "err-refused", publisher: "errs", path: refusedUrl, hash: "e5" },
    { id: "err-ftp", publisher: "errs", path: "ftp://example.org/x.xml", hash: "e6" },
  ];

  configDir = mkdtempSync(join(tmpdir(), "sluice-iati-config-"));
  configFile = join(configDir, "sluice.config.ts");
  const datasetModule = new URL("../src/datasets/iati/dataset.ts", import.meta.url).pathname;
  await Bun.write(
    configFile,
    `import { iatiDataset } from ${JSON.stringify(datasetModule)};
const base = iatiDataset({ IATI_REGISTRY_URL: ${JSON.stringify(`${registry.url}api/3/action`)} });
export default { datasets: { iati: { ...base, source: { ...base.source, pageSize: 7 },
  payload: { ...base.payload, timeoutMs: 1000, perHost: 4, maxRedirects: 3 },
  validate: { flagThreshold: 3, flagWindowHours: 2 }, swap: { maxShrink: 0.5 } } } };
`,
  );
  expect((await t.sluice("migrate", "up")).code).toBe(0);
}, LONG);

afterAll(() => endBlobTest(t, [blobDir, configDir], host, registry), LONG);

const sluice = (...args: string[]) => t.sluice(...args, "--config", configFile);

describe("first run: new documents", () => {
  test(
    "sluice run iati exits 0",
    async () => {
      const { code } = await sluice("run", "iati");
      expect(code).toBe(0);
    },
    LONG,
  );

  test("refresh lists every document as new", async () => {
    const refresh = await job("refresh");
    expect(refresh.counters).toMatchObject({ read: 23, written: 23, failed: {}, diff: { new: 23, changed: 0, removed: 0, unchanged: 0 } });
  });

  test("reload downloads what it can and classifies the rest", async () => {
    const reload = await job("reload");
    expect(reload.counters).toEqual({
      read: 23,
      written: 17,
      skipped: {},
      failed: { http_404: 1, http_500: 1, connection_failed: 2, too_many_redirects: 1, not_http_url: 1 },
    });
    const rows = await t.api`select id, download_error, download_detail from iati_documents where download_error is not null order by id`;
    expect(rows.map((r) => [r.id, r.download_error])).toEqual([
      ["err-404", 404],
      ["err-500", 500],
      ["err-ftp", 3],
      ["err-loop", 5],
      ["err-refused", 0],
      ["err-slow", 0],
    ]);
    expect(rows.find((r) => r.id === "err-slow")!.download_detail).toMatch(/timed out after 1000 ms/);
    const listed = await t.api`select item_key, reason from sluice.row_failures where job_id = ${reload.id} order by item_key`;
    expect(listed).toContainEqual({ item_key: "err-404", reason: "http_404" });
  });

  test("payloads are stored as UTF-8, content-addressed, once per content", async () => {
    const [cp] = await t.api`select charset, blob_sha256 from iati_documents where id = 'cp1252'`;
    expect(cp!.charset).toBe("windows-1252");
    const text = await Bun.file(await blobFile(t.api, blobDir, "datasets/iati", cp!.blob_sha256)).text();
    expect(text).toContain("Café – € Org");
    expect(text).toContain('encoding="UTF-8"');
    const [hop, org2] = await t.api`select blob_sha256 from iati_documents where id in ('hop', 'org2') order by id`;
    expect(hop!.blob_sha256).toBe(org2!.blob_sha256);
    expect(org2!.blob_sha256).toBe(sha256Hex(new TextEncoder().encode(files.get("/org2.xml")!.body as string)));
  });

  test("validate stores a report per document, cleans the partly valid one, flags the flooder", async () => {
    const validate = await job("validate");
    expect(validate.counters).toMatchObject({
      read: 23,
      written: 8,
      skipped: { not_downloaded: 6, publisher_flagged: failFiles.length - 4 },
      validation: { valid: 7, cleaned: 1, invalid: 5 },
    });
    expect(validate.counters.failed.unsafe_xml).toBe(1);
    const failed = Object.values(validate.counters.failed as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(failed).toBe(5);
    const [partly] = await t.api`select valid, activities, activities_invalid, cleaned_sha256 from iati_documents where id = 'partly'`;
    expect(partly).toMatchObject({ valid: true, activities: 1, activities_invalid: 1 });
    expect(partly!.cleaned_sha256).toMatch(/^[0-9a-f]{64}$/);
    const [publisher] = await t.api`select flagged_at, flag_reason from sluice.publishers where dataset = 'iati' and name = 'flooder'`;
    expect(publisher!.flagged_at).not.toBeNull();
    expect(publisher!.flag_reason).toMatch(/4 schema-invalid documents within 2 h \(threshold 3\)/);
    const [reports] = await t.api`select count(*)::int as n from sluice.validation_reports where dataset = 'iati' and publisher = 'flooder'`;
    expect(reports!.n).toBe(4);
  });

  test("a hostile file fails with a clear report", async () => {
    const [row] = await t.api`select valid, report_id from iati_documents where id = 'hostile'`;
    expect(row!.valid).toBe(false);
    const { code, stdout } = await sluice("validate", "iati", "--report", String(row!.report_id));
    expect(code).toBe(0);
    expect(stdout).toMatch(/INVALID/);
    expect(stdout).toMatch(/2:1 fatal DOCTYPE is not allowed/);
  });

  test("validate --report prints errors with line, column and severity", async () => {
    const [row] = await t.api`select report_id from iati_documents where id = 'fail-1'`;
    const { stdout } = await sluice("validate", "iati", "--report", String(row!.report_id));
    expect(stdout).toContain("7:0 error Element 'iati-activity': Missing child element(s)");
    const json = JSON.parse((await sluice("validate", "iati", "--report", String(row!.report_id), "--json")).stdout);
    expect(json).toMatchObject({ itemKey: "fail-1", valid: false, activitiesTotal: 1, activitiesValid: 0 });
    expect((await sluice("validate", "iati", "--report", "999999")).code).toBe(1);
  });

  test("the live indices hold every valid activity, budgets and transactions on their own", async () => {
    const want = expectedDocuments(["/org1.xml", "/org2.xml", "/org3.xml", "/budget.xml", "/trans.xml", "/org2.xml", "/cp1252.xml", "/org2.xml"]);
    expect(want.budgets).toBeGreaterThan(0);
    expect(want.transactions).toBeGreaterThan(0);
    expect(await searchCount(`${t.indexPrefix}iati`)).toBe(want.activities);
    expect(await searchCount(`${t.indexPrefix}iati-budget`)).toBe(want.budgets);
    expect(await searchCount(`${t.indexPrefix}iati-transaction`)).toBe(want.transactions);
    const res = await fetch(`${elasticsearchUrl}/${t.indexPrefix}iati/_doc/cp1252:1`);
    const doc = (await res.json()) as { _source: Record<string, unknown> };
    expect(doc._source.reporting_org_narrative).toBe("Café – € Org");
    expect(doc._source.dataset_publisher).toBe("passer");
  });
});

describe("second run: changed, vanished, new", () => {
  let org1Old: string;
  let org3Sha: string;
  test(
    "only what changed is downloaded and validated again",
    async () => {
      org1Old = (await t.api`select blob_sha256 from iati_documents where id = 'org1'`)[0]!.blob_sha256;
      org3Sha = (await t.api`select blob_sha256 from iati_documents where id = 'org3'`)[0]!.blob_sha256;
      listing = listing.filter((d) => d.id !== "org3").map((d) => (d.id === "org1" ? { ...d, path: "/org1-modified.xml", hash: "h1b" } : d));
      listing.push({ id: "org4", publisher: "org4", path: "/org3.xml", hash: "h3" });
      expect((await sluice("run", "iati")).code).toBe(0);
      expect((await job("refresh")).counters.diff).toEqual({ new: 1, changed: 1, removed: 1, unchanged: 21 });
      expect((await job("reload")).counters).toEqual({ read: 23, written: 2, skipped: { already_downloaded: 15, failed_before: 5, not_http_url_before: 1 }, failed: {} });
      expect((await job("validate")).counters).toMatchObject({
        read: 23,
        written: 2,
        skipped: { not_downloaded: 6, already_validated: 11, publisher_flagged: 4 },
      });
    },
    LONG,
  );

  test("a payload only the generation kept for rollback references stays; it goes when that generation is pruned, a shared one stays", async () => {
    const path = (sha: string) => blobFile(t.api, blobDir, "datasets/iati", sha);
    const swapCounters = async () => (await t.api`select counters from sluice.jobs where dataset = 'iati' and stage = 'swap' order by id desc limit 1`)[0]!.counters;
    expect(existsSync(await path(org1Old))).toBe(true);
    expect((await swapCounters()).payloads_deleted).toBe(0);
    // The next run's swap prunes generation 1, the last table referencing org1's old payload.
    expect((await sluice("run", "iati")).code).toBe(0);
    expect(existsSync(await path(org1Old))).toBe(false);
    // org3 vanished, but org4 has the same content: the blob stays.
    expect(existsSync(await path(org3Sha))).toBe(true);
    expect((await swapCounters()).payloads_deleted).toBe(1);
  }, LONG);

  test("the index follows", async () => {
    const res = await fetch(`${elasticsearchUrl}/${t.indexPrefix}iati/_search?q=dataset_id:org3`);
    expect(((await res.json()) as { hits: { total: { value: number } } }).hits.total.value).toBe(0);
    const mod = await fetch(`${elasticsearchUrl}/${t.indexPrefix}iati/_doc/org4:1`);
    expect(mod.status).toBe(200);
  });
});

describe("safety and operators", () => {
  test("a registry listing far fewer documents than known is refused and nothing changes", async () => {
    const full = listing;
    listing = listing.slice(0, 5);
    try {
      const [before] = await t.api`select count(*)::int as n from sluice.generations where dataset = 'iati' and state in ('building', 'ready')`;
      expect(before!.n).toBe(0);
      expect((await sluice("refresh", "iati")).code).toBe(1);
      const refresh = await job("refresh");
      expect(refresh.state).toBe("failed");
      expect(refresh.error).toMatch(/listed 5 documents, fewer than 50% of the 23 already known/);
      const tables = await t.api`select tablename from pg_tables where schemaname = 'public' and tablename like 'iati_documents%' order by 1`;
      expect(tables.map((r) => r.tablename).filter((n) => !/^iati_documents__g[0-9]+$/.test(n))).toEqual(["iati_documents"]);
      const [live] = await t.api`select count(*)::int as n from iati_documents`;
      expect(live!.n).toBe(23);
    } finally {
      listing = full;
    }
  });

  test(
    "publisher unflag lets its documents be validated again; --retry-errors retries all but non-HTTP URLs",
    async () => {
      const list = await sluice("publisher", "list", "iati", "--flagged");
      expect(list.stdout).toMatch(/flooder/);
      expect((await sluice("publisher", "unflag", "iati", "flooder")).code).toBe(0);
      expect((await sluice("publisher", "unflag", "iati", "flooder")).code).toBe(1);
      expect((await sluice("run", "iati", "--retry-errors")).code).toBe(0);
      expect((await job("reload")).counters).toMatchObject({ written: 0, skipped: { already_downloaded: 17, not_http_url_before: 1 } });
      const validate = await job("validate");
      expect(validate.counters.skipped.publisher_flagged ?? 0).toBe(0);
      expect(validate.counters.validation).toEqual({ valid: 0, cleaned: 0, invalid: 4 });
      // Counted afresh since the unflag: four more invalid documents cross the threshold again.
      const [publisher] = await t.api`select flagged_at from sluice.publishers where dataset = 'iati' and name = 'flooder'`;
      expect(publisher!.flagged_at).not.toBeNull();
    },
    LONG,
  );

  test("reload and validate refuse a dataset without payloads, and need a refreshed generation", async () => {
    expect((await sluice("reload", "image")).code).toBe(1);
    expect((await sluice("validate", "iati")).code).toBe(1);
  });
});
