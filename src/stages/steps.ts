/**
 * The steps of a refresh cycle, each run as one job of its own: refresh → index → swap for a table,
 * refresh → reload → validate → index → swap for a registry. `run` chains them and the standalone
 * commands call one each; both get the same jobs, counters and generation bookkeeping.
 */
import { openConfiguredSearch, type SearchClient } from "../adapters/elasticsearch.ts";
import type { Dataset, IndexContext } from "../config/types.ts";
import { datasetBlobStore } from "../generations/dataset-blobs.ts";
import { summarizeCounters } from "../jobs/counters.ts";
import { tenthsOfSecond } from "../log/progress.ts";
import { type Generation, setGenerationState, startGeneration } from "../generations/store.ts";
import { buildIndexGeneration, type DocumentStamp } from "./index/build-index.ts";
import { buildIndexWithWorkers, type ScaleOutOptions } from "./scale-out/coordinator.ts";
import { clusterFitWarnings, fitDatasetToCluster } from "./index/cluster-fit.ts";
import { type JobHandle, runAsJob } from "./job-runner.ts";
import { checkPostgresRefresh, refreshFromPostgres } from "./refresh/postgres-refresh.ts";
import { refreshFromRegistry } from "./registry/refresh.ts";
// reload and validate are imported when their step runs: through the IATI modules they load
// libxml2-wasm (~35 MB of heap), which a postgres dataset's run or sync never uses.
import type { ReloadOptions } from "./reload/reload.ts";
import type { Session } from "./session.ts";
import { type SwapOptions, swapToGeneration } from "./swap/swap-stage.ts";

export interface StepResult {
  job: number;
  stage: string;
  generation: number;
  counters: JobHandle["counters"];
  /** What the operator must not miss, repeated in the summary (e.g. rows the refresh limit left out). */
  warnings?: string[];
}

/** Registry datasets read their payloads from the blob store; table datasets read none. */
async function indexContext(sql: Session["sql"], dataset: Dataset): Promise<IndexContext> {
  if (dataset.source.kind === "registry") {
    const store = await datasetBlobStore(sql, dataset.name);
    return { readBlob: (sha256) => store.read(sha256), readBlobStream: (sha256) => store.readStream(sha256) };
  }
  return {
    readBlob: async (sha256) => {
      throw new Error(`this dataset has no blob store to read payload ${sha256} from`);
    },
  };
}

/** The search client of a dataset with an index, once its index bodies are known to fit the cluster (or degraded, with a warning). */
export async function openSearchFor(session: Session): Promise<SearchClient | null> {
  if (!session.dataset.index) return null;
  const started = performance.now();
  const es = await openConfiguredSearch(session.env);
  const opened = performance.now();
  try {
    await fitDatasetToCluster(session, es);
  } catch (error) {
    await es.close().catch(() => {});
    throw error;
  }
  // Some bench rounds started work seconds late: this says whether Elasticsearch was slow to answer or
  // the wait came before it (performance.now() counts from the process's start).
  const answered = performance.now();
  session.log.debug(
    `Elasticsearch answered in ${tenthsOfSecond(answered - started)} (version and health ${tenthsOfSecond(opened - started)}, modules ${tenthsOfSecond(answered - opened)}), asked ${tenthsOfSecond(started)} after the process started`,
  );
  return es;
}

/** Starts a new generation and fills its staging table from the source. */
export async function refreshStep(session: Session, parentId: number | null, onGeneration?: (g: Generation) => void): Promise<{ generation: Generation; result: StepResult }> {
  // A configuration that cannot work fails here, before a generation or a job exists.
  if (session.dataset.source.kind === "postgres") await checkPostgresRefresh(session);
  const generation = await startGeneration(session.sql, session.dataset);
  onGeneration?.(generation);
  const warnings: string[] = [];
  const result = await stepJob(session, "refresh", generation, parentId, async (job) => {
    switch (session.dataset.source.kind) {
      case "postgres":
        warnings.push(...(await refreshFromPostgres(session, job, generation)).warnings);
        return;
      case "registry":
        await refreshFromRegistry(session, job, generation);
        return;
    }
  });
  // A registry generation is ready only once validated (see validateStep).
  if (!session.dataset.index && session.dataset.source.kind !== "registry") await setGenerationState(session.sql, session.dataset.name, generation.number, "ready");
  return { generation, result: warnings.length ? { ...result, warnings } : result };
}

/** `scaleOut`: leased ranges sent by workers (scale-out/); `stamp`: sync's fields on each document as it is written (sync's first build, single process). */
export async function indexStep(
  session: Session,
  es: SearchClient,
  generation: Generation,
  parentId: number | null,
  options: { scaleOut?: ScaleOutOptions | null; stamp?: DocumentStamp } = {},
): Promise<StepResult> {
  const { scaleOut, stamp } = options;
  const result = await stepJob(session, "index", generation, parentId, async (job) =>
    scaleOut ? buildIndexWithWorkers(session, job, es, generation, scaleOut) : buildIndexGeneration(session, job, es, generation, await indexContext(session.sql, session.dataset), stamp),
  );
  await setGenerationState(session.sql, session.dataset.name, generation.number, "ready");
  const warnings = clusterFitWarnings(session);
  return warnings.length ? { ...result, warnings } : result;
}

/** Downloads the payloads of a registry generation. Staging changes, so the generation must be indexed again. */
export async function reloadStep(session: Session, generation: Generation, parentId: number | null, options: ReloadOptions): Promise<StepResult> {
  await setGenerationState(session.sql, session.dataset.name, generation.number, "building");
  return stepJob(session, "reload", generation, parentId, async (job) => (await import("./reload/reload.ts")).reloadPayloads(session, job, generation, await datasetBlobStore(session.sql, session.dataset.name), options));
}

/** Validates the downloaded payloads of a registry generation; without an index, it is then ready to swap. */
export async function validateStep(session: Session, generation: Generation, parentId: number | null): Promise<StepResult> {
  await setGenerationState(session.sql, session.dataset.name, generation.number, "building");
  const result = await stepJob(session, "validate", generation, parentId, async (job) => (await import("./validate/validate.ts")).validatePayloads(session, job, generation, await datasetBlobStore(session.sql, session.dataset.name)));
  if (!session.dataset.index) await setGenerationState(session.sql, session.dataset.name, generation.number, "ready");
  return result;
}

export async function swapStep(session: Session, es: SearchClient | null, generation: Generation, parentId: number | null, options: SwapOptions): Promise<StepResult> {
  return stepJob(session, "swap", generation, parentId, (job) => swapToGeneration(session, job, es, generation, options));
}

async function stepJob(session: Session, stage: string, generation: Generation, parentId: number | null, work: (job: JobHandle) => Promise<void>): Promise<StepResult> {
  const { dataset, slack } = session;
  let counters: JobHandle["counters"] | undefined;
  let jobId = 0;
  await runAsJob(session, { stage, generation: generation.number, parentId, publishes: stage === "swap" }, async (job) => {
    counters = job.counters;
    jobId = job.job.id;
    await work(job);
  });
  slack.notify(`${stage} ${dataset.name} generation ${generation.number} succeeded: ${summarizeCounters(counters!)}`);
  return { job: jobId, stage, generation: generation.number, counters: counters! };
}
