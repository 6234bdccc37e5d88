/**
 * `sluice sync <dataset>`: keeps the dataset's live index in step with its source, in place, as
 * Elastic's connectors do — the one deliberate exception to "build a new generation".
 *
 *   no live index      → first generation (first-build.ts), then a full sync stamps it
 *   full (--full)      → source (id order) ⋈ index (id order, point in time) → upsert new/changed,
 *                        skip unchanged by version, collect vanished → deletion gate → delete
 *   full, unstamped    → (an index `run` built) write every record, then delete what this job did not write
 *   incremental        → deletedSince(cursor) + docsSince(cursor) → versions by mget → upsert; cursor
 *
 * Deletions are collected in Postgres and sent only after the source ended normally and the gate
 * passed; the cursor and source state are stored only when the whole sync succeeded. Sync is
 * index-only: the live table stays as the last `run` built it (see README "Sync").
 */
import type { SearchClient } from "../../adapters/elasticsearch.ts";
import { aliasTargets, countDocuments, searchError } from "../../adapters/elasticsearch.ts";
import type { Dataset, IndexContext } from "../../config/types.ts";
import { SluiceError } from "../../errors.ts";
import { countReason, summarizeCounters } from "../../jobs/counters.ts";
import { RowFailureLog } from "../../jobs/row-failures.ts";
import { startProgress } from "../../log/progress.ts";
import { assertOwned, indexOwner } from "../../generations/owned-indices.ts";
import { generationsIn, liveGeneration } from "../../generations/store.ts";
import { isDatabaseFailure, databaseFailure } from "../../adapters/postgres.ts";
import { openSyncSource } from "../../sources/open.ts";
import type { Source, SourceRecord, SourceState } from "../../sources/types.ts";
import { requireIndexConfig } from "../index/build-index.ts";
import { type JobHandle, runAsJob } from "../job-runner.ts";
import { openSession, type Session, type SessionOptions, throwIfAborted } from "../session.ts";
import { openSearchFor } from "../steps.ts";
import { periodicCollector } from "../memory.ts";
import { refuseWhileSplit } from "../swap/swap-stage.ts";
import { createIndexOnlyGeneration, discardIndexOnlyGeneration, firstGenerationThroughStages, promoteIndexOnlyGeneration } from "./first-build.ts";
import { deleteIds, ensureSyncFields, idsNotWrittenBy, indexEntryPages, storedVersions, unstampedDocuments } from "./live-index.ts";
import { reconcile } from "./reconcile.ts";
import { compileRules } from "./rules.ts";
import { clearJobScratch, DeletionList, sortedIndexEntries, sortedThroughPostgres, sweepScratch } from "./scratch.ts";
import { commitSyncState, readSyncState } from "./sync-state.ts";
import { builderHash, DocumentWriter, storedVersion } from "./writer.ts";

export type SyncMode = "full" | "incremental";

export interface SyncOptions extends SessionOptions {
  /** null: incremental when a cursor is stored and the source supports it, else full. */
  mode: SyncMode | null;
  /** Delete beyond sync.maxDeleteFraction; promote a first generation the swap gates refuse. */
  force: boolean;
}

export interface SyncReport {
  dataset: string;
  job: number;
  /** What ran: a first build (then a full sync), full, incremental, or skipped (source unchanged). */
  mode: "first" | SyncMode | "skipped";
  index: string | null;
  generation: number | null;
  counters: JobHandle["counters"];
  /** Why the sync was skipped, when it was. */
  skipped?: string;
}

const INCREMENTAL_BATCH = 500;
const SEARCH_ERRORS = new Set(["ConnectionError", "TimeoutError", "ResponseError", "NoLivingConnectionsError", "DeserializationError"]);

export async function syncDataset(name: string | undefined, options: SyncOptions): Promise<SyncReport> {
  const session = await openSession("sync", name, options);
  let es: SearchClient | null = null;
  let source: Source | null = null;
  try {
    const config = requireIndexConfig(session.dataset);
    if (config.children.length) {
      throw new SluiceError(`dataset ${session.dataset.name} has child indices, which sync does not keep`, { hint: "use `sluice run` for this dataset" });
    }
    es = await openSearchFor(session);
    await refuseWhileSplit(session);
    source = await openSyncSource(session.dataset, session.env);
    const report = await runAsJob(session, { stage: "sync" }, (job) => syncJob(session, job, es!, source!, options));
    if (report.mode !== "skipped") session.slack.notify(`sync ${report.dataset} (${report.mode}) succeeded: ${summarizeCounters(report.counters)}`);
    return report;
  } catch (error) {
    const message = error instanceof SluiceError ? error.toLine() : (error as Error)?.message ?? String(error);
    session.slack.notify(`sync ${session.dataset.name} FAILED: ${message}`);
    throw error;
  } finally {
    await source?.close?.().catch(() => {});
    await es?.close().catch(() => {});
    await session.close();
  }
}

/** What decides whether the source needs reading: the source's own state and sync's configuration. */
function syncConfigHash(dataset: Dataset): string {
  return new Bun.CryptoHasher("sha256").update(JSON.stringify(dataset.sync.rules)).update(builderHash(dataset)).digest("hex").slice(0, 16);
}

async function syncJob(session: Session, job: JobHandle, es: SearchClient, source: Source, options: SyncOptions): Promise<SyncReport> {
  const { sql, dataset, log } = session;
  const report: SyncReport = { dataset: dataset.name, job: job.job.id, mode: "full", index: null, generation: null, counters: job.counters };
  try {
    await sweepScratch(sql, dataset.name);
    job.setTask(`reaching the source of ${dataset.name}`, 0);
    await source.ping();
    const alias = dataset.index!.alias;
    let targets = await aliasTargets(es, alias);
    const stored = await readSyncState(sql, dataset.name);
    const configHash = syncConfigHash(dataset);

    if (targets.length === 0) {
      if (dataset.sync.source === null) {
        report.mode = "first";
        report.generation = await firstGenerationThroughStages(session, job, es, { force: options.force, configPath: options.config });
        targets = await aliasTargets(es, alias);
      } else {
        return await firstIndexOnly(session, job, es, source, report, configHash);
      }
    } else {
      const previous = stored?.sourceState as { source?: SourceState; config?: string } | null | undefined;
      if (options.mode === null && previous?.config === configHash && !(await source.changed(previous.source ?? null))) {
        report.mode = "skipped";
        report.skipped = `the source reports no change since job ${stored!.lastJob}; nothing to sync (--full reads it anyway)`;
        job.setTask(`unchanged: ${report.skipped}`, 100);
        return report;
      }
    }
    if (targets.length !== 1) {
      throw new SluiceError(`alias ${alias} points at ${targets.length} indices (${targets.join(", ")}); sync writes into one`, { hint: "fix the alias, or run `sluice run` to rebuild" });
    }
    const index = targets[0]!;
    report.index = index;
    const live = await liveGeneration(sql, dataset.name);
    report.generation ??= live?.number ?? null;
    await assertOwned(es, index, await indexOwner(sql, dataset.name), "replace", { movingAliases: [alias] });
    await ensureSyncFields(es, index);

    const stateBefore = { source: source.state ? await source.state() : {}, config: configHash };
    let mode: SyncMode = options.mode ?? (stored?.cursor != null && source.docsSince && report.mode !== "first" ? "incremental" : "full");
    if (mode === "incremental" && !source.docsSince) {
      throw new SluiceError(`the source of dataset ${dataset.name} cannot be synced incrementally (it has no docsSince)`, { hint: `run \`sluice sync ${dataset.name} --full\`` });
    }
    if (mode === "incremental" && (stored?.cursor == null || report.mode === "first")) {
      log.warn(`dataset ${dataset.name} has no stored cursor yet: running a full sync, which stores one`);
      mode = "full";
    }
    if (report.mode !== "first") report.mode = mode;
    let cursor: string | null;
    if (mode === "full") {
      cursor = source.cursor ? await source.cursor() : null;
      const unstamped = await unstampedDocuments(es, index);
      if (unstamped > 0) {
        log.info(`${unstamped.toLocaleString("en-US")} documents of ${index} carry no sync version (built by run): writing every record once`);
        await restampFull(session, job, es, index, source, options);
      } else {
        await mergeFull(session, job, es, index, source, options);
      }
    } else {
      cursor = await incremental(session, job, es, index, source, stored!.cursor!, options);
    }
    await es.indices.refresh({ index });
    await commitSyncState(sql, dataset.name, { cursor, sourceState: stateBefore, job: job.job.id, mode });
    job.setTask(`synced ${dataset.name} (${mode})${cursor !== null ? `; cursor ${cursor}` : ""}`, 100);
    return report;
  } catch (error) {
    if (error instanceof SluiceError || session.signal.aborted) throw error;
    if (isDatabaseFailure(error)) throw databaseFailure(error, session.env.databaseUrl ?? "", "DATABASE_URL", `sync ${dataset.name}`);
    // The Elasticsearch client's errors (a cut connection after every retry, a refusal) name ELASTICSEARCH_URL.
    if (SEARCH_ERRORS.has((error as Error)?.name)) throw searchError(error, session.env.elasticsearchUrl ?? "", `sync ${dataset.name} into`);
    throw error;
  } finally {
    await clearJobScratch(sql, job.job.id).catch(() => {});
  }
}

/** The sync counters, present from the start so that `job show` lists them even when zero. */
function initCounters(job: JobHandle): void {
  for (const key of ["new", "updated", "deleted", "unchanged"]) job.counters[key] ??= 0;
}

function bump(job: JobHandle, key: "new" | "updated" | "deleted" | "unchanged", by = 1): void {
  job.counters[key] = ((job.counters[key] as number | undefined) ?? 0) + by;
}

/** A source's own failure (not sluice's): named as such, with what it means for the index. */
export class SourceFailedError extends SluiceError {}

/** Passes a source's records on; an error the source throws becomes one line naming the dataset and what was read. */
async function* guarded<T>(session: Session, job: JobHandle, records: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* records;
  } catch (error) {
    if (error instanceof SluiceError || session.signal.aborted) throw error;
    throw new SourceFailedError(`the source of dataset ${session.dataset.name} failed after ${job.counters.read.toLocaleString("en-US")} records: ${(error as Error)?.message ?? String(error)}; nothing was deleted and the cursor did not move`, {
      hint: "fix the source and sync again; what was already written is kept and the next sync goes on from there",
      cause: error,
    });
  }
}

/** The source's records, counted, filtered by the sync rules (excluded ones are absent to the index) and with stored versions. */
async function* included(session: Session, job: JobHandle, records: AsyncIterable<SourceRecord>, onExcluded?: (id: string) => Promise<void>): AsyncGenerator<SourceRecord> {
  const verdict = compileRules(session.dataset.sync.rules);
  const builder = builderHash(session.dataset);
  for await (const record of guarded(session, job, records)) {
    job.counters.read++;
    if (!verdict(record.doc).included) {
      countReason(job.counters, "skipped", "excluded_by_rule");
      await onExcluded?.(record.id);
      continue;
    }
    yield storedVersion(record, builder);
  }
}

function writerFor(session: Session, job: JobHandle, es: SearchClient, index: string, progress: { tick(n?: number): void }): { writer: DocumentWriter; failures: RowFailureLog } {
  const failures = new RowFailureLog(session.sql, job.job.id);
  const writer = new DocumentWriter({ es, index, dataset: session.dataset, job: job.job.id, counters: job.counters, failures, log: session.log, signal: session.signal, context: NO_BLOBS });
  void progress;
  return { writer, failures };
}

const NO_BLOBS: IndexContext = {
  readBlob: async (sha256) => {
    throw new Error(`sync has no blob store to read payload ${sha256} from`);
  },
};

/** Ends the writing half: flushes, lists failures, and applies index.maxFailures before any deletion. */
async function finishWrites(session: Session, writer: DocumentWriter, failures: RowFailureLog, job: JobHandle): Promise<number> {
  await writer.close();
  await failures.flush();
  const failed = Object.values(writer.failedByType).reduce((a, b) => a + b, 0);
  const tolerated = session.dataset.index!.maxFailures;
  if (failed > tolerated) {
    throw new SluiceError(`${failed} documents failed to sync, more than the ${tolerated} tolerated (index.maxFailures); nothing was deleted and the cursor did not move`, {
      hint: `see \`sluice job show ${job.job.id}\` and sluice.row_failures; the next sync retries them`,
    });
  }
  return failed;
}

async function mergeFull(session: Session, job: JobHandle, es: SearchClient, index: string, source: Source, options: SyncOptions): Promise<void> {
  const { sql, dataset, signal } = session;
  initCounters(job);
  const before = await countDocuments(es, index);
  const progress = startProgress({ label: `sync ${dataset.name}`, unit: "records", total: before });
  job.setTask(`full sync of ${dataset.name}: comparing the source with ${before.toLocaleString("en-US")} documents of ${index}`, 5);
  const { writer, failures } = writerFor(session, job, es, index, progress);
  const deletions = new DeletionList(sql, dataset.name, job.job.id);
  const records = included(session, job, source.docs(signal));
  const sorted = source.ordered ? records : sortedThroughPostgres(sql, dataset.name, job.job.id, records);
  let steps = 0;
  const collect = periodicCollector();
  for await (const step of reconcile(sorted, sortedIndexEntries(sql, dataset.name, job.job.id, indexEntryPages(es, index, signal)))) {
    switch (step.kind) {
      case "new":
        if (await writer.write(step.record)) bump(job, "new");
        break;
      case "changed":
        if (await writer.write(step.record)) bump(job, "updated");
        break;
      case "unchanged":
        bump(job, "unchanged");
        break;
      case "vanished":
        await deletions.add(step.id);
        break;
    }
    if (++steps % 1000 === 0) {
      collect();
      progress.tick(1000);
      job.setPercent(5 + Math.min(80, (steps / Math.max(1, before)) * 80));
      throwIfAborted(signal);
    }
  }
  progress.stop();
  await finishWrites(session, writer, failures, job);
  await applyDeletions(session, job, es, index, deletions, before, options);
}

async function restampFull(session: Session, job: JobHandle, es: SearchClient, index: string, source: Source, options: SyncOptions): Promise<void> {
  const { sql, dataset, signal } = session;
  initCounters(job);
  const before = await countDocuments(es, index);
  const progress = startProgress({ label: `sync ${dataset.name}`, unit: "records", total: before });
  job.setTask(`full sync of ${dataset.name}: writing every record into ${index} with its version`, 5);
  const { writer, failures } = writerFor(session, job, es, index, progress);
  let n = 0;
  const collect = periodicCollector();
  for await (const record of included(session, job, source.docs(signal))) {
    if (await writer.write(record)) bump(job, "updated");
    if (++n % 1000 === 0) {
      collect();
      progress.tick(1000);
      throwIfAborted(signal);
    }
  }
  progress.stop();
  const failed = await finishWrites(session, writer, failures, job);
  if (failed > 0) {
    session.log.warn(`${failed} documents failed while stamping ${index}; deleting nothing this time (the next full sync decides)`);
    return;
  }
  await es.indices.refresh({ index });
  const deletions = new DeletionList(sql, dataset.name, job.job.id);
  for await (const id of idsNotWrittenBy(es, index, job.job.id, signal)) await deletions.add(id);
  await applyDeletions(session, job, es, index, deletions, before, options);
}

async function incremental(session: Session, job: JobHandle, es: SearchClient, index: string, source: Source, cursor: string, options: SyncOptions): Promise<string> {
  const { sql, dataset, signal } = session;
  initCounters(job);
  const before = await countDocuments(es, index);
  const progress = startProgress({ label: `sync ${dataset.name}`, unit: "records", total: null });
  job.setTask(`incremental sync of ${dataset.name} from cursor ${cursor}`, 5);
  const deletions = new DeletionList(sql, dataset.name, job.job.id);
  if (source.deletedSince) for await (const id of guarded(session, job, source.deletedSince(cursor, signal))) await deletions.add(id);
  const { writer, failures } = writerFor(session, job, es, index, progress);
  const changes = source.docsSince!(cursor, signal);
  let batch: SourceRecord[] = [];
  const flush = async () => {
    if (!batch.length) return;
    const versions = await storedVersions(es, index, batch.map((r) => r.id));
    for (const record of batch) {
      const stored = versions.get(record.id);
      if (stored === record.version) bump(job, "unchanged");
      else if (await writer.write(record)) bump(job, stored === undefined ? "new" : "updated");
    }
    progress.tick(batch.length);
    batch = [];
    throwIfAborted(signal);
  };
  // Read by hand so that the generator's return value, the next cursor, is kept.
  const builder = builderHash(dataset);
  const verdict = compileRules(dataset.sync.rules);
  let next: string = cursor;
  for (;;) {
    let step: IteratorResult<SourceRecord, string>;
    try {
      step = await changes.next();
    } catch (error) {
      for await (const _ of guarded(session, job, (async function* () { throw error; })())) void _;
      throw error;
    }
    if (step.done) {
      next = step.value;
      break;
    }
    job.counters.read++;
    if (!verdict(step.value.doc).included) {
      countReason(job.counters, "skipped", "excluded_by_rule");
      await deletions.add(step.value.id);
      continue;
    }
    batch.push(storedVersion(step.value, builder));
    if (batch.length >= INCREMENTAL_BATCH) await flush();
  }
  await flush();
  progress.stop();
  await finishWrites(session, writer, failures, job);
  await applyDeletions(session, job, es, index, deletions, before, options);
  return next;
}

/** The deletion gate, then the deletions, a batch at a time. */
async function applyDeletions(session: Session, job: JobHandle, es: SearchClient, index: string, deletions: DeletionList, before: number, options: SyncOptions): Promise<void> {
  await deletions.flush();
  const { dataset, signal } = session;
  if (deletions.count === 0) return;
  const fraction = dataset.sync.maxDeleteFraction;
  if (deletions.count > fraction * before && !options.force) {
    const share = before ? ` (${((deletions.count / before) * 100).toFixed(1)}%)` : "";
    throw new SluiceError(`sync of ${dataset.name} would delete ${deletions.count.toLocaleString("en-US")} of ${before.toLocaleString("en-US")} documents${share}, more than sync.maxDeleteFraction ${fraction}; deleted nothing and kept the cursor`, {
      hint: `check the source (a truncated export or a wrong filter?); if these deletions are right, run \`sluice sync ${dataset.name} --force\``,
    });
  }
  job.setTask(`deleting ${deletions.count.toLocaleString("en-US")} documents that left the source`, 90);
  for await (const ids of deletions.batches()) {
    const result = await deleteIds(es, index, ids, signal);
    bump(job, "deleted", result.deleted);
    if (result.absent) countReason(job.counters, "skipped", "already_absent", result.absent);
    for (const [reason, n] of Object.entries(result.failed)) countReason(job.counters, "failed", `delete_${reason}`, n);
    throwIfAborted(signal);
  }
}

/** File and module sources: an index-only first generation, loaded from the source and aliased. */
async function firstIndexOnly(session: Session, job: JobHandle, es: SearchClient, source: Source, report: SyncReport, configHash: string): Promise<SyncReport> {
  const { sql, dataset, signal } = session;
  initCounters(job);
  report.mode = "first";
  // A first sync that was killed left its generation building: it never went live, so it goes.
  for (const stale of await generationsIn(sql, dataset.name, ["building", "ready"])) await discardIndexOnlyGeneration(session, es, stale);
  const stateBefore = { source: source.state ? await source.state() : {}, config: configHash };
  const cursor = source.cursor ? await source.cursor() : null;
  const { generation, index } = await createIndexOnlyGeneration(session, es);
  job.setGeneration(generation.number);
  report.generation = generation.number;
  report.index = index;
  try {
    job.setTask(`no live index for ${dataset.name}: loading generation ${generation.number} (${index}) from the source`, 5);
    const progress = startProgress({ label: `sync ${dataset.name}`, unit: "records", total: null });
    const { writer, failures } = writerFor(session, job, es, index, progress);
    let n = 0;
    const collect = periodicCollector();
    for await (const record of included(session, job, source.docs(signal))) {
      if (await writer.write(record)) bump(job, "new");
      if (++n % 1000 === 0) {
        collect();
        progress.tick(1000);
        throwIfAborted(signal);
      }
    }
    progress.stop();
    await finishWrites(session, writer, failures, job);
    await promoteIndexOnlyGeneration(session, es, generation, index, job.counters.written);
  } catch (error) {
    await discardIndexOnlyGeneration(session, es, generation);
    throw error;
  }
  await commitSyncState(sql, dataset.name, { cursor, sourceState: stateBefore, job: job.job.id, mode: "full" });
  job.setTask(`generation ${generation.number} of ${dataset.name} is live (index-only, built by sync)`, 100);
  return report;
}
