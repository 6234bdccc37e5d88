/**
 * Promotes a generation: one transaction renames the tables, one `_aliases` call moves every alias.
 * If the alias move fails, the table rename is reversed before the error leaves this module, so
 * the live table and the alias never disagree about which generation is live.
 *
 *   BEGIN; image → image__g<live>; image__g<new> → image; states; COMMIT;  then  _aliases
 */
import { type AliasAction, aliasTargets, searchError, type SearchClient, updateAliases } from "../../adapters/elasticsearch.ts";
import { ident, type Sql } from "../../adapters/postgres.ts";
import type { Dataset } from "../../config/types.ts";
import { SluiceError } from "../../errors.ts";
import { generationIndices, generationTable } from "../../generations/names.ts";
import type { Generation, GenerationState } from "../../generations/store.ts";
import { tableExists } from "../../generations/store.ts";

/** How long a swap waits for readers holding the live table before it gives up cleanly. */
const LOCK_TIMEOUT = "10s";

export interface PromotionPlan {
  dataset: Dataset;
  /** The generation that becomes live. */
  incoming: Generation;
  /** The live generation now, if any. */
  outgoing: Generation | null;
  /** What the outgoing generation becomes: previous (swap) or discarded (rollback). */
  outgoingState: GenerationState;
}

export async function promoteGeneration(sql: Sql, es: SearchClient | null, plan: PromotionPlan, esUrl: string): Promise<void> {
  const { dataset, incoming, outgoing } = plan;
  const live = dataset.table.name;
  const aside = await setAsideName(sql, dataset, outgoing);
  await renameTables(sql, plan, [
    ...(aside ? [[live, aside] as const] : []),
    [generationTable(dataset, incoming.number), live] as const,
  ], { incoming: "live", outgoing: plan.outgoingState });
  if (!es || !dataset.index) return;
  try {
    await updateAliases(es, await aliasActions(es, dataset, incoming.number));
  } catch (error) {
    await renameTables(sql, plan, [
      [live, generationTable(dataset, incoming.number)] as const,
      ...(aside ? [[aside, live] as const] : []),
    ], { incoming: incoming.state, outgoing: outgoing?.state ?? "live" }).catch((undo) => {
      throw new SluiceError(
        `moving the alias failed (${(error as Error).message}) and undoing the table swap failed too (${(undo as Error).message})`,
        { hint: `the live table is generation ${incoming.number} but the alias is not: run \`sluice swap ${dataset.name} --rollback\``, cause: undo },
      );
    });
    throw searchError(error, esUrl, `move the aliases of ${dataset.name}; the table swap was undone`);
  }
}

/** The name the outgoing live table takes: its own generation's, or a dated one if sluice never made it. */
async function setAsideName(sql: Sql, dataset: Dataset, outgoing: Generation | null): Promise<string | null> {
  if (!(await tableExists(sql, dataset.table.name))) return null;
  if (outgoing) return generationTable(dataset, outgoing.number);
  return `${dataset.table.name}__before_sluice`;
}

async function renameTables(
  sql: Sql,
  plan: PromotionPlan,
  renames: readonly (readonly [string, string])[],
  states: { incoming: GenerationState; outgoing: GenerationState },
): Promise<void> {
  await sql.begin(async (tx) => {
    await tx.unsafe(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
    for (const [from, to] of renames) await tx.unsafe(`ALTER TABLE ${ident(from)} RENAME TO ${ident(to)}`);
    if (plan.outgoing) {
      await tx`update sluice.generations set state = ${states.outgoing},
                 retired_at = case when ${states.outgoing} = 'discarded' then now() else retired_at end
               where dataset = ${plan.dataset.name} and number = ${plan.outgoing.number}`;
    }
    await tx`update sluice.generations set state = ${states.incoming},
               promoted_at = case when ${states.incoming} = 'live' then now() else promoted_at end
             where dataset = ${plan.dataset.name} and number = ${plan.incoming.number}`;
  }).catch((error) => {
    if ((error as { code?: string }).code === "55P03") {
      throw new SluiceError(`the swap of ${plan.dataset.name} waited ${LOCK_TIMEOUT} for readers of the live table and gave up; nothing changed`, {
        hint: "find the long-running query on the live table (pg_stat_activity), then run swap again",
        cause: error,
      });
    }
    throw error;
  });
}

async function aliasActions(es: SearchClient, dataset: Dataset, generation: number): Promise<AliasAction[]> {
  const actions: AliasAction[] = [];
  for (const target of generationIndices(dataset, generation)) {
    for (const index of await aliasTargets(es, target.alias)) {
      if (index !== target.index) actions.push({ remove: { index, alias: target.alias } });
    }
    actions.push({ add: { index: target.index, alias: target.alias } });
  }
  return actions;
}
