/**
 * The swap journal (sluice.swaps): a promotion's intent, written in the transaction that renames
 * the tables and closed once the alias has followed ('done') or the rename was reversed
 * ('reverted'). A row left open means the table is on `incoming` while the alias may not be: the
 * dataset is split, and `sluice swap <dataset> --repair` finishes or reverses the swap.
 */
import type postgres from "postgres";
import type { Sql } from "../adapters/postgres.ts";
import type { GenerationState } from "./store.ts";
import type { IndexTarget } from "./names.ts";

export interface SwapRecord {
  id: number;
  dataset: string;
  /** The generation whose table became live. */
  incoming: number;
  /** The generation it replaced; null when there was none. */
  outgoing: number | null;
  /** The state `incoming` goes back to if the rename is reversed. */
  incomingWas: GenerationState;
  /** What `outgoing` became: previous (swap) or discarded (rollback). */
  outgoingBecomes: GenerationState | null;
  /** The name the replaced live table took; null when there was no live table. */
  asideTable: string | null;
  /** Where every alias points once the swap is complete. */
  aliases: IndexTarget[];
  startedAt: Date;
}

/** The API database, or a transaction on it. */
type Tx = Sql | postgres.TransactionSql<{}>;

/** Records a swap whose tables are being moved; call inside the rename's transaction. */
export async function recordSwap(tx: Tx, swap: Omit<SwapRecord, "id" | "startedAt">, jobId: number | null): Promise<number> {
  const [row] = await (tx as Sql)`
    insert into sluice.swaps (dataset, incoming, outgoing, incoming_was, outgoing_becomes, aside_table, aliases, job_id)
    values (${swap.dataset}, ${swap.incoming}, ${swap.outgoing}, ${swap.incomingWas}, ${swap.outgoingBecomes},
            ${swap.asideTable}, ${(tx as Sql).json(swap.aliases as never)}, ${jobId})
    returning id`;
  return Number(row!.id);
}

/** The dataset's unfinished swap, if any: while it is open, table and alias may disagree. */
export async function openSwap(sql: Sql, dataset: string): Promise<SwapRecord | null> {
  const [row] = await sql`select * from sluice.swaps where dataset = ${dataset} and state = 'tables_moved'`;
  if (!row) return null;
  return {
    id: Number(row.id),
    dataset: row.dataset,
    incoming: row.incoming,
    outgoing: row.outgoing,
    incomingWas: row.incoming_was,
    outgoingBecomes: row.outgoing_becomes,
    asideTable: row.aside_table,
    aliases: row.aliases,
    startedAt: row.started_at,
  };
}

export async function closeSwap(tx: Tx, id: number, state: "done" | "reverted", detail: string | null = null): Promise<void> {
  await (tx as Sql)`update sluice.swaps set state = ${state}, detail = ${detail}, finished_at = now() where id = ${id}`;
}
