/**
 * What a refresh needs to know about a Postgres upstream: its columns and types, how many rows it
 * has (and how many are marked removed), and the SELECT that copies it.
 */
import { ident, type Sql } from "../../adapters/postgres.ts";
import type { Dataset, PostgresSourceConfig } from "../../config/types.ts";
import { SluiceError } from "../../errors.ts";
import type { StagingColumn } from "./row-transform.ts";

/** "public.image" → `"public"."image"`; "image" → `"image"`. */
export function qualifiedName(name: string): string {
  return name.split(".").map(ident).join(".");
}

export async function upstreamColumnTypes(upstream: Sql, source: PostgresSourceConfig): Promise<Map<string, string> | null> {
  if (!source.table) return null;
  const [exists] = await upstream`select to_regclass(${qualifiedName(source.table)}) is not null as ok`;
  if (!exists?.ok) {
    throw new SluiceError(`upstream table ${source.table} does not exist in UPSTREAM_DATABASE_URL`, {
      hint: "check source.table in the dataset config, or load the upstream first",
    });
  }
  const rows = await upstream`
    select attname, format_type(atttypid, atttypmod) as type from pg_attribute
    where attrelid = to_regclass(${qualifiedName(source.table)}) and attnum > 0 and not attisdropped
    order by attnum`;
  return new Map(rows.map((r) => [r.attname as string, r.type as string]));
}

/** Staging columns: those the dataset declares, else all of the upstream table's. */
export function stagingColumns(dataset: Dataset, upstreamTypes: Map<string, string> | null): StagingColumn[] {
  const declared = dataset.table.columns;
  if (declared) {
    return Object.entries(declared).map(([name, type]) => {
      if (upstreamTypes && !upstreamTypes.has(name)) {
        throw new SluiceError(`column ${name} of dataset ${dataset.name} is not in the upstream table`, {
          hint: "fix table.columns in the dataset config",
        });
      }
      return { name, type, upstreamType: upstreamTypes?.get(name) ?? null };
    });
  }
  if (!upstreamTypes) {
    throw new SluiceError(`dataset ${dataset.name} copies a query, so it must declare table.columns`);
  }
  return [...upstreamTypes].map(([name, type]) => ({ name, type, upstreamType: type }));
}

function fromClause(source: PostgresSourceConfig): string {
  return source.table ? qualifiedName(source.table) : `(${source.query}) AS upstream_query`;
}

/** The rows to copy: not removed, ordered by key when a limit applies. */
export function upstreamSelect(dataset: Dataset, source: PostgresSourceConfig, columns: StagingColumn[], limit: number | null): string {
  const where = source.removedColumn ? ` WHERE ${ident(source.removedColumn)} IS NOT TRUE` : "";
  const order = limit === null ? "" : ` ORDER BY ${ident(dataset.table.key)} LIMIT ${limit}`;
  return `SELECT ${columns.map((c) => ident(c.name)).join(", ")} FROM ${fromClause(source)}${where}${order}`;
}

export async function countUpstream(upstream: Sql, source: PostgresSourceConfig): Promise<{ total: number; removed: number }> {
  const removed = source.removedColumn ? `count(*) FILTER (WHERE ${ident(source.removedColumn)} IS TRUE)` : "0";
  const [row] = await upstream.unsafe(`SELECT count(*)::bigint AS total, ${removed}::bigint AS removed FROM ${fromClause(source)}`);
  return { total: Number(row?.total ?? 0), removed: Number(row?.removed ?? 0) };
}

/**
 * A SQL_ASCII upstream stores any bytes, which UTF-8 staging would reject; its rows are read raw
 * and checked one by one. Other encodings are converted by the server, so they need no check.
 */
export async function upstreamNeedsUtf8Check(upstream: Sql): Promise<boolean> {
  const [row] = await upstream`show server_encoding`;
  return (row?.server_encoding as string | undefined)?.toUpperCase() === "SQL_ASCII";
}
