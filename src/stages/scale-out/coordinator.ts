/**
 * The index stage spread over workers: the coordinator runs inside the index job (holding the
 * dataset's lock), and workers anywhere share the ranges through Postgres.
 *
 *   spawn N local workers (`sluice index --worker`; they start up while the coordinator works on)
 *   → create <alias>-gN with its write alias → split staging into ranges → wait for every range
 *   (working lapsed or left-over ranges itself once its own workers are gone) → drop the write alias
 *   → restore settings, refresh → documents per range (one search) and in total = sent − failed
 */
import { fileURLToPath } from "node:url";
import type { SearchClient } from "../../adapters/elasticsearch.ts";
import { countDocuments, whileReachable } from "../../adapters/elasticsearch.ts";
import type { Dataset } from "../../config/types.ts";
import { SluiceError } from "../../errors.ts";
import { countReason } from "../../jobs/counters.ts";
import { generationIndices, workersAlias } from "../../generations/names.ts";
import { type Generation, mergeGenerationStats } from "../../generations/store.ts";
import { indexOwner } from "../../generations/owned-indices.ts";
import { checkStagingColumns } from "../index/staging-rows.ts";
import { markedMappings, markFor } from "../../generations/ownership.ts";
import { sleep } from "../../retry.ts";
import { createFreshIndex, requireIndexConfig } from "../index/build-index.ts";
import { loadingSettings, servingSettings } from "../index/load-settings.ts";
import type { JobHandle } from "../job-runner.ts";
import { type Session, throwIfAborted } from "../session.ts";
import { countRows } from "../refresh/staging-sql.ts";
import { rangeQuery } from "./key-ranges.ts";
import { abandonRanges, createRanges, cutKeySpace, type IndexRange, listRanges } from "./ranges.ts";
import { RAMP_DEFAULTS, WorkerRamp } from "./ramp.ts";
import { workerConcurrency } from "./shares.ts";
import { newHolderId, workRanges } from "./worker.ts";

export interface ScaleOutOptions {
  /** Local worker processes to start; 0 leaves the work to workers started elsewhere (and to the coordinator). */
  workers: number;
  /** Ranges to cut staging into. @default 4 per worker, at least 4 */
  ranges?: number | undefined;
  /** @default 30 */
  leaseSeconds: number;
  /** The config file, passed on to local workers. */
  config?: string | undefined;
  /**
   * Add local workers one at a time while each raises the rate (ramp.ts), up to `workers`; false
   * (`--fixed-workers`) starts all of them at once. @default true
   */
  ramp?: boolean | undefined;
}

export const SCALE_OUT_DEFAULTS = { leaseSeconds: 30, rangesPerWorker: 4 } as const;

/** The command that starts this same binary again: the compiled executable, or bun with the CLI's entry when run from source. */
export function selfCommand(): string[] {
  const compiled = Bun.main.startsWith("/$bunfs/") || Bun.main.startsWith("B:/~BUN/");
  return compiled ? [process.execPath] : [process.execPath, fileURLToPath(new URL("../../cli.ts", import.meta.url))];
}

/**
 * Refuses --workers for what the workers do not build, before anything runs: `run --workers` checked
 * only at its index stage, after a whole refresh.
 */
export function refuseUnsupportedScaleOut(dataset: Dataset): void {
  const config = requireIndexConfig(dataset);
  if (config.children.length || config.filtered || dataset.source.kind === "registry") {
    throw new SluiceError(`dataset ${dataset.name} has child indexes, a filtered twin or payloads, which --workers does not build yet`, {
      hint: `index it in one process: \`sluice index ${dataset.name}\` or \`sluice run ${dataset.name}\` without --workers`,
    });
  }
}

export async function buildIndexWithWorkers(session: Session, job: JobHandle, es: SearchClient, generation: Generation, options: ScaleOutOptions): Promise<void> {
  const { dataset, sql, log } = session;
  const config = requireIndexConfig(dataset);
  refuseUnsupportedScaleOut(dataset);
  const [parent] = generationIndices(dataset, generation.number);
  const index = parent!.index;
  const settings = config.body.settings ?? {};
  // Workers start first: their start-up (half a second of CPU each) overlaps the index's creation and the
  // split, and they wait for the ranges as long as this job holds the dataset's lock. Ramped, the first
  // sends with the whole index.concurrency, as one process would, and each added one with its share.
  const ramp = options.ramp !== false && options.workers > 1 ? new WorkerRamp({ max: options.workers, ...RAMP_DEFAULTS }) : null;
  const children: Worker[] = [];
  if (ramp) {
    children.push(spawnWorker(session, options, config.concurrency));
    ramp.added();
  } else {
    for (let i = 0; i < options.workers; i++) children.push(spawnWorker(session, options, workerConcurrency(config.concurrency, options.workers)));
  }
  let finished: IndexRange[];
  let total = 0;
  try {
    const parts = options.ranges ?? Math.max(4, options.workers * SCALE_OUT_DEFAULTS.rangesPerWorker);
    await checkStagingColumns(sql, generation.tableName, config.columns, config.jsonKeys);
    job.setTask(`creating ${index}; cutting ${generation.tableName} into ${parts} ranges of ${dataset.table.key}`, 0);
    const owner = await indexOwner(sql, dataset.name);
    // The split runs while Elasticsearch creates the index; the ranges are recorded (and so claimable) only once the index exists.
    const cutting = cutKeySpace(sql, generation.tableName, dataset.table.key, parts);
    cutting.catch(() => {});
    const counting = countRows(sql, generation.tableName);
    counting.catch(() => {});
    await createFreshIndex(es, index, owner, generation.number, {
      // Unlike one process, the dataset's replicas stay on while loading: on a cluster a node may be
      // lost mid-index, and a replica keeps every acknowledged document (its primary is promoted).
      settings: loadingSettings(settings, { replicas: "serving" }),
      mappings: markedMappings(config.body.mappings as Record<string, unknown> | undefined, markFor(owner, generation.number)),
      // Workers write only through it (require_alias): once the index is deleted, a late write fails instead of creating it.
      aliases: { [workersAlias(index)]: {} },
    });
    const cuts = await cutting;
    const ranges = await createRanges(sql, { dataset: dataset.name, generation: generation.number, jobId: job.job.id }, cuts);
    total = await counting;
    if (cuts.sampledPercent !== null) log.info(`cut ${generation.tableName} on a ${cuts.sampledPercent.toFixed(2)}% sample of its keys`);
    const workers = ramp ? `up to ${options.workers} local workers, added while each raises the rate` : `${options.workers} local workers`;
    job.setTask(`indexing ${total.toLocaleString("en-US")} rows in ${ranges.length} ranges with ${workers}`, 5);
    const grow = ramp ? rampStep(session, es, index, ramp, children, options, workerConcurrency(config.concurrency, options.workers), total) : null;
    finished = await waitForRanges(session, job, es, generation, children, options, total, grow);
  } catch (error) {
    // Workers anywhere lose their leases at the next renewal; a request of theirs still in flight
    // when the index is deleted is refused (its write alias is gone with it), so none recreates it.
    await abandonRanges(sql, dataset.name, generation.number, (error as Error).message).catch(() => 0);
    await stopWorkers(children);
    throw error;
  }
  // Every range is done: a worker still starting up or looking for work has nothing left, and no
  // write may land any more (a worker that lost a lease may still have a request in flight).
  await stopWorkers(children);
  // From here every call is tried again while the node restarts (whileReachable), as the one-process
  // stage's are: a cut here cost a whole multi-worker load. A removal whose answer was lost finds the alias gone (404).
  const reachable = <T>(call: () => Promise<T>) => whileReachable(call, session.signal);
  await reachable(() => es.indices.updateAliases({ actions: [{ remove: { index, alias: workersAlias(index) } }] }, { ignore: [404] }));

  job.setTask("restoring settings and refreshing", 92);
  // null puts Elasticsearch's default back; the typings do not allow it.
  await reachable(() => es.indices.putSettings({ index, settings: servingSettings(settings) as Record<string, unknown> }));
  await reachable(() => es.indices.refresh({ index }));

  job.setTask("checking document counts per range and in total", 96);
  const counters = job.counters;
  counters.read = sum(finished, (r) => r.rowsRead);
  const failed = sum(finished, (r) => r.docsFailed);
  for (const r of finished) {
    for (const [type, n] of Object.entries(r.failedByType)) countReason(counters, "failed", type, n);
    if (r.rowsSkipped) countReason(counters, "skipped", "not_indexable", r.rowsSkipped);
  }
  const keyField = keyFieldOf(config.body.mappings, dataset.table.key);
  if (keyField) {
    const perRange = await reachable(() => countPerRange(es, index, keyField, finished));
    for (const r of finished) {
      const actual = perRange.get(r.number);
      if (actual !== r.docsSent - r.docsFailed) {
        throw new SluiceError(
          `range ${r.number} [${r.lower ?? "-∞"}, ${r.upper ?? "+∞"}) of ${index} holds ${actual} documents but ${r.docsSent} were sent and ${r.docsFailed} reported failed`,
          { hint: "documents were lost in Elasticsearch; check its logs, then run the index stage again" },
        );
      }
    }
  }
  const expected = sum(finished, (r) => r.docsSent - r.docsFailed);
  const actual = await reachable(() => countDocuments(es, index));
  if (actual !== expected) {
    throw new SluiceError(`index ${index} holds ${actual} documents but its ${finished.length} ranges sent ${expected + failed} and reported ${failed} failed (expected ${expected})`, {
      hint: "documents were lost in Elasticsearch; check its logs, then run the index stage again",
    });
  }
  counters.written = actual;
  counters.documents = { [index]: actual };
  counters.ranges = finished.length;
  await mergeGenerationStats(sql, dataset.name, generation.number, {
    documents: { [index]: actual },
    indexFailures: failed,
    indexedByJob: job.job.id,
    ranges: finished.length,
  });
  if (failed > config.maxFailures) {
    throw new SluiceError(`${failed} documents failed to index, more than the ${config.maxFailures} tolerated`, {
      hint: `see \`sluice job show ${job.job.id}\` and sluice.row_failures; raise index.maxFailures only if that loss is acceptable`,
    });
  }
  log.info(`${index}: ${actual} documents from ${finished.length} ranges checked per range${keyField ? "" : " (in total only: the key is not a field of the mapping)"}`);
}

/** Documents of each range in one search (a `filters` aggregation), not one count per range. */
async function countPerRange(es: SearchClient, index: string, field: string, ranges: IndexRange[]): Promise<Map<number, number>> {
  const filters = Object.fromEntries(ranges.map((r) => [String(r.number), rangeQuery(field, r)]));
  const res = await es.search({ index, size: 0, track_total_hits: false, aggs: { ranges: { filters: { filters } } } } as never);
  const buckets = (res.aggregations?.ranges as { buckets: Record<string, { doc_count: number }> }).buckets;
  return new Map(Object.entries(buckets).map(([n, b]) => [Number(n), b.doc_count]));
}

/** Polls the ranges until all are done; works them itself once its own workers are gone (a lapsed lease, or workers elsewhere). */
async function waitForRanges(
  session: Session,
  job: JobHandle,
  es: SearchClient,
  generation: Generation,
  children: Worker[],
  options: ScaleOutOptions,
  total: number,
  grow: ((ranges: IndexRange[]) => Promise<void>) | null,
): Promise<IndexRange[]> {
  const { sql, dataset, log } = session;
  const holder = newHolderId();
  for (;;) {
    throwIfAborted(session.signal);
    const ranges = await listRanges(sql, dataset.name, generation.number);
    const broken = ranges.find((r) => r.state === "failed");
    if (broken) throw new SluiceError(`range ${broken.number} of ${dataset.name} generation ${generation.number} failed: ${broken.error}`, { hint: "fix the cause, then run the index stage again" });
    const done = ranges.filter((r) => r.state === "done").length;
    const read = sum(ranges, (r) => r.rowsRead);
    job.counters.read = read;
    const holders = new Set(ranges.filter((r) => r.state === "leased").map((r) => r.holder));
    job.setPercent(5 + (Math.min(read, total) / Math.max(1, total)) * 85);
    if (done === ranges.length) return ranges;
    await grow?.(ranges);
    for (const c of children) {
      if (c.code === null || c.reported || c.retired) continue;
      c.reported = true;
      if (c.code !== 0) log.warn(`worker ${c.pid} exited with code ${c.code}; its range passes to another worker when its lease lapses`);
    }
    if (children.every((c) => c.code !== null)) {
      const report = await workRanges(session, es, generation.number, { holder, leaseSeconds: options.leaseSeconds });
      if (report.ranges.length) log.info(`coordinator finished ranges ${report.ranges.join(", ")} itself`);
    }
    job.counters.workers = holders.size;
    // Woken early when a local worker exits: the last one leaves when the last range is done.
    await Promise.race([sleep(1000, session.signal), ...children.filter((c) => c.code === null).map((c) => c.exited)]).catch(() => {});
  }
}

interface Worker {
  pid: number;
  code: number | null;
  reported: boolean;
  /** Stopped by the ramp: its exit is expected. */
  retired: boolean;
  exited: Promise<number>;
  process: Bun.Subprocess;
}

/** `concurrency`: the worker's requests in flight (shares.ts). */
function spawnWorker(session: Session, options: ScaleOutOptions, concurrency: number): Worker {
  const args = ["index", session.dataset.name, "--worker", "--lease", String(options.leaseSeconds), "--concurrency", String(concurrency), ...(options.config ? ["--config", options.config] : [])];
  const child = Bun.spawn([...selfCommand(), ...args], { env: process.env, stdin: "ignore", stdout: "ignore", stderr: "inherit" });
  const worker: Worker = { pid: child.pid, code: null, reported: false, retired: false, process: child, exited: child.exited };
  child.exited.then((code) => (worker.code = code));
  return worker;
}

/**
 * One poll's worth of the ramp (ramp.ts): the rate is what the index took (its indexing total, every
 * writer's), and the newest worker counts as sending once it holds a range (holder ids carry the pid).
 */
function rampStep(session: Session, es: SearchClient, index: string, ramp: WorkerRamp, children: Worker[], options: ScaleOutOptions, share: number, total: number) {
  const { log } = session;
  return async (ranges: IndexRange[]) => {
    const newest = children.at(-1);
    if (!ramp.deciding || !newest || newest.code !== null) return;
    const sending = ranges.some((r) => r.state === "leased" && r.holder?.split(":")[1] === String(newest.pid));
    const [stats, nodes] = await Promise.all([es.indices.stats({ index, metric: "indexing" }), es.nodes.stats({ metric: "os", filter_path: "nodes.*.os.cpu.percent" } as never)]);
    const indexed = stats._all?.primaries?.indexing?.index_total ?? 0;
    const cpus = Object.values(nodes.nodes ?? {}).map((n) => n.os?.cpu?.percent).filter((p): p is number => typeof p === "number");
    const remaining = Math.max(0, total - sum(ranges, (r) => r.rowsRead));
    const step = ramp.observe({ now: performance.now(), indexed, newestSending: sending, remaining, clusterCpu: cpus.length ? Math.max(...cpus) : null });
    const rate = (n: number) => `${Math.round(n).toLocaleString("en-US")} docs/s`;
    if (step.action === "add") {
      log.info(`${ramp.running} local worker${ramp.running > 1 ? "s" : ""}: ${rate(step.rate)}; adding another`);
      children.push(spawnWorker(session, options, share));
      ramp.added();
    } else if (step.action === "retire") {
      log.info(`local worker ${children.length} took the rate from ${rate(step.before)} to ${rate(step.rate)}: stopped it (its range goes back at its checkpoint); keeping ${ramp.running} of up to ${options.workers}`);
      newest.retired = true;
      newest.process.kill("SIGTERM");
    } else if (step.action === "stay") {
      const why = { ceiling: `--workers ${options.workers}`, "little work left": "too little work left to measure another", "cluster busy": `the busiest Elasticsearch node's machine ran at ${Math.round(step.cpu ?? 0)}% CPU, none to spare` }[step.reason];
      log.info(`${ramp.running} local worker${ramp.running > 1 ? "s" : ""}: ${rate(step.rate)}; adding no more (${why})`);
    }
  };
}

/** Ends local workers still running (their ranges are done or abandoned): TERM, then KILL after a grace period. */
async function stopWorkers(children: Worker[]): Promise<void> {
  for (const c of children) if (c.code === null) c.process.kill("SIGTERM");
  const grace = sleep(10_000).then(() => children.forEach((c) => c.code === null && c.process.kill("SIGKILL")));
  await Promise.race([Promise.all(children.map((c) => c.exited)), grace]);
  await Promise.all(children.map((c) => c.exited));
}

/** The mapping's field for the key, when there is one a range query can count on (keyword or numeric). */
function keyFieldOf(mappings: Record<string, unknown> | undefined, key: string): string | null {
  const type = ((mappings?.properties as Record<string, { type?: string }> | undefined)?.[key])?.type;
  return type && ["keyword", "long", "integer", "short", "byte", "unsigned_long"].includes(type) ? key : null;
}

function sum<T>(items: readonly T[], of: (item: T) => number): number {
  return items.reduce((a, item) => a + of(item), 0);
}
