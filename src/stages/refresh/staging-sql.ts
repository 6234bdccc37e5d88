/**
 * The set-based SQL of a refresh, run in the API database: create staging, drop moderated and
 * duplicate rows, build indexes, and compare with live. One statement per step, never a round
 * trip per row.
 */
import pLimit from "p-limit";
import { ident, type Sql } from "../../adapters/postgres.ts";
import type { Dataset } from "../../config/types.ts";
import { indexStatement } from "../../generations/names.ts";
import type { StagingColumn } from "./row-transform.ts";

/**
 * The statement that creates an empty staging table. The key column is NOT NULL from the start, so
 * the primary key can later be attached to a unique index without another scan.
 */
export function createStagingTableSql(staging: string, columns: StagingColumn[], key: string, options: { temporary?: boolean } = {}): string {
  const definitions = columns.map((c) => `${ident(c.name)} ${c.type}${c.name === key ? " NOT NULL" : ""}`).join(",\n  ");
  // A temporary one (`--dry-run`) lives in the transaction that is rolled back, and nowhere else.
  if (options.temporary) return `CREATE TEMPORARY TABLE ${ident(staging)} (\n  ${definitions}\n) ON COMMIT DROP`;
  return `DROP TABLE IF EXISTS ${ident(staging)}; CREATE TABLE ${ident(staging)} (\n  ${definitions}\n)`;
}

/** True when the API database has the table (a moderation table is read only when it exists). */
export async function tableInApiDatabase(sql: Sql, table: string): Promise<boolean> {
  const [row] = await sql`select to_regclass(${ident(table)}) is not null as ok`;
  return Boolean(row?.ok);
}

/** Removes rows whose key a moderator listed as deleted. Returns how many went; null when the table does not exist. */
export async function removeDeletedRows(sql: Sql, dataset: Dataset, staging: string): Promise<number | null> {
  if (!dataset.table.deletedTable) return 0;
  if (!(await tableInApiDatabase(sql, dataset.table.deletedTable))) return null;
  const key = ident(dataset.table.key);
  const res = await sql.unsafe(
    `DELETE FROM ${ident(staging)} s USING ${ident(dataset.table.deletedTable)} d WHERE s.${key}::text = d.${key}::text`,
  );
  return res.count;
}

/** Keeps the first row of each key; the others are failures, listed by key. */
export async function removeDuplicateKeys(sql: Sql, dataset: Dataset, staging: string): Promise<string[]> {
  const key = ident(dataset.table.key);
  const rows = await sql.unsafe(`
    DELETE FROM ${ident(staging)} s
    WHERE s.ctid IN (
      SELECT ctid FROM (
        SELECT ctid, row_number() OVER (PARTITION BY ${key} ORDER BY ctid) AS n FROM ${ident(staging)}
      ) ranked WHERE n > 1)
    RETURNING s.${key}::text AS key`);
  return rows.map((r) => r.key as string);
}

/** More builds at once only queue for CPU and memory; one pool connection stays free for heartbeats. */
const INDEX_BUILDS_AT_ONCE = 4;

/**
 * Every index at once: the key's unique index (attached afterwards as the primary key, which needs
 * no scan of its own) beside the configured ones, so their heap scans run together. Duplicate keys
 * are looked for only when the key's index fails, so a clean upstream pays nothing for the check;
 * then the duplicates go and the builds that failed on them run again. Fresh statistics last.
 * Returns the duplicate keys removed.
 */
export async function buildStagingIndexes(sql: Sql, dataset: Dataset, staging: string): Promise<string[]> {
  const primaryKey = `${staging}_pkey`;
  const builds = [
    `CREATE UNIQUE INDEX ${ident(primaryKey)} ON ${ident(staging)} (${ident(dataset.table.key)})`,
    ...dataset.table.indexes.map((definition, i) => indexStatement(definition, staging, i)),
  ];
  const limit = pLimit(INDEX_BUILDS_AT_ONCE);
  const runAll = (statements: string[]) => Promise.allSettled(statements.map((s) => limit(() => sql.unsafe(s))));
  let failed = failedBuilds(builds, await runAll(builds));
  let duplicates: string[] = [];
  if (failed.some((f) => f.statement === builds[0] && isUniqueViolation(f.error))) {
    duplicates = await removeDuplicateKeys(sql, dataset, staging);
    const retry = failed.filter((f) => isUniqueViolation(f.error)).map((f) => f.statement);
    failed = [...failed.filter((f) => !isUniqueViolation(f.error)), ...failedBuilds(retry, await runAll(retry))];
  }
  if (failed.length) throw failed[0]!.error;
  await sql.unsafe(`ALTER TABLE ${ident(staging)} ADD CONSTRAINT ${ident(primaryKey)} PRIMARY KEY USING INDEX ${ident(primaryKey)}`);
  await sql.unsafe(`ANALYZE ${ident(staging)}`);
  return duplicates;
}

function failedBuilds(statements: string[], results: PromiseSettledResult<unknown>[]): { statement: string; error: unknown }[] {
  return results.flatMap((r, i) => (r.status === "rejected" ? [{ statement: statements[i]!, error: r.reason }] : []));
}

function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: string }).code === "23505";
}

export async function countRows(sql: Sql, table: string): Promise<number> {
  const [row] = await sql.unsafe(`SELECT count(*)::bigint AS n FROM ${ident(table)}`);
  return Number(row?.n ?? 0);
}

export interface LiveDiff {
  new: number;
  changed: number;
  removed: number;
}

/** New, changed and removed keys of staging against the live table (null when there is none). */
export async function diffAgainstLive(sql: Sql, dataset: Dataset, staging: string): Promise<LiveDiff | null> {
  const live = dataset.table.name;
  const [exists] = await sql`select to_regclass(${`public."${live}"`}) is not null as ok`;
  if (!exists?.ok) return null;
  const key = ident(dataset.table.key);
  const sameColumns = await sameColumnList(sql, live, staging);
  // Rows compare as text, which every type has (json and point have no equality operator). When the
  // column lists differ, every row on both sides has changed shape, so each counts as changed.
  const changed = `(SELECT count(*) FROM ${ident(staging)} s JOIN ${ident(live)} l USING (${key})${sameColumns ? " WHERE s::text IS DISTINCT FROM l::text" : ""})`;
  const [row] = await sql.unsafe(`
    SELECT
      (SELECT count(*) FROM ${ident(staging)} s WHERE NOT EXISTS (SELECT 1 FROM ${ident(live)} l WHERE l.${key} = s.${key})) AS new,
      (SELECT count(*) FROM ${ident(live)} l WHERE NOT EXISTS (SELECT 1 FROM ${ident(staging)} s WHERE s.${key} = l.${key})) AS removed,
      ${changed} AS changed`);
  return { new: Number(row?.new ?? 0), changed: Number(row?.changed ?? 0), removed: Number(row?.removed ?? 0) };
}

async function sameColumnList(sql: Sql, a: string, b: string): Promise<boolean> {
  const rows = await sql`
    select attrelid::regclass::text as t, string_agg(attname || ' ' || format_type(atttypid, atttypmod), ',' order by attnum) as cols
    from pg_attribute where attrelid in (to_regclass(${`public."${a}"`}), to_regclass(${`public."${b}"`}))
      and attnum > 0 and not attisdropped group by attrelid`;
  return rows.length === 2 && rows[0]!.cols === rows[1]!.cols;
}
