/**
 * What the dataset commands call: `refresh`, `index`, `swap` (and `--rollback`), and `run`, which
 * chains them. Each opens a session (lock, schema check), does its steps, and on failure or a
 * signal throws away what it built, so production is exactly as before.
 *
 *   run:  [resume?] refresh → [unchanged? stop] → index → swap   failure anywhere → discard generation, rethrow
 *   registry datasets: refresh → reload → validate → index → swap; a resumed run skips the stages
 *   that already succeeded for the generation
 *
 * A pending generation is resumed only when it was built from this configuration (its
 * fingerprint); a swap refused by its gates keeps the generation ready for `swap --force`.
 */
import type { SearchClient } from "../adapters/elasticsearch.ts";
import { SluiceError } from "../errors.ts";
import { runCounters } from "../jobs/counters.ts";
import { datasetFingerprint, shortFingerprint } from "../generations/fingerprint.ts";
import { generationIndices, generationTable } from "../generations/names.ts";
import { type Generation, generationsIn, liveGeneration, mergeGenerationStats, pendingGeneration, rowsReadBySucceededStage, stageSucceeded, tableExists } from "../generations/store.ts";
import { discardGeneration } from "./discard.ts";
import { runAsJob } from "./job-runner.ts";
import { openSession, type Session, type SessionOptions } from "./session.ts";
import type { ReloadOptions } from "./reload/reload.ts";
import { indexStep, openSearchFor, refreshStep, reloadStep, type StepResult, swapStep, validateStep } from "./steps.ts";
import type { LiveDiff } from "./refresh/staging-sql.ts";
import { type DryRunPlan, planDryRun } from "./plan/dry-run.ts";
import { diffGeneration, type GenerationDiff } from "./plan/generation-diff.ts";
import { diffSummaryLines } from "./plan/diff-summary.ts";
import { repairSwap } from "./swap/repair.ts";
import { refuseUnsupportedScaleOut, type ScaleOutOptions } from "./scale-out/coordinator.ts";
import { refuseWhileSplit, rollbackToPrevious, SwapRefusedError } from "./swap/swap-stage.ts";

export interface StageReport {
  dataset: string;
  generation: number | null;
  steps: StepResult[];
  /** `run` only: "unchanged" when refresh found nothing new, changed or removed against live, so nothing was indexed or swapped. */
  outcome?: "promoted" | "unchanged";
  /** Set when outcome is "unchanged": the live generation that stays, and what refresh compared. */
  unchanged?: { live: number; changes: LiveDiff };
  /** `run`: the generation beside live just before the swap, as `sluice diff` shows it (logged then). */
  beforeSwap?: GenerationDiff;
  /** `swap --repair`: what was done. */
  repaired?: string;
}

async function withSession<T>(command: string, dataset: string | undefined, options: SessionOptions, work: (s: Session, es: SearchClient | null) => Promise<T>): Promise<T> {
  const session = await openSession(command, dataset, options);
  let es: SearchClient | null = null;
  try {
    es = await openSearchFor(session);
    return await work(session, es);
  } finally {
    await es?.close().catch(() => {});
    await session.close();
  }
}

export function refreshDataset(dataset: string | undefined, options: SessionOptions): Promise<StageReport> {
  return withSession("refresh", dataset, options, async (session, es) => {
    // A new refresh replaces any generation that was built but never promoted.
    for (const stale of await generationsIn(session.sql, session.dataset.name, ["building", "ready"])) {
      await discardGeneration(session.sql, es, session.dataset, stale.number, session.log);
    }
    let generation: Generation | null = null;
    try {
      const { result } = await refreshStep(session, null, (g) => (generation = g));
      return { dataset: session.dataset.name, generation: result.generation, steps: [result] };
    } catch (error) {
      if (generation) await discardGeneration(session.sql, es, session.dataset, (generation as Generation).number, session.log);
      throw error;
    }
  });
}

export function indexDataset(dataset: string | undefined, options: SessionOptions & { scaleOut?: ScaleOutOptions | null }): Promise<StageReport> {
  return withSession("index", dataset, options, async (session, es) => {
    if (options.scaleOut) refuseUnsupportedScaleOut(session.dataset);
    const generation = await refreshedGeneration(session);
    try {
      const result = await indexStep(session, es!, generation, null, { scaleOut: options.scaleOut });
      return { dataset: session.dataset.name, generation: generation.number, steps: [result] };
    } catch (error) {
      // Keep staging so that the index stage can be retried on its own.
      await discardGeneration(session.sql, es, session.dataset, generation.number, session.log, { keepTable: true });
      throw error;
    }
  });
}

export function reloadDataset(dataset: string | undefined, options: SessionOptions & ReloadOptions): Promise<StageReport> {
  return withSession("reload", dataset, options, async (session) => {
    requirePayloads(session);
    const generation = await refreshedGeneration(session, "reloaded");
    // On failure staging is kept: what was downloaded stays recorded, and reload picks up the rest.
    const result = await reloadStep(session, generation, null, { retryErrors: options.retryErrors });
    return { dataset: session.dataset.name, generation: generation.number, steps: [result] };
  });
}

export function validateDataset(dataset: string | undefined, options: SessionOptions): Promise<StageReport> {
  return withSession("validate", dataset, options, async (session) => {
    requirePayloads(session);
    const generation = await refreshedGeneration(session, "validated");
    const result = await validateStep(session, generation, null);
    return { dataset: session.dataset.name, generation: generation.number, steps: [result] };
  });
}

function requirePayloads(session: Session): void {
  if (session.dataset.source.kind !== "registry") {
    throw new SluiceError(`dataset ${session.dataset.name} has no payloads to download or validate`, {
      hint: "reload and validate are for registry datasets (source kind registry), such as iati",
    });
  }
}

export interface SwapCommandOptions extends SessionOptions {
  force: boolean;
  keep?: number | undefined;
  rollback: boolean;
  /** Bring table, alias and generations back onto one generation after an interrupted swap. */
  repair?: boolean;
}

export function swapDataset(dataset: string | undefined, options: SwapCommandOptions): Promise<StageReport> {
  const command = options.repair ? "repair" : options.rollback ? "rollback" : "swap";
  return withSession(command, dataset, options, async (session, es) => {
    const keep = options.keep ?? session.dataset.swap.keep;
    if (options.repair) {
      let report: StageReport = { dataset: session.dataset.name, generation: null, steps: [] };
      await runAsJob(session, { stage: "repair", publishes: true }, async (job) => {
        const result = await repairSwap(session, job, es);
        report = { ...report, generation: result.generation, repaired: result.done };
        if (result.generation !== null) report.steps.push({ job: job.job.id, stage: "repair", generation: result.generation, counters: job.counters });
      });
      return report;
    }
    if (options.rollback) {
      let generation = 0;
      const steps: StepResult[] = [];
      await runAsJob(session, { stage: "rollback", publishes: true }, async (job) => {
        generation = (await rollbackToPrevious(session, job, es)).number;
        steps.push({ job: job.job.id, stage: "rollback", generation, counters: job.counters });
      });
      return { dataset: session.dataset.name, generation, steps };
    }
    const generation = await readyGeneration(session);
    const result = await swapStep(session, es, generation, null, { force: options.force, keep, configPath: options.config });
    return { dataset: session.dataset.name, generation: generation.number, steps: [result] };
  });
}

export interface RunOptions extends SessionOptions {
  force?: boolean;
  /** Index and swap even when refresh found nothing changed against live. */
  rebuild?: boolean;
  /** Registry datasets: retry rows whose download failed before. */
  retryErrors?: boolean;
  /** Index with workers sharing leased key ranges (stages/scale-out). */
  scaleOut?: ScaleOutOptions | null;
}

export function runDataset(dataset: string | undefined, options: RunOptions): Promise<StageReport> {
  return withSession("run", dataset, options, async (session, es) => {
    const { sql, dataset: ds, log, slack } = session;
    const steps: StepResult[] = [];
    await refuseWhileSplit(session);
    if (options.scaleOut && es) refuseUnsupportedScaleOut(ds);
    let generation: Generation | null = await resumableGeneration(session, es);
    let unchanged: StageReport["unchanged"];
    let beforeSwap: GenerationDiff | undefined;
    slack.notify(`run ${ds.name} started${generation ? ` (resuming generation ${generation.number})` : ""}`);
    let stage = "refresh";
    try {
      await runAsJob(session, { stage: "run", generation: generation?.number ?? null, publishes: true }, async (run) => {
        if (generation) log.info(`resuming generation ${generation.number}: refresh already succeeded`);
        else {
          const refreshed = await refreshStep(session, run.job.id, (g) => {
            generation = g;
            run.setGeneration(g.number);
          });
          steps.push(refreshed.result);
        }
        const gen = generation!;
        run.setGeneration(gen.number);
        run.counters.read = steps[0]?.counters.read ?? (await rowsReadBySucceededStage(sql, ds.name, gen.number, "refresh"));
        if (!options.rebuild) {
          unchanged = await unchangedAgainstLive(session, gen, steps[0]);
          if (unchanged) {
            const { changes, live } = unchanged;
            // Nothing reaches production, but the refresh's skipped and failed rows are still the run's.
            Object.assign(run.counters, runCounters(steps, run.counters.read), { written: 0 });
            run.counters.changes = { ...changes };
            run.setTask(`unchanged: refresh found 0 new, 0 changed, 0 removed rows against live generation ${live}; nothing to index or swap (--rebuild builds anyway)`, 100);
            await discardGeneration(sql, es, ds, gen.number, log);
            await mergeGenerationStats(sql, ds.name, gen.number, { outcome: "unchanged", comparedWithLive: live });
            return;
          }
        }
        if (ds.source.kind === "registry") {
          for (const payloadStage of ["reload", "validate"] as const) {
            stage = payloadStage;
            if (await stageSucceeded(sql, ds.name, gen.number, payloadStage)) log.info(`generation ${gen.number}: ${payloadStage} already succeeded`);
            else if (payloadStage === "reload") steps.push(await reloadStep(session, gen, run.job.id, { retryErrors: Boolean(options.retryErrors) }));
            else steps.push(await validateStep(session, gen, run.job.id));
          }
        }
        if (es) {
          stage = "index";
          if (await indexedAlready(session, es, gen)) log.info(`generation ${gen.number} is already indexed`);
          else steps.push(await indexStep(session, es, gen, run.job.id, { scaleOut: options.scaleOut }));
        }
        stage = "swap";
        const fresh = (await generationsIn(sql, ds.name, ["ready"])).find((g) => g.number === gen.number) ?? gen;
        // What is about to go live, beside what is live, before the alias moves (as `sluice diff` prints it).
        // Information only: a diff that cannot be made (say, swap.diffBy names no field) stops nothing.
        beforeSwap = await diffGeneration(sql, es, ds, { generation: gen.number, by: ds.swap.diffBy ?? undefined }).catch((error: Error) => {
          log.warn(`no diff before the swap: ${error instanceof SluiceError ? error.toLine() : error.message}`);
          return undefined;
        });
        for (const line of beforeSwap ? diffSummaryLines(beforeSwap) : []) log.info(line);
        steps.push(await swapStep(session, es, fresh, run.job.id, { force: Boolean(options.force), keep: ds.swap.keep, configPath: options.config }));
        // The run's own job carries its stages' skipped and failed rows, not zeros.
        Object.assign(run.counters, runCounters(steps, run.counters.read));
      });
      const number = generation ? (generation as Generation).number : null;
      if (unchanged) {
        slack.notify(`run ${ds.name}: unchanged against live generation ${unchanged.live}; nothing indexed or swapped`);
        return { dataset: ds.name, generation: unchanged.live, steps, outcome: "unchanged", unchanged };
      }
      return { dataset: ds.name, generation: number, steps, outcome: "promoted", ...(beforeSwap ? { beforeSwap } : {}) };
    } catch (error) {
      const message = error instanceof SluiceError ? error.toLine() : (error as Error).message;
      // Once the swap has begun, its own outcome says what production serves (undone, done, or split
      // with the repair named): say so rather than "untouched".
      const untouched = stage !== "swap" || error instanceof SwapRefusedError;
      slack.notify(`run ${ds.name} FAILED at ${stage}: ${message}. ${untouched ? "Production untouched." : "See `sluice status` for what production serves."}`);
      // A refused swap keeps its generation ready, so that the advice it printed can be followed; a
      // generation the swap made live, or left split, is kept by discardGeneration itself.
      if (generation && !(error instanceof SwapRefusedError)) await discardGeneration(sql, es, ds, (generation as Generation).number, log).catch((e) => log.error(`clean-up failed: ${(e as Error).message}`));
      throw error;
    }
  });
}

/** A generation left by a crashed run whose refresh had finished: the run picks it up there. */
async function resumableGeneration(session: Session, es: SearchClient | null): Promise<Generation | null> {
  const { sql, dataset, log } = session;
  const pending = await pendingGeneration(sql, dataset.name);
  if (!pending) return null;
  if (pending.stats.swapRefused) {
    log.warn(`generation ${pending.number} was refused by the swap gates and not forced; discarding it and starting clean (\`sluice swap ${dataset.name} --force\` promotes it instead)`);
    await discardGeneration(sql, es, dataset, pending.number, log);
    return null;
  }
  const fingerprint = datasetFingerprint(dataset);
  if (pending.fingerprint !== fingerprint) {
    const why = `built from another configuration (fingerprint ${shortFingerprint(pending.fingerprint)}, this one ${shortFingerprint(fingerprint)})`;
    log.warn(`generation ${pending.number} was ${why}; discarding it and starting clean`);
    await discardGeneration(sql, es, dataset, pending.number, log);
    await mergeGenerationStats(sql, dataset.name, pending.number, { discardedBecause: why });
    return null;
  }
  const refreshed = await stageSucceeded(sql, dataset.name, pending.number, "refresh");
  if (refreshed && (await tableExists(sql, generationTable(dataset, pending.number)))) return pending;
  log.warn(`generation ${pending.number} was left half-built by an earlier run; discarding it`);
  await discardGeneration(sql, es, dataset, pending.number, log);
  return null;
}

async function indexedAlready(session: Session, es: SearchClient, generation: Generation): Promise<boolean> {
  if (!(await stageSucceeded(session.sql, session.dataset.name, generation.number, "index"))) return false;
  for (const t of generationIndices(session.dataset, generation.number)) {
    if (!(await es.indices.exists({ index: t.index }))) return false;
  }
  return true;
}

async function refreshedGeneration(session: Session, next = "indexed"): Promise<Generation> {
  const { sql, dataset } = session;
  const pending = await pendingGeneration(sql, dataset.name);
  if (pending && (await stageSucceeded(sql, dataset.name, pending.number, "refresh")) && (await tableExists(sql, pending.tableName))) {
    const fingerprint = datasetFingerprint(dataset);
    if (pending.fingerprint === fingerprint) return pending;
    throw new SluiceError(
      `generation ${pending.number} of ${dataset.name} was refreshed from another configuration (fingerprint ${shortFingerprint(pending.fingerprint)}, this one ${shortFingerprint(fingerprint)}), so it is not ${next} under this one`,
      { hint: `run \`sluice refresh ${dataset.name}\` to rebuild it from this configuration, or pass the --config it was refreshed with` },
    );
  }
  throw new SluiceError(`dataset ${dataset.name} has no refreshed generation waiting to be ${next}`, { hint: `run \`sluice refresh ${dataset.name}\` first` });
}

async function readyGeneration(session: Session): Promise<Generation> {
  const { sql, dataset } = session;
  const [ready] = await generationsIn(sql, dataset.name, ["ready"]);
  if (ready && (await tableExists(sql, ready.tableName))) return ready;
  const next = dataset.index ? `sluice index ${dataset.name}` : `sluice refresh ${dataset.name}`;
  throw new SluiceError(`dataset ${dataset.name} has no generation ready to swap`, { hint: `run \`${next}\` first` });
}

/**
 * For a table dataset: the live generation and refresh's comparison with it, when refresh found no
 * new, changed or removed row and live was built from this same configuration; otherwise null.
 * Registry datasets are not checked: with an unchanged listing, reload and validate may still
 * change rows (retried downloads, an unflagged publisher's documents).
 */
async function unchangedAgainstLive(session: Session, generation: Generation, refreshed: StepResult | undefined): Promise<StageReport["unchanged"]> {
  const { sql, dataset } = session;
  if (dataset.source.kind !== "postgres") return undefined;
  const live = await liveGeneration(sql, dataset.name);
  if (!live || live.fingerprint === null || live.fingerprint !== generation.fingerprint) return undefined;
  const changes = (refreshed?.counters.changes ?? (await refreshChanges(session, generation.number))) as Partial<LiveDiff> | undefined;
  if (!changes || [changes.new, changes.changed, changes.removed].some((n) => typeof n !== "number" || n !== 0)) return undefined;
  return { live: live.number, changes: changes as LiveDiff };
}

/** What the succeeded refresh of a generation counted against live (for a resumed run). */
async function refreshChanges(session: Session, generation: number): Promise<LiveDiff | undefined> {
  const [row] = await session.sql`
    select counters->'changes' as changes from sluice.jobs
    where dataset = ${session.dataset.name} and generation = ${generation} and stage = 'refresh' and state = 'succeeded'
    order by id desc limit 1`;
  return (row?.changes as LiveDiff | null) ?? undefined;
}

/** `refresh --dry-run` / `run --dry-run`: what the command would do, leaving nothing behind (plan/dry-run.ts). */
export function dryRunDataset(dataset: string | undefined, options: SessionOptions & { rebuild?: boolean }, command: "refresh" | "run"): Promise<DryRunPlan> {
  return withSession(command, dataset, options, (session, es) => planDryRun(session, es, command, { rebuild: Boolean(options.rebuild) }));
}
