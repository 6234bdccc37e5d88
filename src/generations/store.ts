/**
 * The generations table: which generation of a dataset is being built, ready, live, or kept for
 * rollback. Every state change that must go with a table rename happens in the caller's transaction.
 */
import type { Sql } from "../adapters/postgres.ts";
import type { Dataset } from "../config/types.ts";
import { datasetFingerprint } from "./fingerprint.ts";
import { generationIndices, generationTable } from "./names.ts";

export type GenerationState = "building" | "ready" | "live" | "previous" | "retired" | "discarded";

export interface Generation {
  dataset: string;
  number: number;
  state: GenerationState;
  tableName: string;
  indexName: string | null;
  stats: Record<string, unknown>;
  /** sha256 of the configuration it was built from (see fingerprint.ts); null if built before sluice recorded it. */
  fingerprint: string | null;
  createdAt: Date;
  promotedAt: Date | null;
}

function toGeneration(r: Record<string, any>): Generation {
  return {
    dataset: r.dataset,
    number: r.number,
    state: r.state,
    tableName: r.table_name,
    indexName: r.index_name,
    stats: r.stats,
    fingerprint: r.fingerprint ?? null,
    createdAt: r.created_at,
    promotedAt: r.promoted_at,
  };
}

export async function startGeneration(sql: Sql, dataset: Dataset): Promise<Generation> {
  const [row] = await sql`
    insert into sluice.generations (dataset, number, state, table_name, index_name, fingerprint)
    select ${dataset.name}, n, 'building', ${dataset.table.name} || '__g' || n,
           ${dataset.index ? dataset.index.alias : null}::text || '-g' || n, ${datasetFingerprint(dataset)}
    from (select coalesce(max(number), 0) + 1 as n from sluice.generations where dataset = ${dataset.name}) next
    returning *`;
  return toGeneration(row!);
}

export async function findGeneration(sql: Sql, dataset: string, number: number): Promise<Generation | null> {
  const [row] = await sql`select * from sluice.generations where dataset = ${dataset} and number = ${number}`;
  return row ? toGeneration(row) : null;
}

export async function generationsIn(sql: Sql, dataset: string, states: GenerationState[]): Promise<Generation[]> {
  const rows = await sql`
    select * from sluice.generations where dataset = ${dataset} and state = any(${states}) order by number desc`;
  return rows.map(toGeneration);
}

export async function liveGeneration(sql: Sql, dataset: string): Promise<Generation | null> {
  return (await generationsIn(sql, dataset, ["live"]))[0] ?? null;
}

/** The newest generation not yet promoted, if any. */
export async function pendingGeneration(sql: Sql, dataset: string): Promise<Generation | null> {
  return (await generationsIn(sql, dataset, ["building", "ready"]))[0] ?? null;
}

export async function setGenerationState(sql: Sql, dataset: string, number: number, state: GenerationState): Promise<void> {
  await sql`
    update sluice.generations set state = ${state},
      promoted_at = case when ${state} = 'live' then now() else promoted_at end,
      retired_at = case when ${state} in ('retired', 'discarded') then now() else retired_at end
    where dataset = ${dataset} and number = ${number}`;
}

export async function mergeGenerationStats(sql: Sql, dataset: string, number: number, stats: Record<string, unknown>): Promise<void> {
  await sql`
    update sluice.generations set stats = stats || ${sql.json(stats as any)}
    where dataset = ${dataset} and number = ${number}`;
}

/** Whether a stage already succeeded for this generation (so a resumed run skips it). */
export async function stageSucceeded(sql: Sql, dataset: string, number: number, stage: string): Promise<boolean> {
  const [row] = await sql`
    select exists (select 1 from sluice.jobs where dataset = ${dataset} and generation = ${number}
                   and stage = ${stage} and state = 'succeeded') as ok`;
  return Boolean(row?.ok);
}

/** Rows read by the stage's job that succeeded for this generation (0 when none did). */
export async function rowsReadBySucceededStage(sql: Sql, dataset: string, number: number, stage: string): Promise<number> {
  const [row] = await sql`
    select (counters->>'read')::bigint as read from sluice.jobs
    where dataset = ${dataset} and generation = ${number} and stage = ${stage} and state = 'succeeded'
    order by id desc limit 1`;
  return Number(row?.read ?? 0);
}

export async function tableExists(sql: Sql, table: string): Promise<boolean> {
  const [row] = await sql`select to_regclass(${`public."${table}"`}) is not null as ok`;
  return Boolean(row?.ok);
}

export { generationIndices, generationTable };
