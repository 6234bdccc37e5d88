/**
 * `sluice swap <dataset> --repair`: brings table, alias and sluice.generations back onto one
 * generation after a swap was cut between its two halves.
 *
 *   open journal row, incoming indices exist → move the aliases to them (finish the swap)
 *   open journal row, incoming indices gone  → reverse the rename, aliases to the outgoing generation
 *   no open row, alias off the live generation → move the aliases to the live generation
 *   otherwise → nothing to repair
 */
import { type SearchClient, updateAliases } from "../../adapters/elasticsearch.ts";
import { SluiceError } from "../../errors.ts";
import { generationIndices } from "../../generations/names.ts";
import { liveGeneration } from "../../generations/store.ts";
import { closeSwap, openSwap } from "../../generations/swap-journal.ts";
import type { JobHandle } from "../job-runner.ts";
import type { Session } from "../session.ts";
import { aliasesPointAt } from "./alias-state.ts";
import { assertPromotionOwned } from "./alias-ownership.ts";
import { aliasActions, reverseTables } from "./promote.ts";

export interface RepairResult {
  /** The generation table, alias and generations now agree on (null: the dataset has none live). */
  generation: number | null;
  /** One line saying what was done. */
  done: string;
}

export async function repairSwap(session: Session, job: JobHandle, es: SearchClient | null): Promise<RepairResult> {
  const { sql, dataset, log } = session;
  const open = await openSwap(sql, dataset.name);
  if (open) {
    if (!es) throw new SluiceError(`dataset ${dataset.name} has an unfinished swap but no index is configured to finish it`);
    job.setGeneration(open.incoming);
    job.setTask(`finishing the swap of ${dataset.name} to generation ${open.incoming}`, 20);
    if (await indicesExist(es, generationIndices(dataset, open.incoming).map((t) => t.index))) {
      // A repair moves aliases like a swap does: only onto and off indices this database owns.
      const actions = await aliasActions(es, dataset, open.incoming);
      await assertPromotionOwned(sql, es, dataset, { number: open.incoming }, open.outgoing === null ? null : { number: open.outgoing }, actions);
      await updateAliases(es, actions);
      await closeSwap(sql, open.id, "done", "finished by swap --repair");
      return finish(log, { generation: open.incoming, done: `finished the swap: table and alias are on generation ${open.incoming}` });
    }
    // The incoming index is gone (Elasticsearch lost it): only the outgoing generation can be live.
    await reverseTables(sql, dataset, open, "reversed by swap --repair: the incoming index is gone");
    if (open.outgoing !== null && (await indicesExist(es, generationIndices(dataset, open.outgoing).map((t) => t.index)))) {
      const actions = await aliasActions(es, dataset, open.outgoing);
      await assertPromotionOwned(sql, es, dataset, { number: open.outgoing }, { number: open.incoming }, actions);
      await updateAliases(es, actions);
    }
    return finish(log, { generation: open.outgoing, done: `reversed the swap: generation ${open.incoming}'s index is gone, generation ${open.outgoing ?? "none"} is live again` });
  }
  const live = await liveGeneration(sql, dataset.name);
  if (!es || !live) return finish(log, { generation: live?.number ?? null, done: "nothing to repair" });
  job.setGeneration(live.number);
  const targets = generationIndices(dataset, live.number);
  if ((await aliasesPointAt(es, targets)) === "there") {
    return finish(log, { generation: live.number, done: `nothing to repair: table, alias and generations agree on generation ${live.number}` });
  }
  if (!(await indicesExist(es, targets.map((t) => t.index)))) {
    throw new SluiceError(`the alias of ${dataset.name} is off live generation ${live.number}, whose index is gone, so it cannot be pointed back`, {
      hint: `run \`sluice run ${dataset.name} --rebuild\` to build a new generation`,
    });
  }
  const actions = await aliasActions(es, dataset, live.number);
  await assertPromotionOwned(sql, es, dataset, live, null, actions);
  await updateAliases(es, actions);
  return finish(log, { generation: live.number, done: `moved the alias back onto live generation ${live.number}` });
}

async function indicesExist(es: SearchClient, indices: string[]): Promise<boolean> {
  for (const index of indices) if (!(await es.indices.exists({ index }))) return false;
  return true;
}

function finish(log: Session["log"], result: RepairResult): RepairResult {
  log.success(result.done);
  return result;
}
