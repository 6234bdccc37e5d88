/**
 * New, changed and removed keys of one table against another (a staging table, a temporary dry-run
 * table or a ready generation's table, against live): counts, and a sample of keys of each kind so
 * that an operator can look a few of them up.
 *
 *   keyDiff(sql, { key: "identifier", from: "image", to: "image__g3" }) → { new: 2, changed: 1, removed: 0, sample: { new: [...], ... } }
 */
import { ident, type Sql } from "../../adapters/postgres.ts";

export interface KeyDiff {
  new: number;
  changed: number;
  removed: number;
  /** Up to `sample` keys of each kind, in key order. */
  sample: { new: string[]; changed: string[]; removed: string[] };
}

export interface KeyDiffTables {
  key: string;
  /** What is live now (a table in public). */
  from: string;
  /** What would replace it: a table in public, or a temporary table (found first on the search path). */
  to: string;
  /** `to` is a temporary table (pg_temp) rather than one in public. */
  toIsTemporary?: boolean;
}

/** Keys compare as text; rows compare as their text form, which every type has (json has no `=`). */
export async function keyDiff(sql: Sql, tables: KeyDiffTables, sample = 10): Promise<KeyDiff> {
  const key = ident(tables.key);
  const from = ident(tables.from);
  const to = ident(tables.to);
  const sameColumns = await sameColumnList(sql, `public.${from}`, tables.toIsTemporary ? `pg_temp.${to}` : `public.${to}`);
  // When the column lists differ, every row on both sides has changed shape, so each counts as changed.
  const changedWhere = sameColumns ? "WHERE t::text IS DISTINCT FROM f::text" : "";
  const newRows = `SELECT t.${key}::text AS k FROM ${to} t WHERE NOT EXISTS (SELECT 1 FROM ${from} f WHERE f.${key} = t.${key})`;
  const removedRows = `SELECT f.${key}::text AS k FROM ${from} f WHERE NOT EXISTS (SELECT 1 FROM ${to} t WHERE t.${key} = f.${key})`;
  const changedRows = `SELECT t.${key}::text AS k FROM ${to} t JOIN ${from} f USING (${key}) ${changedWhere}`;
  // One pass per kind: the count over every row rides along with the first keys (a top-N sort).
  const kind = async (rows: string) => {
    const found = await sql.unsafe(`SELECT k, count(*) OVER ()::bigint AS n FROM (${rows}) x ORDER BY k LIMIT ${Math.max(1, Math.trunc(sample))}`);
    return { count: Number(found[0]?.n ?? 0), keys: found.slice(0, Math.max(0, Math.trunc(sample))).map((r) => r.k as string) };
  };
  const [added, changed, removed] = [await kind(newRows), await kind(changedRows), await kind(removedRows)];
  return {
    new: added.count,
    changed: changed.count,
    removed: removed.count,
    sample: { new: added.keys, changed: changed.keys, removed: removed.keys },
  };
}

/** Every key of `to` is new when nothing is live yet. */
export async function allNew(sql: Sql, table: string, key: string, toIsTemporary: boolean, sample = 10): Promise<KeyDiff> {
  const qualified = `${toIsTemporary ? "pg_temp" : "public"}.${ident(table)}`;
  const [row] = await sql.unsafe(`SELECT count(*)::bigint AS n FROM ${qualified}`);
  const keys = await sql.unsafe(`SELECT ${ident(key)}::text AS k FROM ${qualified} ORDER BY 1 LIMIT ${Math.max(0, Math.trunc(sample))}`);
  return { new: Number(row?.n ?? 0), changed: 0, removed: 0, sample: { new: keys.map((r) => r.k as string), changed: [], removed: [] } };
}

async function sameColumnList(sql: Sql, a: string, b: string): Promise<boolean> {
  const rows = await sql`
    select attrelid, string_agg(attname || ' ' || format_type(atttypid, atttypmod), ',' order by attnum) as cols
    from pg_attribute where attrelid in (to_regclass(${a}), to_regclass(${b}))
      and attnum > 0 and not attisdropped group by attrelid`;
  return rows.length === 2 && rows[0]!.cols === rows[1]!.cols;
}
