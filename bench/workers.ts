/**
 * `bun run bench --only index --workers 1,2,4 [--rounds R]`: the index stage spread over N local
 * workers (issue 13), against the single node and against a three-node cluster that this bench
 * starts and stops (`scripts/services cluster up|down`). For each N it prints documents per second
 * beside raw `_bulk` of the same documents at index.concurrency (what one process and the ramp's
 * first local worker send with), how many workers the ramp kept, the peak RSS of each worker, and
 * the share of the machine's busy CPU that went to Elasticsearch, medians of R rounds (default 3). Then an estimate for 600 M rows on six workers and
 * six nodes, from the CPU each side spent per document here.
 *
 * The image index body here has three shards (one per cluster node), on both targets, for sluice
 * and raw alike.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import postgres from "postgres";
import { INDEX_DEFAULTS } from "../src/config/resolve.ts";
import { imageIndexBody } from "../src/datasets/openverse/index-body.ts";
import { degradeBody, modulesNeeded } from "../src/stages/index/mapping-fit.ts";
import type { BenchRow } from "./index.ts";
import { bash, benchFile, between, fmtRate, log, mb, rate, ROOT, runSluice, secs } from "./lib.ts";
import { buildNdjson } from "./ndjson.ts";
import { median } from "./index-rounds.ts";

export interface WorkersBenchContext {
  rows: number;
  /** 0: one process without --workers (the reference the workers are held to). */
  workers: number[];
  targets: ("single" | "cluster")[];
  rounds: number;
  apiUrl: string;
  elasticsearchUrl: string;
  env: Record<string, string>;
  prefix: string;
}

const CLUSTER_URL = "http://127.0.0.1:9230";
const SHARDS = 3;

/** The image dataset without its filtered twin (not built by workers), with one shard per cluster node. */
function config(): string {
  const file = benchFile("workers.config.ts");
  writeFileSync(file, `import { builtinDataset } from "sluice";
const image = builtinDataset("image");
const { filtered: _twin, ...index } = image.index as { body: { settings: { index: Record<string, unknown> } } };
index.body.settings.index.number_of_shards = ${SHARDS};
export default { datasets: { image: { ...image, index } } };
`);
  return file;
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

function machineBusy(): number {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  return (f.reduce((a, b) => a + b, 0) - f[3]! - f[4]!) / 100;
}

/** The pids of the Elasticsearch processes listening on these HTTP ports. */
async function enginePids(ports: number[]): Promise<number[]> {
  const proc = Bun.spawnSync(["ss", "-ltnpH"]);
  const out = proc.stdout.toString();
  return ports.flatMap((port) => {
    const line = out.split("\n").find((l) => new RegExp(`:${port}\\s`).test(l));
    const pid = line && /pid=(\d+)/.exec(line)?.[1];
    return pid ? [Number(pid)] : [];
  });
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (Number(stat.split(") ")[1]!.split(" ")[1]) === pid) out.push(Number(entry));
    } catch {}
  }
  return out;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
}

function vmHwm(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

interface Run {
  ms: number;
  /** The bulk phase alone for sluice (log lines 'indexing…' → 'restoring…'); all of it for raw. */
  phaseMs: number;
  workerPeaks: number[];
  esShare: number;
  esCpu: number;
  clientCpu: number;
  /** Local workers the ramp kept (scale-out/ramp.ts); for raw, 0. */
  kept: number;
}

/** `sluice index image --workers N` (N = 0: without --workers), with each worker's peak RSS and the CPU Elasticsearch and sluice used. */
async function oursWithWorkers(env: Record<string, string>, file: string, workers: number, es: number[]): Promise<Run> {
  const es0 = es.reduce((a, p) => a + cpuSeconds(p), 0);
  const busy0 = machineBusy();
  const peaks = new Map<number, number>();
  const cpu = new Map<number, number>();
  let coordinatorPid = 0;
  const poll = setInterval(() => {
    if (!coordinatorPid) return;
    for (const child of childrenOf(coordinatorPid)) {
      peaks.set(child, Math.max(peaks.get(child) ?? 0, vmHwm(child)));
      cpu.set(child, cpuSeconds(child));
    }
  }, 200);
  const started = runSluice(["index", "image", "--config", file, ...(workers ? ["--workers", String(workers)] : [])], env, false);
  // runSluice spawns the coordinator at once: find it among this process's children by its argv.
  await Bun.sleep(50);
  coordinatorPid = workers ? (childrenOf(process.pid).find((pid) => cmdline(pid).includes("--workers")) ?? 0) : 0;
  const run = await started;
  clearInterval(poll);
  // A worker that fails at start-up leaves the coordinator to do the work alone: that is not N workers.
  const failed = run.lines.find((l) => /worker \d+ exited with code [1-9]/.test(l.text));
  if (failed) throw new Error(`sluice index image --workers ${workers}: ${failed.text}`);
  if (run.code !== 0) throw new Error(`sluice index image${workers ? ` --workers ${workers}` : ""} exited ${run.code}:\n${run.lines.slice(-15).map((l) => l.text).join("\n")}`);
  const esCpu = es.reduce((a, p) => a + cpuSeconds(p), 0) - es0;
  const busy = machineBusy() - busy0;
  return {
    ms: run.ms,
    phaseMs: between(run, /indexing [\d,]+ rows (in|from)/, /restoring settings/) ?? run.ms,
    workerPeaks: workers ? [...peaks.values()] : [run.peakRss],
    esShare: esCpu / Math.max(busy, 1e-9),
    esCpu,
    clientCpu: run.cpuSeconds + [...cpu.values()].reduce((a, b) => a + b, 0),
    kept: workersKept(run.lines.map((l) => l.text), peaks.size),
  };
}

/** How many local workers the coordinator kept, from its ramp's log line; `started` when it never decided (the work ran out first). */
function workersKept(lines: string[], started: number): number {
  for (const line of lines) {
    const m = /keeping (\d+) of up to/.exec(line) ?? /(\d+) local workers?: [\d,]+ docs\/s; adding no more/.exec(line);
    if (m) return Number(m[1]);
  }
  return started;
}

/** The same documents as prebuilt NDJSON, sent by `concurrency` curl processes at once. */
async function rawBulk(esUrl: string, index: string, dir: string, concurrency: number, es: number[]): Promise<Run> {
  await fetch(`${esUrl}/${index}`, { method: "DELETE" });
  const modules = (await (await fetch(`${esUrl}/_nodes/plugins?filter_path=nodes.*.modules.name`)).json()) as { nodes?: Record<string, { modules?: { name: string }[] }> };
  const have = new Set(Object.values(modules.nodes ?? {}).flatMap((n) => (n.modules ?? []).map((m) => m.name)));
  const body = degradeBody(imageIndexBody({ shards: SHARDS }), modulesNeeded(imageIndexBody()).filter((n) => !have.has(n.module)).flatMap((n) => (n.degradation ? [n.degradation] : [])));
  const created = await fetch(`${esUrl}/${index}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ settings: { ...(body.settings ?? {}), refresh_interval: "-1" }, mappings: body.mappings }),
  });
  if (!created.ok) throw new Error(`creating ${index}: ${await created.text()}`);
  const es0 = es.reduce((a, p) => a + cpuSeconds(p), 0);
  const busy0 = machineBusy();
  const filter = "errors,items.*.status,items.*._id,items.*._index,items.*.error.type,items.*.error.reason";
  const ms = await bash(`cd "$DIR" && ls | xargs -P ${concurrency} -I{} curl -sS -o /dev/null -H 'content-type: application/x-ndjson' --data-binary @{} "$URL"`, {
    DIR: dir,
    URL: `${esUrl}/_bulk?filter_path=${filter}`,
  });
  const esCpu = es.reduce((a, p) => a + cpuSeconds(p), 0) - es0;
  const busy = machineBusy() - busy0;
  await fetch(`${esUrl}/${index}`, { method: "DELETE" });
  return { ms, phaseMs: ms, workerPeaks: [], esShare: esCpu / Math.max(busy, 1e-9), esCpu, clientCpu: 0, kept: 0 };
}

const spread = (xs: number[]) => `${fmtRate(Math.min(...xs))}–${fmtRate(Math.max(...xs))}`;

export async function benchWorkers(ctx: WorkersBenchContext): Promise<{ rows: BenchRow[]; notes: string[] }> {
  const file = config();
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  const dir = `/tmp/sluice-bench-workers-ndjson-${process.pid}`;
  const rawIndex = `${ctx.prefix}rawworkers`;
  const perDoc: { target: string; esCpu: number; clientCpu: number; docs: number }[] = [];
  const targets = [
    { name: "single node", key: "single", url: ctx.elasticsearchUrl, ports: [Number(new URL(ctx.elasticsearchUrl).port || 9200)] },
    { name: "3-node cluster", key: "cluster", url: CLUSTER_URL, ports: [9230, 9231, 9232] },
  ].filter((t) => ctx.targets.includes(t.key as "single" | "cluster"));
  try {
    for (const target of targets) {
      if (target.url === CLUSTER_URL) {
        log("starting the three-node cluster (scripts/services cluster up)");
        await bash(`"${ROOT}/scripts/services" cluster up >/dev/null`);
      }
      const env = { ...ctx.env, ELASTICSEARCH_URL: target.url };
      log(`${target.name}: sluice refresh image (three shards, no twin)`);
      const refreshed = await runSluice(["refresh", "image", "--config", file], env, false);
      if (refreshed.code !== 0) throw new Error(`refresh exited ${refreshed.code}`);
      const sql = postgres(ctx.apiUrl, { max: 1, onnotice: () => {} });
      const [g] = await sql`select table_name from sluice.generations where dataset = 'image' order by number desc limit 1`;
      await sql.end();
      const table = g!.table_name as string;
      const built = await buildNdjson({ databaseUrl: ctx.apiUrl, table, index: rawIndex, dir, batchDocuments: INDEX_DEFAULTS.batchDocuments, batchBytes: INDEX_DEFAULTS.batchBytes });
      const es = await enginePids(target.ports);
      for (const workers of ctx.workers) {
        // index.concurrency: what one process sends with, and the ramp's first worker (scale-out/shares.ts).
        const concurrency = INDEX_DEFAULTS.concurrency;
        const ours: Run[] = [];
        const raws: Run[] = [];
        for (let round = 1; round <= ctx.rounds; round++) {
          log(`${target.name}: round ${round}, raw _bulk at concurrency ${concurrency}, then sluice index ${workers ? `--workers ${workers}` : "in one process"}`);
          raws.push(await rawBulk(target.url, rawIndex, dir, concurrency, es));
          ours.push(await oursWithWorkers(env, file, workers, es));
        }
        const oursRates = ours.map((r) => rate(built.documents, r.ms)!);
        const rawRates = raws.map((r) => rate(built.documents, r.ms)!);
        const peak = Math.max(...ours.flatMap((r) => r.workerPeaks));
        rows.push({
          stage: `index ${workers ? `--workers ${workers}` : "(one process)"}, ${target.name}`,
          ours: median(oursRates),
          limit: median(rawRates),
          goal: null,
          peakRss: peak,
          note:
            `ES ${(median(ours.map((r) => r.esShare)) * 100).toFixed(0)}% of busy CPU (raw ${(median(raws.map((r) => r.esShare)) * 100).toFixed(0)}%); ` +
            `${workers > 1 ? `workers kept ${ours.map((r) => r.kept).join("/")}; ` : ""}spread ${spread(oursRates)} vs ${spread(rawRates)}; bulk phase ${fmtRate(median(ours.map((r) => rate(built.documents, r.phaseMs)!)))}/s; peak RSS per worker`,
        });
        if (workers) for (const r of ours) perDoc.push({ target: target.name, esCpu: r.esCpu, clientCpu: r.clientCpu, docs: built.documents });
        notes.push(`${target.name}, ${workers || "no"} workers: ${ctx.rounds} rounds of ${built.documents.toLocaleString("en-US")} docs, sluice ${ours.map((r) => secs(r.ms)).join(", ")}; raw ${raws.map((r) => secs(r.ms)).join(", ")}; worker peaks ${ours.map((r) => r.workerPeaks.map(mb).join("/")).join(", ")}`);
      }
      if (target.url === CLUSTER_URL) await bash(`"${ROOT}/scripts/services" cluster down >/dev/null 2>&1`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await bash(`"${ROOT}/scripts/services" cluster down >/dev/null 2>&1 || true`).catch(() => {});
  }
  // CPU per document, from the cluster runs: what 600 M rows cost on six workers and six nodes.
  const cluster = perDoc.filter((p) => p.target === "3-node cluster");
  if (!cluster.length) return { rows, notes };
  const esPerDoc = median(cluster.map((p) => p.esCpu / p.docs));
  const clientPerDoc = median(cluster.map((p) => p.clientCpu / p.docs));
  const cores = 2;
  const esRate = (6 * cores) / esPerDoc;
  const workerRate = 6 / clientPerDoc;
  const hours = 600e6 / Math.min(esRate, workerRate) / 3600;
  notes.push(
    `estimate, 600 M rows: Elasticsearch spent ${(esPerDoc * 1e3).toFixed(3)} core-ms and sluice ${(clientPerDoc * 1e3).toFixed(3)} core-ms per document here; six ${cores}-core nodes index ` +
      `${fmtRate(esRate)} docs/s, six one-core workers send ${fmtRate(workerRate)} docs/s → ${hours.toFixed(1)} h (Openverse: 47 h on six workers), bound by ${esRate < workerRate ? "Elasticsearch" : "the workers"}`,
  );
  return { rows, notes };
}
