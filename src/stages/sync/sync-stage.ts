/**
 * `sluice sync <dataset>`: keeps the dataset's live index in step with its source, in place, as
 * Elastic's connectors do — the one deliberate exception to "build a new generation".
 *
 *   no live index      → first generation (first-build.ts), its documents stamped as they are written
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
import { aliasTargets, searchError, whileReachable } from "../../adapters/elasticsearch.ts";
import { databaseFailure, isDatabaseFailure } from "../../adapters/postgres.ts";
import type { Dataset } from "../../config/types.ts";
import { ConfigError, SluiceError } from "../../errors.ts";
import { assertOwned, indexOwner } from "../../generations/owned-indices.ts";
import { liveGeneration } from "../../generations/store.ts";
import { summarizeCounters } from "../../jobs/counters.ts";
import { openSyncSource } from "../../sources/open.ts";
import type { Source, SourceState } from "../../sources/types.ts";
import { requireIndexConfig } from "../index/build-index.ts";
import { type JobHandle, runAsJob } from "../job-runner.ts";
import { openSession, type Session, type SessionOptions } from "../session.ts";
import { openSearchFor } from "../steps.ts";
import { refuseWhileSplit } from "../swap/swap-stage.ts";
import { firstGenerationThroughStages } from "./first-build.ts";
import { ensureSyncFields, unstampedDocuments } from "./live-index.ts";
import { failedAny, firstIndexOnly, incremental, mergeFull, restampFull } from "./passes.ts";
import { LiveOutput } from "./output.ts";
import { clearMirror, type MirrorUpdate, suspendMirror } from "./versions-mirror.ts";
import { clearJobScratch, sweepScratch } from "./scratch.ts";
import { commitSyncState, readSyncState } from "./sync-state.ts";
import { builderHash } from "./writer.ts";

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

const SEARCH_ERRORS = new Set(["ConnectionError", "TimeoutError", "ResponseError", "NoLivingConnectionsError", "DeserializationError"]);

/**
 * Opens what a sync (or its dry run) works on, after the refusals both make: a session under the
 * dataset's lock, its live index's engine and its source. `work` runs inside; all three are closed.
 */
export async function withSyncSession<T>(
  name: string | undefined,
  options: SyncOptions,
  work: (session: Session, es: SearchClient, source: Source) => Promise<T>,
  onError?: (session: Session, error: unknown) => void,
): Promise<T> {
  const session = await openSession("sync", name, options);
  let es: SearchClient | null = null;
  let source: Source | null = null;
  try {
    const config = requireIndexConfig(session.dataset);
    if (config.children.length) {
      throw new SluiceError(`dataset ${session.dataset.name} has child indices, which sync does not keep`, { hint: "use `sluice run` for this dataset" });
    }
    refuseRefreshOnlyRules(session.dataset);
    es = await openSearchFor(session);
    if (es!.engine.product === "opensearch") {
      // Refused before anything is read or written, rather than part-way at the first full sync that needs the index's ids.
      throw new SluiceError(`sync is not supported on OpenSearch yet: a full sync reads the live index through Elasticsearch's point in time sorted by _shard_doc, which OpenSearch lacks; nothing was read or written`, {
        hint: `point ELASTICSEARCH_URL at Elasticsearch 8 to sync, or keep ${session.dataset.name} fresh with \`sluice run ${session.dataset.name}\``,
      });
    }
    await refuseWhileSplit(session);
    source = await openSyncSource(session.dataset, session.env);
    return await work(session, es!, source);
  } catch (error) {
    const failure = syncFailure(session, error);
    onError?.(session, failure);
    throw failure;
  } finally {
    await source?.close?.().catch(() => {});
    await es?.close().catch(() => {});
    await session.close();
  }
}

export function syncDataset(name: string | undefined, options: SyncOptions): Promise<SyncReport> {
  return withSyncSession(
    name,
    options,
    async (session, es, source) => {
      const report = await runAsJob(session, { stage: "sync" }, (job) => syncJob(session, job, es, source, options));
      if (report.mode !== "skipped") session.slack.notify(`sync ${report.dataset} (${report.mode}) succeeded: ${summarizeCounters(report.counters)}`);
      return report;
    },
    (session, error) => {
      const message = error instanceof SluiceError ? error.toLine() : (error as Error)?.message ?? String(error);
      session.slack.notify(`sync ${session.dataset.name} FAILED: ${message}`);
    },
  );
}

/**
 * Once a sync writes into the live index, production holds part of its changes when it fails, so a
 * hint saying "production is untouched" (an interrupt's, a lost connection's) is replaced.
 */
const WROTE_LIVE_HINT =
  "this sync had begun writing into the live index, which may hold part of its changes; its stored cursor was kept, so the next sync writes them again (run it once the cause is gone)";

function syncFailure(session: Session, error: unknown, wroteLive = false): unknown {
  const failure = namedSyncFailure(session, error);
  return wroteLive && failure instanceof SluiceError && /untouched/.test(failure.hint ?? "") ? failure.withHint(WROTE_LIVE_HINT) : failure;
}

/** A driver's error as one line naming the service it came from; sluice's own errors pass as they are. */
function namedSyncFailure(session: Session, error: unknown): unknown {
  if (error instanceof SluiceError || session.signal.aborted) return error;
  const name = session.dataset.name;
  if (isDatabaseFailure(error)) return databaseFailure(error, session.env.databaseUrl ?? "", "DATABASE_URL", `sync ${name}`);
  // The Elasticsearch client's errors (a cut connection after every retry, a refusal) name ELASTICSEARCH_URL.
  if (SEARCH_ERRORS.has((error as Error)?.name)) return searchError(error, session.env.elasticsearchUrl ?? "", `sync ${name} into`);
  return error;
}

/**
 * Refresh cleans rows and leaves out moderated ones before anything is indexed; sync reads the source
 * directly and applies neither yet, so it refuses such a dataset rather than publish uncleaned or
 * moderated rows into the live index.
 */
export function refuseRefreshOnlyRules(dataset: Dataset): void {
  const rules = [
    dataset.clean.tags ? "clean.tags" : null,
    dataset.clean.urlColumns.length ? "clean.urlColumns" : null,
    dataset.table.deletedTable ? "table.deletedTable" : null,
  ].filter((r): r is string => r !== null);
  if (rules.length === 0) return;
  throw new ConfigError(
    `dataset ${dataset.name} sets ${rules.join(", ")}, which refresh applies and sync does not; sync refuses rather than publish uncleaned or moderated rows`,
    `keep it fresh with \`sluice run ${dataset.name}\`, or express the filter as sync.rules in a dataset without those keys`,
  );
}

/** What decides whether the source needs reading: the source's own state and sync's configuration. */
export function syncConfigHash(dataset: Dataset): string {
  return new Bun.CryptoHasher("sha256").update(JSON.stringify(dataset.sync.rules)).update(builderHash(dataset)).digest("hex").slice(0, 16);
}

async function syncJob(session: Session, job: JobHandle, es: SearchClient, source: Source, options: SyncOptions): Promise<SyncReport> {
  const { sql, dataset, log } = session;
  const report: SyncReport = { dataset: dataset.name, job: job.job.id, mode: "full", index: null, generation: null, counters: job.counters };
  let wroteLive = false;
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
        // Read before the build, so that what changes while it reads is picked up by the next sync.
        const stateBefore = { source: source.state ? await source.state() : {}, config: configHash };
        const cursor = source.cursor ? await source.cursor() : null;
        await clearMirror(sql, dataset.name);
        report.generation = await firstGenerationThroughStages(session, job, es, { force: options.force, configPath: options.config });
        targets = await aliasTargets(es, alias);
        report.index = targets.length === 1 ? targets[0]! : null;
        // Stamped as written (first-build.ts): the generation is already what a full sync makes.
        if (report.index && (await unstampedDocuments(es, report.index)) === 0) {
          for (const key of ["updated", "deleted", "unchanged"]) job.counters[key] ??= 0;
          await commitSyncState(sql, dataset.name, { cursor, sourceState: stateBefore, job: job.job.id, mode: "full", mirror: { index: failedAny(job) ? null : report.index, base: "table" } });
          job.setTask(`generation ${report.generation} of ${dataset.name} is live, built and stamped by sync${cursor !== null ? `; cursor ${cursor}` : ""}`, 100);
          return report;
        }
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
    wroteLive = true;

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
    let base: MirrorUpdate["base"];
    await suspendMirror(sql, dataset.name);
    if (mode === "full") {
      cursor = source.cursor ? await source.cursor() : null;
      const unstamped = await unstampedDocuments(es, index);
      if (unstamped > 0) {
        log.info(`${unstamped.toLocaleString("en-US")} documents of ${index} carry no sync version (built by run): writing every record once`);
        await restampFull(session, job, es, index, source, options);
        // Every document left in the index was written by this job and listed directly (restampFull deleted the rest).
        base = "table";
      } else {
        base = await mergeFull(session, job, es, index, source, options, stored?.versionsIndex ?? null, new LiveOutput(session, job, es, index));
      }
    } else {
      cursor = await incremental(session, job, es, index, source, stored!.cursor!, options, new LiveOutput(session, job, es, index), stored?.versionsIndex ?? null);
      base = "table";
    }
    await whileReachable(() => es.indices.refresh({ index }), session.signal);
    // An incremental sync keeps the table in step only if it already mirrored this index.
    const trusted = !failedAny(job) && (base !== "table" || mode === "full" || stored?.versionsIndex === index);
    await commitSyncState(sql, dataset.name, { cursor, sourceState: stateBefore, job: job.job.id, mode, mirror: { index: trusted ? index : null, base } });
    job.setTask(`synced ${dataset.name} (${mode})${cursor !== null ? `; cursor ${cursor}` : ""}`, 100);
    return report;
  } catch (error) {
    throw syncFailure(session, error, wroteLive);
  } finally {
    await clearJobScratch(sql, job.job.id).catch(() => {});
  }
}

