/**
 * Throws away a generation that will not be promoted: its staging table and its indices go, its
 * row says discarded; a generation that is or may be live is left as it is. This is how a failed
 * or interrupted run leaves production untouched. Only indices carrying this database's and
 * dataset's mark are deleted (see generations/ownership.ts).
 */
import type { SearchClient } from "../adapters/elasticsearch.ts";
import { ident, type Sql } from "../adapters/postgres.ts";
import type { Dataset } from "../config/types.ts";
import { generationIndices, generationTable } from "../generations/names.ts";
import { findGeneration, setGenerationState } from "../generations/store.ts";
import { openSwap } from "../generations/swap-journal.ts";
import { deleteOwnedIndex, indexOwner } from "../generations/owned-indices.ts";
import type { Logger } from "../log/logger.ts";
import { releaseDroppedPayloads } from "./registry/payload-release.ts";

export async function discardGeneration(
  sql: Sql,
  es: SearchClient | null,
  dataset: Dataset,
  generation: number,
  log: Logger,
  options: { keepTable?: boolean } = {},
): Promise<void> {
  // A clean-up never takes down what production serves or may serve: a swap that failed after its
  // tables moved leaves the generation live (or half-promoted, with its journal row open).
  const promoted = await promotedState(sql, dataset.name, generation);
  if (promoted) {
    log.warn(`generation ${generation} not discarded: ${promoted}`);
    return;
  }
  if (!options.keepTable) {
    // Payloads stored for this generation alone go with it; if that fails they stay (a leak, not a loss).
    await releaseDroppedPayloads(sql, dataset, generation, log).catch((error) => log.warn(`could not delete the payloads only generation ${generation} referenced, so they stay in the blob store: ${(error as Error)?.message ?? error}`));
    await sql.unsafe(`DROP TABLE IF EXISTS ${ident(generationTable(dataset, generation))}`);
    await setGenerationState(sql, dataset.name, generation, "discarded");
  }
  if (es) {
    const owner = await indexOwner(sql, dataset.name);
    for (const target of generationIndices(dataset, generation)) {
      // An index at this generation's name that is not ours was never this generation's: leave it.
      const outcome = await deleteOwnedIndex(es, target.index, owner, generation);
      if (outcome === "deleted") log.info(`deleted index ${target.index}`);
      else if (outcome !== "absent") log.warn(`${outcome.message} (${outcome.hint})`);
    }
  }
  log.info(options.keepTable ? `generation ${generation}: new indices deleted, staging kept for a retry` : `generation ${generation} discarded: staging dropped, production untouched`);
}

/** Why a generation must not be discarded (it is live, kept for rollback, or in an unfinished swap), or null. */
async function promotedState(sql: Sql, dataset: string, generation: number): Promise<string | null> {
  const state = (await findGeneration(sql, dataset, generation))?.state;
  if (state === "live" || state === "previous") return `it is ${state}`;
  const open = await openSwap(sql, dataset);
  if (open && (open.incoming === generation || open.outgoing === generation)) return `an unfinished swap holds it (\`sluice swap ${dataset} --repair\` finishes it)`;
  return null;
}
