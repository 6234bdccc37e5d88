/**
 * Reload and validate benchmark for registry datasets (issue #4, item 7).
 *
 *   local registry + publisher host (Bun.serve, in this process) listing N small IATI files
 *     sluice refresh iati → sluice reload iati   (timed: "downloading" → "reload … succeeded")
 *     xargs -P <same concurrency> curl --remote-name-all   (the same N URLs, written to disk)
 *     sluice validate iati                        (timed: "validating" → "validate … succeeded")
 *
 * The documents are the real activity files of test/fixtures/iati (≈14 KB) and the schema test
 * files that pass, each given its own iati-identifier so every payload is a distinct blob. Peak
 * RSS is the child's VmHWM; a second reload at N/4 shows whether it grows with N.
 *
 * Isolation: database sluice_bench_<run id>_reload on the DATABASE_URL server (dropped and recreated),
 * a temp blob directory and config file, nothing in Elasticsearch.
 *
 *   benchReload(context: BenchContext, options?: Partial<ReloadBenchOptions>): Promise<BenchRow[]>
 *   bun bench/reload.ts [--docs N] [--concurrency C]      (standalone)
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import type { BenchContext, BenchRow } from "./index.ts";
import { bash, between, fmtRate, log as defaultLog, mb, rate, ROOT, runSluice as defaultRunSluice } from "./lib.ts";

export interface ReloadBenchOptions {
  /** Documents listed and downloaded. @default 10000 */
  docs: number;
  /** Downloads at once, for sluice and for xargs -P. @default 16 */
  concurrency: number;
  /** Documents of the smaller run that checks memory growth; 0 skips it. @default docs / 4 */
  growthDocs: number;
}

export interface ReloadBenchFigures {
  docs: number;
  concurrency: number;
  reloadDocsPerSec: number | null;
  curlDocsPerSec: number | null;
  validateDocsPerSec: number | null;
  reloadPeakRss: number;
  validatePeakRss: number;
  growthDocs: number;
  growthReloadPeakRss: number | null;
}

const FIXTURES = `${ROOT}/test/fixtures/iati`;

async function samples(): Promise<string[]> {
  const paths = [
    ...readdirSync(`${FIXTURES}/activities`).map((f) => `${FIXTURES}/activities/${f}`),
    ...readdirSync(`${FIXTURES}/schema-tests/should-pass`).map((f) => `${FIXTURES}/schema-tests/should-pass/${f}`),
  ].sort();
  return Promise.all(paths.map((p) => Bun.file(p).text()));
}

/** The i-th document: a sample with an identifier of its own, so each payload is a distinct blob. */
function documentText(templates: string[], i: number): string {
  const text = templates[i % templates.length]!;
  return text.replace(/<iati-identifier>([^<]*)<\/iati-identifier>/, (_m, id) => `<iati-identifier>${id}BENCH-${i}</iati-identifier>`);
}

function startServers(templates: string[], docs: () => number) {
  const encoder = new TextEncoder();
  const host = Bun.serve({
    port: 0,
    fetch(req) {
      const m = /^\/doc\/(\d+)\.xml$/.exec(new URL(req.url).pathname);
      if (!m) return new Response("?", { status: 404 });
      return new Response(encoder.encode(documentText(templates, Number(m[1]))), { headers: { "content-type": "application/xml" } });
    },
  });
  const registry = Bun.serve({
    port: 0,
    fetch(req) {
      const url = new URL(req.url);
      const rows = Number(url.searchParams.get("rows"));
      const start = Number(url.searchParams.get("start"));
      const n = docs();
      const results = [];
      for (let i = start; i < Math.min(n, start + rows); i++) {
        results.push({ id: `doc-${String(i).padStart(7, "0")}`, name: `bench-${i}`, organization: { name: `pub-${i % 50}` }, resources: [{ url: `${host.url}doc/${i}.xml`, hash: `h${i}` }], metadata_modified: "2024-06-20T07:10:17" });
      }
      return Response.json({ success: true, result: { count: n, results } });
    },
  });
  return { host, registry };
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function resetDatabase(serverUrl: string, name: string): Promise<void> {
  const admin = postgres(withDatabase(serverUrl, "postgres"), { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
}

export async function benchReload(context: BenchContext, options: Partial<ReloadBenchOptions> = {}): Promise<BenchRow[]> {
  const figures = await measureReload(context, options);
  const ratio = figures.reloadDocsPerSec && figures.curlDocsPerSec ? figures.reloadDocsPerSec / figures.curlDocsPerSec : null;
  const growth = figures.growthReloadPeakRss === null ? "" : `; peak RSS ${mb(figures.growthReloadPeakRss)} at ${figures.growthDocs} docs vs ${mb(figures.reloadPeakRss)} at ${figures.docs}`;
  return [
    {
      stage: `reload (${figures.docs} docs, -P ${figures.concurrency})`,
      ours: figures.reloadDocsPerSec,
      limit: figures.curlDocsPerSec,
      goal: 0.8,
      peakRss: figures.reloadPeakRss,
      note: `docs/s vs xargs curl: ${ratio === null ? "—" : `${ratio.toFixed(2)}×`} (goal ≥ 0.8×)${growth}`,
    },
    {
      stage: `validate (${figures.docs} docs)`,
      ours: figures.validateDocsPerSec,
      limit: null,
      goal: null,
      peakRss: figures.validatePeakRss,
      note: "docs/s, IATI 2.03 schema, real activity samples",
    },
  ];
}

/** Runs the measurement and returns the raw figures. */
export async function measureReload(context: BenchContext, options: Partial<ReloadBenchOptions> = {}): Promise<ReloadBenchFigures> {
  const docs = options.docs ?? 10_000;
  const concurrency = options.concurrency ?? 16;
  const growthDocs = options.growthDocs ?? Math.floor(docs / 4);
  const log = context.log ?? defaultLog;
  const runSluice = context.runSluice ?? defaultRunSluice;
  const templates = await samples();
  let listed = docs;
  const { host, registry } = startServers(templates, () => listed);
  const work = mkdtempSync(join(tmpdir(), "sluice-bench-reload-"));
  // The run's own database (see bench/index.ts, "Isolation").
  const dbName = `sluice_bench_${context.id}_reload`;
  const apiUrl = withDatabase(context.apiUrl, dbName);
  const configFile = join(work, "sluice.config.ts");
  await Bun.write(
    configFile,
    `import { iatiDataset } from ${JSON.stringify(`${ROOT}/src/datasets/iati/dataset.ts`)};
const base = iatiDataset({ IATI_REGISTRY_URL: ${JSON.stringify(`${registry.url}api/3/action`)} });
export default { datasets: { iati: { ...base, index: false,
  payload: { ...base.payload, concurrency: ${concurrency}, perHost: ${concurrency} } } } };
`,
  );
  const baseEnv = { ...context.env, DATABASE_URL: apiUrl, SLUICE_INDEX_PREFIX: `bench-${context.id}-reload-`, SLUICE_LOG_LEVEL: "info" };
  const sluice = async (args: string[], blobDir: string) => {
    const run = await runSluice([...args, "--config", configFile], { ...baseEnv, SLUICE_BLOB_DIR: blobDir }, false);
    if (run.code !== 0) throw new Error(`sluice ${args.join(" ")} exited ${run.code}: ${run.lines.slice(-3).map((l) => l.text).join(" | ")}`);
    return run;
  };
  const reloadOnce = async (n: number, label: string) => {
    listed = n;
    await resetDatabase(context.apiUrl, dbName);
    const blobDir = join(work, `blobs-${label}`);
    await sluice(["migrate", "up"], blobDir);
    await sluice(["refresh", "iati"], blobDir);
    log(`reload: sluice reload of ${n} documents, ${concurrency} at once (${label})`);
    const run = await sluice(["reload", "iati"], blobDir);
    const ms = between(run, /downloading/, /reload succeeded/);
    return { run, ms, blobDir };
  };

  try {
    let growthReloadPeakRss: number | null = null;
    if (growthDocs > 0 && growthDocs !== docs) growthReloadPeakRss = (await reloadOnce(growthDocs, "growth")).run.peakRss;
    const { run: reload, ms: reloadMs, blobDir } = await reloadOnce(docs, "main");

    log(`reload: xargs -P ${concurrency} curl on the same ${docs} URLs`);
    const urls = join(work, "urls.txt");
    await Bun.write(urls, Array.from({ length: docs }, (_, i) => `${host.url}doc/${i}.xml`).join("\n"));
    const out = join(work, "curl");
    const curlMs = await bash(`mkdir -p ${out} && xargs -P ${concurrency} -n 100 curl -sf --remote-name-all --output-dir ${out} < ${urls}`);
    const fetched = readdirSync(out).length;
    if (fetched !== docs) throw new Error(`curl fetched ${fetched} of ${docs} documents`);

    log(`validate: sluice validate of ${docs} documents`);
    const validate = await sluice(["validate", "iati"], blobDir);
    const validateMs = between(validate, /validating/, /validate succeeded/);

    const figures: ReloadBenchFigures = {
      docs,
      concurrency,
      reloadDocsPerSec: rate(docs, reloadMs),
      curlDocsPerSec: rate(docs, curlMs),
      validateDocsPerSec: rate(docs, validateMs),
      reloadPeakRss: reload.peakRss,
      validatePeakRss: validate.peakRss,
      growthDocs,
      growthReloadPeakRss,
    };
    log(`reload ${fmtRate(figures.reloadDocsPerSec)} docs/s, curl ${fmtRate(figures.curlDocsPerSec)} docs/s, validate ${fmtRate(figures.validateDocsPerSec)} docs/s; peak RSS reload ${mb(figures.reloadPeakRss)}, validate ${mb(figures.validatePeakRss)}`);
    return figures;
  } finally {
    host.stop(true);
    registry.stop(true);
    rmSync(work, { recursive: true, force: true });
    await resetDatabase(context.apiUrl, dbName).catch(() => {});
    const admin = postgres(withDatabase(context.apiUrl, "postgres"), { max: 1, onnotice: () => {} });
    await admin.unsafe(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => {});
    await admin.end();
  }
}

if (import.meta.main) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) throw new Error("DATABASE_URL is not set: eval \"$(scripts/services up)\" first");
  const figures = await measureReload(
    { rows: 0, id: process.env.SLUICE_BENCH_ID || `p${process.pid}`, apiUrl: databaseUrl, upstreamUrl: databaseUrl, elasticsearchUrl: process.env.ELASTICSEARCH_URL ?? "", env: process.env as Record<string, string>, runSluice: defaultRunSluice, log: defaultLog },
    { ...(arg("docs") ? { docs: arg("docs")! } : {}), ...(arg("concurrency") ? { concurrency: arg("concurrency")! } : {}) },
  );
  console.log(JSON.stringify(figures, null, 2));
}
