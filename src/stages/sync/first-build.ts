/**
 * A dataset with no live index gets its first one here, as a generation swapped in:
 *
 *   postgres source (the dataset's own): refresh → index → swap, the stages `run` chains, so the
 *     live table and the index start together. The index stage stamps each document with its sync
 *     fields as it writes it (syncStamp), with the version the source would give the same row, and
 *     leaves out what the sync rules exclude: the generation is what a full sync would have made,
 *     so no second pass rewrites it.
 *   file, module or registry source: no table to build, so the generation is index-only: `<alias>-gN` is
 *     created with sluice's ownership mark, loaded from the source, and the alias put on it.
 *
 * Either way a failure leaves nothing live behind: the generation is discarded, as a failed run's is.
 */
import type { SearchClient } from "../../adapters/elasticsearch.ts";
import { updateAliases, whileReachable } from "../../adapters/elasticsearch.ts";
import { generationIndices } from "../../generations/names.ts";
import { indexOwner } from "../../generations/owned-indices.ts";
import { markedMappings, markFor } from "../../generations/ownership.ts";
import { type Generation, mergeGenerationStats, setGenerationState, startGeneration } from "../../generations/store.ts";
import { discardGeneration } from "../discard.ts";
import type { JobHandle } from "../job-runner.ts";
import type { Session } from "../session.ts";
import { indexStep, refreshStep, swapStep } from "../steps.ts";
import { SwapRefusedError } from "../swap/swap-stage.ts";
import { SYNC_FIELDS } from "./live-index.ts";
import { servingSettings } from "../index/load-settings.ts";
import { createFreshIndex, type DocumentStamp } from "../index/build-index.ts";
import { countReason } from "../../jobs/counters.ts";
import { rowVersion } from "../../sources/postgres.ts";
import { compileRules } from "./rules.ts";
import { builderHash, storedVersionText } from "./writer.ts";
import { type VersionsSink, VersionsCopy } from "./versions-mirror.ts";

/**
 * The sync fields of a staging row's document, as the sync writer would stamp the same record
 * (id, storedVersion, job). A key whose text is not its JSON form (a numeric 1.50 is "1.50" to the
 * source but 1.5 here) is left unstamped, and the full sync that then follows stamps it.
 */
export function syncStamp(session: Session, job: JobHandle, written: VersionsSink): DocumentStamp {
  const { dataset } = session;
  const verdict = compileRules(dataset.sync.rules);
  const builder = builderHash(dataset);
  const key = dataset.table.key;
  return {
    properties: SYNC_FIELDS,
    fields(row, id) {
      if (!verdict(row).included) {
        countReason(job.counters, "skipped", "excluded_by_rule");
        return "leave out";
      }
      const value = row[key];
      if (String(value) !== id || !(typeof value === "string" || Number.isSafeInteger(value))) return null;
      const version = storedVersionText(rowVersion(row, dataset.sync.versionColumn), builder);
      written.push(id, version);
      return { _sluice_id: id, _sluice_version: version, _sluice_job: String(job.job.id) };
    },
  };
}

/** Builds and swaps in a generation through the existing stages (postgres datasets). Returns its number. */
export async function firstGenerationThroughStages(session: Session, job: JobHandle, es: SearchClient, options: { force: boolean; configPath: string | undefined }): Promise<number> {
  let generation: Generation | null = null;
  try {
    job.setTask(`no live index for ${session.dataset.name}: building its first generation (refresh, index, swap)`, 1);
    ({ generation } = await refreshStep(session, job.job.id, (g) => {
      generation = g;
      job.setGeneration(g.number);
    }));
    // The versions table is filled as the documents are stamped (clearMirror emptied it).
    const versions = await VersionsCopy.open(session.env.databaseUrl!, session.dataset.name);
    let indexed: Awaited<ReturnType<typeof indexStep>>;
    try {
      indexed = await indexStep(session, es, generation, job.job.id, { stamp: syncStamp(session, job, versions) });
      await versions.flush();
    } finally {
      await versions.discard();
    }
    for (const [reason, n] of Object.entries(indexed.counters.failed)) countReason(job.counters, "failed", reason, n);
    job.counters.read = indexed.counters.read;
    job.counters.new = indexed.counters.written;
    job.counters.written = indexed.counters.written;
    await swapStep(session, es, { ...generation, state: "ready" }, job.job.id, { force: options.force, keep: session.dataset.swap.keep, configPath: options.configPath });
    return generation.number;
  } catch (error) {
    const built = generation as Generation | null;
    if (built && !(error instanceof SwapRefusedError)) await discardGeneration(session.sql, es, session.dataset, built.number, session.log).catch(() => {});
    throw error;
  }
}

/** Creates generation N's index (index-only generations of file and module sources). */
export async function createIndexOnlyGeneration(session: Session, es: SearchClient): Promise<{ generation: Generation; index: string }> {
  const { sql, dataset } = session;
  const generation = await startGeneration(sql, dataset);
  const [target] = generationIndices(dataset, generation.number);
  const owner = await indexOwner(sql, dataset.name);
  const body = dataset.index!.body;
  const mappings = (body.mappings ?? {}) as { properties?: Record<string, unknown> };
  await createFreshIndex(es, target!.index, owner, generation.number, {
    // The replicas the index stage gives a body that names none (0), so that both builds serve alike.
    settings: { ...(body.settings ?? {}), number_of_replicas: servingSettings(body.settings).number_of_replicas },
    mappings: markedMappings({ ...mappings, properties: { ...(mappings.properties ?? {}), ...SYNC_FIELDS } }, markFor(owner, generation.number)),
  });
  return { generation, index: target!.index };
}

/** Puts the alias on a loaded index-only generation and records it live. */
export async function promoteIndexOnlyGeneration(session: Session, es: SearchClient, generation: Generation, index: string, documents: number): Promise<void> {
  const { sql, dataset } = session;
  await whileReachable(() => es.indices.refresh({ index }));
  await updateAliases(es, [{ add: { index, alias: dataset.index!.alias } }]);
  await setGenerationState(sql, dataset.name, generation.number, "live");
  await mergeGenerationStats(sql, dataset.name, generation.number, { builtBy: "sync", indexOnly: true, documents: { [index]: documents } });
}

export async function discardIndexOnlyGeneration(session: Session, es: SearchClient, generation: Generation): Promise<void> {
  await discardGeneration(session.sql, es, session.dataset, generation.number, session.log).catch(() => {});
}
