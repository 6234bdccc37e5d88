/**
 * Throws away a generation that will not be promoted: its staging table and its indices go, its
 * row says discarded. This is how a failed or interrupted run leaves production untouched. Only
 * indices carrying this database's and dataset's mark are deleted (see generations/ownership.ts).
 */
import type { SearchClient } from "../adapters/elasticsearch.ts";
import { ident, type Sql } from "../adapters/postgres.ts";
import type { Dataset } from "../config/types.ts";
import { generationIndices, generationTable } from "../generations/names.ts";
import { setGenerationState } from "../generations/store.ts";
import { deleteOwnedIndex, indexOwner } from "../generations/owned-indices.ts";
import type { Logger } from "../log/logger.ts";

export async function discardGeneration(
  sql: Sql,
  es: SearchClient | null,
  dataset: Dataset,
  generation: number,
  log: Logger,
  options: { keepTable?: boolean } = {},
): Promise<void> {
  if (!options.keepTable) {
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
