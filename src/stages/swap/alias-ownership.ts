/**
 * Before a swap or rollback moves any alias: the generation made live must be this database's and
 * this dataset's, and every index the alias is taken off must be too. Otherwise the swap is
 * refused before the tables are renamed, and nothing changes.
 *
 *   incoming gN indices: ours, behind no alias but their own   |   alias targets: ours (or adoptable)
 */
import { type AliasAction, type SearchClient } from "../../adapters/elasticsearch.ts";
import type { Sql } from "../../adapters/postgres.ts";
import type { Dataset } from "../../config/types.ts";
import { databaseIdentity } from "../../generations/identity.ts";
import { generationIndices } from "../../generations/names.ts";
import { assertOwned, IndexOwnershipError, indexFacts } from "../../generations/owned-indices.ts";
import { mayAdoptUnmarked, ownershipRefusal } from "../../generations/ownership.ts";
import type { Generation } from "../../generations/store.ts";

/**
 * Checks the very alias actions the promotion will send (`aliasActions`), so that what is checked
 * and what is moved are one read of the aliases: every index the move takes an alias off is judged.
 */
export async function assertPromotionOwned(
  sql: Sql,
  es: SearchClient,
  dataset: Dataset,
  incoming: Pick<Generation, "number">,
  outgoing: Pick<Generation, "number"> | null,
  actions: readonly AliasAction[],
): Promise<void> {
  const identity = await databaseIdentity(sql);
  const owner = { database: identity.id, dataset: dataset.name };
  const targets = generationIndices(dataset, incoming.number);
  const live = outgoing ? generationIndices(dataset, outgoing.number) : [];
  for (const target of targets) {
    await assertOwned(es, target.index, owner, "promote", { movingAliases: [target.alias], generation: incoming.number });
  }
  for (const action of actions) {
    if (!("remove" in action)) continue;
    const { index, alias } = action.remove;
    const facts = await indexFacts(es, index);
    if (!facts) continue;
    const i = targets.findIndex((t) => t.alias === alias);
    const adoptUnmarked = mayAdoptUnmarked(facts, identity.createdAt, live[i]?.index ?? null);
    const refusal = ownershipRefusal(facts, owner, "unalias", { adoptUnmarked });
    if (refusal) {
      throw new IndexOwnershipError({ message: `cannot move alias ${alias}: ${refusal.message}`, hint: refusal.hint });
    }
  }
}
