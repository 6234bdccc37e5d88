/**
 * `sluice sync <dataset> --dry-run`: the source and the live index read exactly as the real sync
 * reads them (same mode choice, rules, versions, reconcile, deletion gate), classified without a
 * writer. Nothing is left behind: no document written or deleted, no mapping change, no cursor, no
 * job row, no generation; the dataset's lock is held only while the plan is made.
 *
 *   full         source ⋈ index (stamped ids; every id when run built the index) → new / updated / unchanged / deleted
 *   incremental  deletedSince + docsSince(cursor) → versions by mget → new / updated / unchanged; deletions by mget
 *   first        no live index: every included record is new (the first generation's own gates are not run)
 *
 * The sorting goes through the sync scratch tables under a negative job id that no job has, cleared
 * at the end. What only writing can tell (Elasticsearch rejecting a document) is not predicted.
 */
import type { SearchClient } from "../../adapters/elasticsearch.ts";
import { aliasTargets, countDocuments } from "../../adapters/elasticsearch.ts";
import { countReason, type Counters, emptyCounters } from "../../jobs/counters.ts";
import { SluiceError } from "../../errors.ts";
import { assertOwned, indexOwner } from "../../generations/owned-indices.ts";
import type { Source, SourceRecord, SourceState } from "../../sources/types.ts";
import type { JobHandle } from "../job-runner.ts";
import { type Session, throwIfAborted } from "../session.ts";
import { idsNotWrittenBy, indexEntryPages, storedVersions, unstampedDocuments } from "./live-index.ts";
import { included, NO_BLOBS } from "./passes.ts";
import { type IndexEntry, reconcile } from "./reconcile.ts";
import { compileRules } from "./rules.ts";
import { clearJobScratch, DeletionList, sortedIndexEntries, sortedThroughPostgres } from "./scratch.ts";
import { readSyncState } from "./sync-state.ts";
import { type SyncOptions, syncConfigHash, withSyncSession } from "./sync-stage.ts";
import { builderHash, documentsOf, storedVersion } from "./writer.ts";

const SAMPLE = 10;
const BATCH = 500;

export interface SyncDryRunPlan {
  dryRun: true;
  command: "sync";
  dataset: string;
  /** What the real sync would run: a first build, full, incremental, or skip (source unchanged). */
  mode: "first" | "full" | "incremental" | "skipped";
  /** The live index, or null when there is none yet (a first build). */
  index: string | null;
  /** Documents in the live index now. */
  documents: number | null;
  /** read, skipped and failed by reason, and new / updated / deleted / unchanged, as the real job would count them. */
  counters: Counters;
  /** Up to ten ids of each kind. */
  sample: { new: string[]; updated: string[]; deleted: string[] };
  /** The deletion gate: would it refuse (no --force), and on what numbers. */
  gate: { maxDeleteFraction: number; deletions: number; documents: number; wouldRefuse: boolean };
  outcome: "would sync" | "would be refused" | "unchanged" | "would build a first generation";
  notes: string[];
}

export function planSyncDryRun(name: string | undefined, options: SyncOptions): Promise<SyncDryRunPlan> {
  return withSyncSession(name, options, (session, es, source) => plan(session, es, source, options));
}

/** Collects counts and samples; stands in for the job the real sync would create (it has no row). */
class Tally {
  readonly counters = emptyCounters();
  readonly sample = { new: [] as string[], updated: [] as string[], deleted: [] as string[] };

  constructor() {
    for (const key of ["new", "updated", "deleted", "unchanged"]) this.counters[key] = 0;
  }

  add(kind: "new" | "updated" | "deleted" | "unchanged", id: string): void {
    this.counters[kind] = (this.counters[kind] as number) + 1;
    if (kind !== "unchanged" && this.sample[kind].length < SAMPLE) this.sample[kind].push(id);
  }

  /** A record to be written: counted as the writer would (skipped when toDocument makes none, failed when several). */
  async write(session: Session, record: SourceRecord, kind: "new" | "updated"): Promise<boolean> {
    const documents = await documentsOf(session.dataset, record, NO_BLOBS);
    if (documents.length === 0) countReason(this.counters, "skipped", "not_indexable");
    else if (documents.length > 1) countReason(this.counters, "failed", "several_documents");
    else {
      this.counters.written++;
      this.add(kind, record.id);
      return true;
    }
    return false;
  }
}

async function plan(session: Session, es: SearchClient, source: Source, options: SyncOptions): Promise<SyncDryRunPlan> {
  const { sql, dataset, signal } = session;
  const tally = new Tally();
  // No job row: a negative id no job can have keys the scratch rows, which are cleared at the end.
  const scratchId = -(1 + Math.floor(Math.random() * 2 ** 48));
  const job = { job: { id: scratchId }, counters: tally.counters, setTask() {}, setPercent() {}, setGeneration() {} } as unknown as JobHandle;
  const result: SyncDryRunPlan = {
    dryRun: true,
    command: "sync",
    dataset: dataset.name,
    mode: "full",
    index: null,
    documents: null,
    counters: tally.counters,
    sample: tally.sample,
    gate: { maxDeleteFraction: dataset.sync.maxDeleteFraction, deletions: 0, documents: 0, wouldRefuse: false },
    outcome: "would sync",
    notes: ["documents Elasticsearch would reject are found only by writing them; the real sync counts them as failed"],
  };
  try {
    await source.ping();
    const alias = dataset.index!.alias;
    const targets = await aliasTargets(es, alias);
    const stored = await readSyncState(sql, dataset.name);
    if (targets.length === 0) {
      result.mode = "first";
      result.outcome = "would build a first generation";
      for await (const record of included(session, job, source.docs(signal))) await tally.write(session, record, "new");
      if (dataset.sync.source === null) result.notes.push(`the first generation goes through refresh, index and swap: \`sluice run ${dataset.name} --dry-run\` shows their gates`);
      return result;
    }
    const previous = stored?.sourceState as { source?: SourceState; config?: string } | null | undefined;
    if (options.mode === null && previous?.config === syncConfigHash(dataset) && !(await source.changed(previous.source ?? null))) {
      result.mode = "skipped";
      result.outcome = "unchanged";
      result.notes.push(`the source reports no change since job ${stored!.lastJob}; the sync would skip (--full reads it anyway)`);
      return result;
    }
    if (targets.length !== 1) {
      throw new SluiceError(`alias ${alias} points at ${targets.length} indices (${targets.join(", ")}); sync writes into one`, { hint: "fix the alias, or run `sluice run` to rebuild" });
    }
    const index = targets[0]!;
    result.index = index;
    await assertOwned(es, index, await indexOwner(sql, dataset.name), "replace", { movingAliases: [alias] });
    const before = await countDocuments(es, index);
    result.documents = before;
    let mode = options.mode ?? (stored?.cursor != null && source.docsSince ? "incremental" : "full");
    if (mode === "incremental" && !source.docsSince) {
      throw new SluiceError(`the source of dataset ${dataset.name} cannot be synced incrementally (it has no docsSince)`, { hint: `run \`sluice sync ${dataset.name} --full\`` });
    }
    if (mode === "incremental" && stored?.cursor == null) {
      result.notes.push(`no stored cursor yet: the sync would run in full, which stores one`);
      mode = "full";
    }
    result.mode = mode;
    const deletions = new DeletionList(sql, dataset.name, scratchId);
    if (mode === "full") await planFull(session, job, tally, es, index, source, deletions);
    else await planIncremental(session, job, tally, es, index, source, stored!.cursor!, deletions);
    await deletions.flush();
    const wouldRefuse = deletions.count > dataset.sync.maxDeleteFraction * before && !options.force;
    result.gate = { maxDeleteFraction: dataset.sync.maxDeleteFraction, deletions: deletions.count, documents: before, wouldRefuse };
    if (wouldRefuse) {
      result.outcome = "would be refused";
      return result;
    }
    // As applyDeletions counts them: an id the index no longer holds is skipped, not deleted.
    for await (const ids of deletions.batches()) {
      const present = await storedVersions(es, index, ids);
      for (const id of ids) {
        if (present.has(id)) tally.add("deleted", id);
        else countReason(tally.counters, "skipped", "already_absent");
      }
      throwIfAborted(signal);
    }
    return result;
  } finally {
    await clearJobScratch(sql, scratchId).catch(() => {});
  }
}

async function planFull(session: Session, job: JobHandle, tally: Tally, es: SearchClient, index: string, source: Source, deletions: DeletionList): Promise<void> {
  const { sql, dataset, signal } = session;
  const records = included(session, job, source.docs(signal));
  const sorted = source.ordered ? records : sortedThroughPostgres(sql, dataset.name, job.job.id, records);
  // An index built by `run` is rewritten whole (every record counts as updated) and then loses every
  // document the source did not give: reconciled against every id, stamped or not.
  const restamp = (await unstampedDocuments(es, index)) > 0;
  const entries = restamp ? everyId(es, index, signal) : indexEntryPages(es, index, signal);
  for await (const step of reconcile(sorted, sortedIndexEntries(sql, dataset.name, job.job.id, entries))) {
    if (step.kind === "vanished") await deletions.add(step.id);
    else if (step.kind === "unchanged") tally.add("unchanged", step.id);
    else if (!(await tally.write(session, step.record, restamp || step.kind === "changed" ? "updated" : "new")) && restamp && step.kind === "changed") {
      // The restamp pass deletes what it did not write, a document whose record now makes none included.
      await deletions.add(step.record.id);
    }
  }
}

/** Every id of the index, stamped or not, as entries without a version (the restamp pass's view). */
async function* everyId(es: SearchClient, index: string, signal: AbortSignal): AsyncGenerator<IndexEntry[]> {
  let page: IndexEntry[] = [];
  // No job has id 0, so "not written by job 0" is every document.
  for await (const id of idsNotWrittenBy(es, index, 0, signal)) {
    page.push({ id, version: null });
    if (page.length >= 10_000) {
      yield page;
      page = [];
    }
  }
  if (page.length) yield page;
}

async function planIncremental(session: Session, job: JobHandle, tally: Tally, es: SearchClient, index: string, source: Source, cursor: string, deletions: DeletionList): Promise<void> {
  const { dataset, signal } = session;
  if (source.deletedSince) for await (const id of source.deletedSince(cursor, signal)) await deletions.add(id);
  const verdict = compileRules(dataset.sync.rules);
  const builder = builderHash(dataset);
  let batch: SourceRecord[] = [];
  const flush = async () => {
    if (!batch.length) return;
    const versions = await storedVersions(es, index, batch.map((r) => r.id));
    for (const record of batch) {
      const stored = versions.get(record.id);
      if (stored === record.version) tally.add("unchanged", record.id);
      else await tally.write(session, record, stored === undefined ? "new" : "updated");
    }
    batch = [];
    throwIfAborted(signal);
  };
  for await (const record of source.docsSince!(cursor, signal)) {
    job.counters.read++;
    if (!verdict(record.doc).included) {
      countReason(job.counters, "skipped", "excluded_by_rule");
      await deletions.add(record.id);
      continue;
    }
    batch.push(storedVersion(record, builder));
    if (batch.length >= BATCH) await flush();
  }
  await flush();
}
