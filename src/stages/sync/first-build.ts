/**
 * A dataset with no live index gets its first one here, as a generation swapped in:
 *
 *   postgres source (the dataset's own): refresh → index → swap, the stages `run` chains, so the
 *     live table and the index start together; the full sync that follows stamps the documents.
 *   file or module source: no table to build, so the generation is index-only: `<alias>-gN` is
 *     created with sluice's ownership mark, loaded from the source, and the alias put on it.
 *
 * Either way a failure leaves nothing live behind: the generation is discarded, as a failed run's is.
 */
import type { SearchClient } from "../../adapters/elasticsearch.ts";
import { updateAliases } from "../../adapters/elasticsearch.ts";
import { generationIndices } from "../../generations/names.ts";
import { assertOwned, indexOwner } from "../../generations/owned-indices.ts";
import { markedMappings, markFor } from "../../generations/ownership.ts";
import { type Generation, mergeGenerationStats, setGenerationState, startGeneration } from "../../generations/store.ts";
import { discardGeneration } from "../discard.ts";
import type { JobHandle } from "../job-runner.ts";
import type { Session } from "../session.ts";
import { indexStep, refreshStep, swapStep } from "../steps.ts";
import { SwapRefusedError } from "../swap/swap-stage.ts";
import { SYNC_FIELDS } from "./live-index.ts";

/** Builds and swaps in a generation through the existing stages (postgres datasets). Returns its number. */
export async function firstGenerationThroughStages(session: Session, job: JobHandle, es: SearchClient, options: { force: boolean; configPath: string | undefined }): Promise<number> {
  let generation: Generation | null = null;
  try {
    job.setTask(`no live index for ${session.dataset.name}: building its first generation (refresh, index, swap)`, 1);
    ({ generation } = await refreshStep(session, job.job.id, (g) => {
      generation = g;
      job.setGeneration(g.number);
    }));
    await indexStep(session, es, generation, job.job.id);
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
  if (await assertOwned(es, target!.index, owner, "replace", { generation: generation.number })) await es.indices.delete({ index: target!.index });
  const body = dataset.index!.body;
  const mappings = (body.mappings ?? {}) as { properties?: Record<string, unknown> };
  await es.indices.create({
    index: target!.index,
    settings: body.settings ?? {},
    mappings: markedMappings({ ...mappings, properties: { ...(mappings.properties ?? {}), ...SYNC_FIELDS } }, markFor(owner, generation.number)) as never,
  });
  return { generation, index: target!.index };
}

/** Puts the alias on a loaded index-only generation and records it live. */
export async function promoteIndexOnlyGeneration(session: Session, es: SearchClient, generation: Generation, index: string, documents: number): Promise<void> {
  const { sql, dataset } = session;
  await es.indices.refresh({ index });
  await updateAliases(es, [{ add: { index, alias: dataset.index!.alias } }]);
  await setGenerationState(sql, dataset.name, generation.number, "live");
  await mergeGenerationStats(sql, dataset.name, generation.number, { builtBy: "sync", indexOnly: true, documents: { [index]: documents } });
}

export async function discardIndexOnlyGeneration(session: Session, es: SearchClient, generation: Generation): Promise<void> {
  await discardGeneration(session.sql, es, session.dataset, generation.number, session.log).catch(() => {});
}
