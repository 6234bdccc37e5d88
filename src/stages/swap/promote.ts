/**
 * Promotes a generation: one transaction renames the tables, updates the generations and records
 * the swap in the journal (sluice.swaps); then one `_aliases` call moves every alias. If that call
 * fails, what Elasticsearch actually did is read back before deciding:
 *
 *   BEGIN; image → image__g<live>; image__g<new> → image; states; journal row; COMMIT;  then  _aliases
 *     alias moved (the error came after Elasticsearch applied it)  → the swap stands, journal done
 *     alias not moved                                               → rename reversed, journal reverted
 *     unknown (Elasticsearch unreachable) or the reversal failed    → journal left open: the dataset
 *       is split, `sluice status` says so and `sluice swap <dataset> --repair` converges it
 *
 * So table, alias and sluice.generations end on one generation, or the journal says which way
 * they must go.
 */
import { type AliasAction, aliasTargets, searchError, type SearchClient, updateAliases } from "../../adapters/elasticsearch.ts";
import { ident, type Sql, whileDatabaseReachable } from "../../adapters/postgres.ts";
import type { Dataset } from "../../config/types.ts";
import { SluiceError } from "../../errors.ts";
import { generationIndices, generationTable } from "../../generations/names.ts";
import type { Generation, GenerationState } from "../../generations/store.ts";
import { tableExists } from "../../generations/store.ts";
import { closeSwap, recordSwap, type SwapRecord } from "../../generations/swap-journal.ts";
import { assertLockHeld, type Session } from "../session.ts";
import { aliasesPointAt } from "./alias-state.ts";

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
  /** The job doing the swap, recorded in the journal. */
  jobId: number | null;
  /** The alias actions already read and checked for ownership (`aliasActions`); read here when absent. */
  actions?: AliasAction[];
}

export async function promoteGeneration(session: Session, es: SearchClient | null, plan: PromotionPlan): Promise<void> {
  const { sql, log } = session;
  const { dataset, incoming } = plan;
  const targets = es ? generationIndices(dataset, incoming.number) : [];
  const swap: Omit<SwapRecord, "id" | "startedAt"> = {
    dataset: dataset.name,
    incoming: incoming.number,
    outgoing: plan.outgoing?.number ?? null,
    incomingWas: incoming.state,
    outgoingBecomes: plan.outgoing ? plan.outgoingState : null,
    asideTable: await setAsideName(sql, dataset, plan.outgoing),
    aliases: targets,
  };
  // Read before anything moves: a refusal or a failed read here leaves nothing to undo.
  const actions = plan.actions ?? (es && targets.length ? await aliasActions(es, dataset, incoming.number) : []);
  await assertLockHeld(session);
  const swapId = await moveTables(sql, dataset, swap, plan.jobId);
  if (!es || swapId === null) return;
  try {
    await updateAliases(es, actions);
  } catch (error) {
    const reason = (error as Error)?.message ?? String(error);
    const where = await aliasesPointAt(es, targets);
    if (where === "unknown") {
      throw splitError(dataset, incoming.number, `moving the aliases of ${dataset.name} failed (${reason}) and Elasticsearch cannot be asked whether it applied the move`, error);
    }
    if (where === "elsewhere") {
      await reverseTables(sql, dataset, { ...swap, id: swapId, startedAt: new Date() }, `alias move failed: ${reason}`).catch((undo) => {
        throw splitError(dataset, incoming.number, `moving the aliases of ${dataset.name} failed (${reason}) and undoing the table swap failed too (${(undo as Error).message})`, undo, "Elasticsearch and the API database");
      });
      throw searchError(error, session.env.elasticsearchUrl ?? "", `move the aliases of ${dataset.name}; the table swap was undone`);
    }
    log.warn(`the alias call reported an error (${reason}), but Elasticsearch had applied it: generation ${incoming.number} is live in table and alias`);
  }
  // Written again while the API database restarts: a moment's outage here would otherwise leave a
  // finished swap recorded as split, for an operator to repair.
  await whileDatabaseReachable(() => closeSwap(sql, swapId, "done")).catch((error) => {
    throw splitError(dataset, incoming.number, `the aliases of ${dataset.name} moved but recording it failed (${(error as Error).message})`, error, "the API database");
  });
}

/** The error of a swap left half done: the journal row stays open and names the repair, once `waitingFor` answers. */
export function splitError(dataset: Dataset, incoming: number, message: string, cause: unknown, waitingFor = "Elasticsearch"): SluiceError {
  return new SluiceError(`${message}; ${dataset.name} is split: its table is on generation ${incoming}, its alias may not be`, {
    hint: `run \`sluice swap ${dataset.name} --repair\` once ${waitingFor} answers; \`sluice status\` shows it as split until then`,
    cause,
  });
}

/** The name the outgoing live table takes: its own generation's, or a dated one if sluice never made it. */
async function setAsideName(sql: Sql, dataset: Dataset, outgoing: Generation | null): Promise<string | null> {
  if (!(await tableExists(sql, dataset.table.name))) return null;
  if (outgoing) return generationTable(dataset, outgoing.number);
  return `${dataset.table.name}__before_sluice`;
}

/**
 * The forward half: renames, generation states (the one leaving `live` first, so that the
 * one-live-generation index never sees two) and the journal row, in one transaction. Returns the
 * journal row's id, or null when there are no aliases to move (nothing can split).
 */
async function moveTables(sql: Sql, dataset: Dataset, swap: Omit<SwapRecord, "id" | "startedAt">, jobId: number | null): Promise<number | null> {
  const live = dataset.table.name;
  return sql.begin(async (tx) => {
    await tx.unsafe(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
    if (swap.asideTable) await tx.unsafe(`ALTER TABLE ${ident(live)} RENAME TO ${ident(swap.asideTable)}`);
    await tx.unsafe(`ALTER TABLE ${ident(generationTable(dataset, swap.incoming))} RENAME TO ${ident(live)}`);
    if (swap.outgoing !== null) {
      await tx`update sluice.generations set state = ${swap.outgoingBecomes!},
                 retired_at = case when ${swap.outgoingBecomes!} = 'discarded' then now() else retired_at end
               where dataset = ${dataset.name} and number = ${swap.outgoing}`;
    }
    await tx`update sluice.generations set state = 'live', promoted_at = now(), retired_at = null
             where dataset = ${dataset.name} and number = ${swap.incoming}`;
    return swap.aliases.length ? recordSwap(tx, swap, jobId) : null;
  }).catch((error) => {
    if ((error as { code?: string }).code === "55P03") {
      throw new SluiceError(`the swap of ${dataset.name} waited ${LOCK_TIMEOUT} for readers of the live table and gave up; nothing changed`, {
        hint: "find the long-running query on the live table (pg_stat_activity), then run swap again",
        cause: error,
      });
    }
    throw error;
  }) as Promise<number | null>;
}

/**
 * The reverse half, from a journal row: the live table goes back to its generation's name, the set
 * aside one back to live, the states back (the incoming one leaves `live` first), and the row is
 * closed as reverted, in one transaction.
 */
export async function reverseTables(sql: Sql, dataset: Dataset, swap: SwapRecord, detail: string): Promise<void> {
  const live = dataset.table.name;
  await sql.begin(async (tx) => {
    await tx.unsafe(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
    await tx.unsafe(`ALTER TABLE ${ident(live)} RENAME TO ${ident(generationTable(dataset, swap.incoming))}`);
    if (swap.asideTable) await tx.unsafe(`ALTER TABLE ${ident(swap.asideTable)} RENAME TO ${ident(live)}`);
    await tx`update sluice.generations set state = ${swap.incomingWas} where dataset = ${dataset.name} and number = ${swap.incoming}`;
    if (swap.outgoing !== null) {
      await tx`update sluice.generations set state = 'live', retired_at = null where dataset = ${dataset.name} and number = ${swap.outgoing}`;
    }
    await closeSwap(tx, swap.id, "reverted", detail);
  });
}

/** The one `_aliases` call's actions: each alias of the generation to its index, away from any other. */
export async function aliasActions(es: SearchClient, dataset: Dataset, generation: number): Promise<AliasAction[]> {
  const actions: AliasAction[] = [];
  for (const target of generationIndices(dataset, generation)) {
    for (const index of await aliasTargets(es, target.alias)) {
      if (index !== target.index) actions.push({ remove: { index, alias: target.alias } });
    }
    actions.push({ add: { index: target.index, alias: target.alias } });
  }
  return actions;
}
