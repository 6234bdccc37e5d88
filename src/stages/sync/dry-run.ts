/**
 * `sluice sync <dataset> --dry-run`: the real sync's passes (passes.ts: mode choice, rules,
 * versions, reconcile, deletion gate) run with an output that records instead of writing
 * (RecordingOutput), so the plan and the sync cannot drift apart. Nothing is left behind: no document written or deleted, no mapping change, no cursor, no
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
import type { Session } from "../session.ts";
import { idsNotWrittenBy, storedVersions, unstampedDocuments } from "./live-index.ts";
import { applyDeletions, included, incremental, mergeFull } from "./passes.ts";
import { type DeleteOutcome, NO_BLOBS, type PassOutput } from "./output.ts";
import { type IndexEntry, reconcile } from "./reconcile.ts";
import { clearJobScratch, DeletionList, sortedIndexEntries, sortedThroughPostgres } from "./scratch.ts";
import { readSyncState } from "./sync-state.ts";
import { type SyncOptions, syncConfigHash, withSyncSession } from "./sync-stage.ts";
import { documentsOf } from "./writer.ts";

const SAMPLE = 10;

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

  /** Counts an id of a kind (the first build and the restamp plan, which count for themselves). */
  add(kind: "new" | "updated" | "deleted" | "unchanged", id: string): void {
    this.counters[kind] = (this.counters[kind] as number) + 1;
    this.note(kind, id);
  }

  note(kind: "new" | "updated" | "deleted" | "unchanged", id: string): void {
    if (kind !== "unchanged" && this.sample[kind].length < SAMPLE) this.sample[kind].push(id);
  }
}

/**
 * The output of a dry run's passes (the real sync's passes, passes.ts): a write is checked as the
 * writer would check it and counted, a deletion looked up in the index, the gate's refusal kept.
 */
class RecordingOutput implements PassOutput {
  refusal: SluiceError | null = null;
  gate = { deletions: 0, documents: 0 };

  constructor(
    private readonly session: Session,
    private readonly es: SearchClient,
    private readonly index: string | null,
    private readonly tally: Tally,
  ) {}

  async write(record: SourceRecord): Promise<boolean> {
    const documents = await documentsOf(this.session.dataset, record, NO_BLOBS);
    if (documents.length === 0) countReason(this.tally.counters, "skipped", "not_indexable");
    else if (documents.length > 1) countReason(this.tally.counters, "failed", "several_documents");
    else {
      this.tally.counters.written++;
      return true;
    }
    return false;
  }

  async finishWrites(): Promise<void> {}

  async refused(error: SluiceError): Promise<void> {
    this.refusal = error;
  }

  decided(deletions: number, documents: number): void {
    this.gate = { deletions, documents };
  }

  /** As the real deletion counts them: an id the index no longer holds is skipped, not deleted. */
  async deleteIds(ids: string[]): Promise<DeleteOutcome> {
    const present = await storedVersions(this.es, this.index!, ids);
    const held = ids.filter((id) => present.has(id));
    for (const id of held) this.tally.note("deleted", id);
    return { deleted: held.length, absent: ids.length - held.length, failed: {} };
  }

  counted(kind: "new" | "updated" | "deleted" | "unchanged", id: string): void {
    this.tally.note(kind, id);
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
      const output = new RecordingOutput(session, es, null, tally);
      for await (const record of included(session, job, source.docs(signal))) if (await output.write(record)) tally.add("new", record.id);
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
    const output = new RecordingOutput(session, es, index, tally);
    if (mode === "incremental") await incremental(session, job, es, index, source, stored!.cursor!, options, output, stored?.versionsIndex ?? null);
    else if ((await unstampedDocuments(es, index)) > 0) await planRestamp(session, job, tally, output, es, index, source, before, options);
    else await mergeFull(session, job, es, index, source, options, stored?.versionsIndex ?? null, output);
    result.gate = { maxDeleteFraction: dataset.sync.maxDeleteFraction, deletions: output.gate.deletions, documents: before, wouldRefuse: output.refusal !== null };
    if (output.refusal) result.outcome = "would be refused";
    return result;
  } finally {
    await clearJobScratch(sql, scratchId).catch(() => {});
  }
}

/**
 * An index built by `run` is rewritten whole by restampFull (every record counts as updated) and
 * then loses every document the source did not give; restampFull finds those by what it wrote,
 * which a dry run cannot, so here the source is reconciled against every id, stamped or not.
 */
async function planRestamp(session: Session, job: JobHandle, tally: Tally, output: RecordingOutput, es: SearchClient, index: string, source: Source, before: number, options: SyncOptions): Promise<void> {
  const { sql, dataset, signal } = session;
  const deletions = new DeletionList(sql, dataset.name, job.job.id);
  const records = included(session, job, source.docs(signal));
  const sorted = source.ordered ? records : sortedThroughPostgres(sql, dataset.name, job.job.id, records);
  for await (const step of reconcile(sorted, sortedIndexEntries(sql, dataset.name, job.job.id, everyId(es, index, signal)))) {
    if (step.kind === "vanished") await deletions.add(step.id);
    else if (step.kind === "unchanged") tally.add("unchanged", step.id);
    else if (await output.write(step.record)) tally.add("updated", step.record.id);
    // The restamp pass deletes what it did not write, a document whose record now makes none included.
    else if (step.kind === "changed") await deletions.add(step.record.id);
  }
  await applyDeletions(session, job, output, deletions, before, options);
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
