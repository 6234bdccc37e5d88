/**
 * The passes of a sync over the live index, each bounded in memory (sync-stage.ts chooses one):
 *
 *   mergeFull       source ⋈ index, both in id order → new / changed / unchanged / vanished
 *   restampFull     every record written with its version, then what this job did not write goes
 *   incremental     deletedSince + docsSince(cursor), classified by the stored versions (mget)
 *   firstIndexOnly  an index-only first generation, loaded and aliased
 *
 * Every pass writes through a PassOutput (output.ts: the live index, or a dry run's record) and ends in applyDeletions: deletions are sent only
 * after the source ended normally, the writes passed index.maxFailures, and the gate passed.
 */
import type { SearchClient } from "../../adapters/elasticsearch.ts";
import { countDocuments, whileReachable } from "../../adapters/elasticsearch.ts";
import { SluiceError } from "../../errors.ts";
import { countReason } from "../../jobs/counters.ts";
import { startProgress } from "../../log/progress.ts";
import { generationsIn } from "../../generations/store.ts";
import type { Source, SourceRecord } from "../../sources/types.ts";
import type { JobHandle } from "../job-runner.ts";
import { periodicCollector } from "../memory.ts";
import { type Session, throwIfAborted } from "../session.ts";
import { createIndexOnlyGeneration, discardIndexOnlyGeneration, promoteIndexOnlyGeneration } from "./first-build.ts";
import { idsNotWrittenBy, indexEntryPages, storedVersions } from "./live-index.ts";
import { pagesOf, reconcilePages, type Versioned } from "./reconcile.ts";
import { compileRules } from "./rules.ts";
import { DeletionList, sortedIndexEntryPages, sortedThroughPostgres } from "./scratch.ts";
import { commitSyncState } from "./sync-state.ts";
import type { SyncOptions, SyncReport } from "./sync-stage.ts";
import { builderHash, storedVersion } from "./writer.ts";
import { LiveOutput, type PassOutput } from "./output.ts";
import { clearMirror, type MirrorUpdate, mirroredEntries, mirroredVersions } from "./versions-mirror.ts";

const INCREMENTAL_BATCH = 500;
/** Records a page in the full merge. */
const MERGE_PAGE = 1000;
/**
 * Full collections by work, not by the clock: the merge makes garbage in proportion to records,
 * and at ~100k records a second a collection once a second let the peak grow with the run's speed
 * and length (no-op resync 200 MB at 100k, 244 MB at 1M). ~10 ms each; 50 at 1M.
 */
const COLLECT_EVERY = 20_000;

/** The sync counters, present from the start so that `job show` lists them even when zero. */
function initCounters(job: JobHandle): void {
  for (const key of ["new", "updated", "deleted", "unchanged"]) job.counters[key] ??= 0;
}

function bump(job: JobHandle, key: "new" | "updated" | "deleted" | "unchanged", by = 1): void {
  job.counters[key] = ((job.counters[key] as number | undefined) ?? 0) + by;
}

/** Counts one id of a kind, and tells the output (a dry run samples it). */
function tally(job: JobHandle, output: PassOutput, kind: "new" | "updated" | "unchanged", id: string): void {
  bump(job, kind);
  output.counted?.(kind, id);
}

/** Whether the job counted any failure (a write or a delete): then the versions table cannot vouch for the index. */
export function failedAny(job: JobHandle): boolean {
  return Object.values(job.counters.failed).some((n) => n > 0);
}

/** A source's own failure (not sluice's): named as such, with what it means for the index. */
export class SourceFailedError extends SluiceError {}

/** Passes a source's records on; an error the source throws becomes one line naming the dataset and what was read. */
async function* guarded<T>(session: Session, job: JobHandle, records: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* records;
  } catch (error) {
    throw sourceFailure(session, job, error);
  }
}

function sourceFailure(session: Session, job: JobHandle, error: unknown): unknown {
  if (error instanceof SluiceError || session.signal.aborted) return error;
  return new SourceFailedError(`the source of dataset ${session.dataset.name} failed after ${job.counters.read.toLocaleString("en-US")} records: ${(error as Error)?.message ?? String(error)}; nothing was deleted and the cursor did not move`, {
    hint: "fix the source and sync again; what was already written is kept and the next sync goes on from there",
    cause: error,
  });
}

/**
 * A source's ids and versions, counted and with stored versions (versions() of a source, no rules),
 * a page at a time; read in one loop rather than through generators stacked per record (see reconcilePages).
 * A page part-read when the source throws is passed on before its error.
 */
async function* versionPages(session: Session, job: JobHandle, versions: AsyncIterable<Versioned>): AsyncGenerator<Versioned[]> {
  const builder = builderHash(session.dataset);
  let page: Versioned[] = [];
  try {
    for await (const entry of versions) {
      job.counters.read++;
      page.push(storedVersion({ id: entry.id, version: entry.version }, builder));
      if (page.length >= MERGE_PAGE) {
        yield page;
        page = [];
      }
    }
  } catch (error) {
    if (page.length) yield page;
    throw sourceFailure(session, job, error);
  }
  if (page.length) yield page;
}

/** The source's records, counted, filtered by the sync rules (excluded ones are absent to the index) and with stored versions. */
export async function* included(session: Session, job: JobHandle, records: AsyncIterable<SourceRecord>, onExcluded?: (id: string) => Promise<void>): AsyncGenerator<SourceRecord> {
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

/** Returns where the versions table's next state starts from: itself when it stood in for the index, else the index's entries read here. */
export async function mergeFull(session: Session, job: JobHandle, es: SearchClient, index: string, source: Source, options: SyncOptions, mirrors: string | null, output: PassOutput): Promise<MirrorUpdate["base"]> {
  const { sql, dataset, signal } = session;
  initCounters(job);
  const before = await countDocuments(es, index);
  const progress = startProgress({ label: `sync ${dataset.name}`, unit: "records", total: before });
  job.setTask(`full sync of ${dataset.name}: comparing the source with ${before.toLocaleString("en-US")} documents of ${index}`, 5);
  const deletions = new DeletionList(sql, dataset.name, job.job.id);
  // Ids and versions alone when the source offers them and no rule needs the records: only what
  // the merge finds new or changed is then read whole (docsByIds), a batch at a time.
  const versions = source.ordered && source.docsByIds && dataset.sync.rules.length === 0 ? (source.versions?.(signal) ?? null) : null;
  const sorted: AsyncIterable<Versioned[]> = versions
    ? versionPages(session, job, versions)
    : // Whole records one at a time: each is written as it comes, however slow the source.
      pagesOf(source.ordered ? included(session, job, source.docs(signal)) : sortedThroughPostgres(sql, dataset.name, job.job.id, included(session, job, source.docs(signal))), 1);
  let steps = 0;
  const collect = periodicCollector(0, COLLECT_EVERY);
  const mirrored = await mirroredEntries(sql, dataset.name, mirrors, index, before);
  const entries = mirrored ?? sortedIndexEntryPages(sql, dataset.name, job.job.id, indexEntryPages(es, index, signal));
  let wanted = new Map<string, "new" | "updated">();
  const write = async (record: SourceRecord, kind: "new" | "updated") => {
    if (await output.write(record)) tally(job, output, kind, record.id);
  };
  const fetchWanted = async () => {
    if (!wanted.size) return;
    const batch = wanted;
    wanted = new Map();
    // A record gone since its version was read is left to the next sync.
    for await (const record of guarded(session, job, source.docsByIds!([...batch.keys()], signal))) {
      const kind = batch.get(record.id);
      if (kind) await write(storedVersion(record, builder), kind);
    }
  };
  const builder = builderHash(dataset);
  for await (const page of reconcilePages(sorted, entries)) {
    for (const step of page) {
      switch (step.kind) {
        case "new":
        case "changed": {
          const kind = step.kind === "new" ? "new" : "updated";
          if (!versions) await write(step.record as SourceRecord, kind);
          else {
            wanted.set(step.record.id, kind);
            if (wanted.size >= INCREMENTAL_BATCH) await fetchWanted();
          }
          break;
        }
        case "unchanged":
          tally(job, output, "unchanged", step.id);
          break;
        case "vanished":
          await deletions.add(step.id);
          break;
      }
      if (++steps % 1000 === 0) {
        progress.tick(1000);
        job.setPercent(5 + Math.min(80, (steps / Math.max(1, before)) * 80));
      }
    }
    collect(page.length);
    throwIfAborted(signal);
  }
  await fetchWanted();
  progress.stop();
  await output.finishWrites();
  await applyDeletions(session, job, output, deletions, before, options);
  return mirrored ? "table" : "index entries";
}

export async function restampFull(session: Session, job: JobHandle, es: SearchClient, index: string, source: Source, options: SyncOptions): Promise<void> {
  const { sql, dataset, signal } = session;
  initCounters(job);
  const before = await countDocuments(es, index);
  const progress = startProgress({ label: `sync ${dataset.name}`, unit: "records", total: before });
  job.setTask(`full sync of ${dataset.name}: writing every record into ${index} with its version`, 5);
  await clearMirror(sql, dataset.name);
  const output = await writeEveryRecord(session, job, es, index, source, "updated", progress);
  const failed = output.failed;
  if (failed > 0) {
    session.log.warn(`${failed} documents failed while stamping ${index}; deleting nothing this time (the next full sync decides)`);
    return;
  }
  await whileReachable(() => es.indices.refresh({ index }), signal);
  const deletions = new DeletionList(sql, dataset.name, job.job.id);
  for await (const id of idsNotWrittenBy(es, index, job.job.id, signal)) await deletions.add(id);
  await applyDeletions(session, job, output, deletions, before, options);
}

/** `mirrors`: the index the versions table mirrored when the sync began; when it is this one, versions are looked up there instead of in the index (mget). */
export async function incremental(session: Session, job: JobHandle, es: SearchClient, index: string, source: Source, cursor: string, options: SyncOptions, output: PassOutput, mirrors: string | null): Promise<string> {
  const { sql, dataset, signal } = session;
  initCounters(job);
  const before = await countDocuments(es, index);
  const progress = startProgress({ label: `sync ${dataset.name}`, unit: "records", total: null });
  job.setTask(`incremental sync of ${dataset.name} from cursor ${cursor}`, 5);
  const deletions = new DeletionList(sql, dataset.name, job.job.id);
  if (source.deletedSince) for await (const id of guarded(session, job, source.deletedSince(cursor, signal))) await deletions.add(id);
  const changes = source.docsSince!(cursor, signal);
  // Each changed record is a document built and sent: more garbage a record than the merge's.
  const collect = periodicCollector(0, COLLECT_EVERY / 4);
  let batch: SourceRecord[] = [];
  const flush = async () => {
    if (!batch.length) return;
    const ids = batch.map((r) => r.id);
    const versions = mirrors === index ? await mirroredVersions(sql, dataset.name, ids) : await storedVersions(es, index, ids);
    for (const record of batch) {
      const stored = versions.get(record.id);
      if (stored === record.version) tally(job, output, "unchanged", record.id);
      else if (await output.write(record)) tally(job, output, stored === undefined ? "new" : "updated", record.id);
    }
    progress.tick(batch.length);
    collect(batch.length);
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
  await output.finishWrites();
  await applyDeletions(session, job, output, deletions, before, options);
  return next;
}

/** The deletion gate, then the deletions, a batch at a time. */
export async function applyDeletions(session: Session, job: JobHandle, output: PassOutput, deletions: DeletionList, before: number, options: SyncOptions): Promise<void> {
  await deletions.flush();
  const { dataset, signal } = session;
  output.decided?.(deletions.count, before);
  if (deletions.count === 0) return;
  const fraction = dataset.sync.maxDeleteFraction;
  if (deletions.count > fraction * before && !options.force) {
    const share = before ? ` (${((deletions.count / before) * 100).toFixed(1)}%)` : "";
    await output.refused(new SluiceError(`sync of ${dataset.name} would delete ${deletions.count.toLocaleString("en-US")} of ${before.toLocaleString("en-US")} documents${share}, more than sync.maxDeleteFraction ${fraction}; deleted nothing and kept the cursor`, {
      hint: `check the source (a truncated export or a wrong filter?); if these deletions are right, run \`sluice sync ${dataset.name} --force\``,
    }));
    return;
  }
  job.setTask(`deleting ${deletions.count.toLocaleString("en-US")} documents that left the source`, 90);
  for await (const ids of deletions.batches()) {
    const result = await output.deleteIds(ids);
    bump(job, "deleted", result.deleted);
    if (result.absent) countReason(job.counters, "skipped", "already_absent", result.absent);
    for (const [reason, n] of Object.entries(result.failed)) countReason(job.counters, "failed", `delete_${reason}`, n);
    throwIfAborted(signal);
  }
}

/** File, module and registry sources: an index-only first generation, loaded from the source and aliased. */
export async function firstIndexOnly(session: Session, job: JobHandle, es: SearchClient, source: Source, report: SyncReport, configHash: string): Promise<SyncReport> {
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
    await clearMirror(sql, dataset.name);
    await writeEveryRecord(session, job, es, index, source, "new", progress);
    await promoteIndexOnlyGeneration(session, es, generation, index, job.counters.written);
  } catch (error) {
    await discardIndexOnlyGeneration(session, es, generation);
    throw error;
  }
  await commitSyncState(sql, dataset.name, { cursor, sourceState: stateBefore, job: job.job.id, mode: "full", mirror: { index: failedAny(job) ? null : index, base: "table" } });
  job.setTask(`generation ${generation.number} of ${dataset.name} is live (index-only, built by sync)`, 100);
  return report;
}

/** Writes every record the source yields (after the sync rules) into `index`, counting each written one as `counted`; ends the progress display. */
async function writeEveryRecord(
  session: Session,
  job: JobHandle,
  es: SearchClient,
  index: string,
  source: Source,
  counted: "new" | "updated",
  progress: ReturnType<typeof startProgress>,
): Promise<LiveOutput> {
  const output = new LiveOutput(session, job, es, index, true);
  let n = 0;
  const collect = periodicCollector();
  for await (const record of included(session, job, source.docs(session.signal))) {
    if (await output.write(record)) bump(job, counted);
    if (++n % 1000 === 0) {
      collect();
      progress.tick(1000);
      throwIfAborted(session.signal);
    }
  }
  progress.stop();
  await output.finishWrites();
  return output;
}
