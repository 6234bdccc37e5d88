/**
 * Pure logic of scale-out ranges: cutting a key space at boundary keys into half-open ranges, and
 * the SQL that reads one range in key order. Text keys compare under COLLATE "C" (byte order, the
 * order Elasticsearch's keyword range queries use), everywhere: split, reads and counts.
 *
 *   boundaries [b1 … bk] → [-∞, b1) [b1, b2) … [bk, +∞)
 */
import { ident, literal } from "../../adapters/postgres.ts";

/** One range of a generation's key space; null bounds are unbounded. Lower inclusive, upper exclusive. */
export interface KeyRange {
  number: number;
  lower: string | null;
  upper: string | null;
}

/**
 * Ranges from sorted boundary keys (the first key of each ntile but the first, in key
 * order; repeated keys are dropped, as a key that is not unique may start two tiles). The first range starts and the last ends
 * unbounded, so a row inserted anywhere in the key space after the split still has a range.
 */
export function rangesFromBoundaries(boundaries: readonly string[]): KeyRange[] {
  const cuts = boundaries.filter((b, i) => i === 0 || b !== boundaries[i - 1]);
  const bounds: (string | null)[] = [null, ...cuts, null];
  return bounds.slice(0, -1).map((lower, i) => ({ number: i + 1, lower, upper: bounds[i + 1]! }));
}

/** The fewest rows a split reads; a larger table is split on a sample of about this many (`sampleOf`). */
export const SPLIT_SAMPLE_ROWS = 20_000;

/**
 * The percentage of a table's pages a split samples (TABLESAMPLE SYSTEM), or null to read every key:
 * cutting ntiles over every key sorts the whole table (0.7 s at 200 k rows here, about 40 minutes at
 * 600 M), while quantiles of a sample of `max(SPLIT_SAMPLE_ROWS, 500 per range)` keys are even to
 * a few percent. The cuts are keys of the table either way, and ranges cover the whole key space
 * whatever the cuts, so a sample costs evenness only, never a row. `estimatedRows`: pg_class.reltuples
 * (-1 before the first ANALYZE: read every key).
 */
export function samplePercent(estimatedRows: number, parts: number): number | null {
  const wanted = Math.max(SPLIT_SAMPLE_ROWS, parts * 500);
  if (!(estimatedRows >= 2 * wanted)) return null;
  return Math.min(100, (100 * wanted) / estimatedRows);
}

/** Whether a column type (format_type) compares as text, and so is read and split under COLLATE "C". */
export function isTextType(type: string): boolean {
  return /^(text|character varying|character|varchar|char|citext|name)\b/.test(type);
}

/** The key as an expression that orders the way ranges are cut. */
export function keyOrder(key: string, type: string): string {
  return isTextType(type) ? `${ident(key)} COLLATE "C"` : ident(key);
}

/** A bound as a literal of the key's own type (COPY takes no parameters, so it is quoted here). */
export function boundLiteral(value: string, type: string): string {
  return isTextType(type) ? `${literal(value)} COLLATE "C"` : `${literal(value)}::${type}`;
}

export interface RangeRead {
  key: string;
  /** The key column's type as format_type names it: "integer", "text", "uuid", "character varying(40)". */
  type: string;
  lower: string | null;
  upper: string | null;
  /** The checkpoint: the last key already acknowledged; reading resumes after it. */
  after?: string | null;
}

/** `WHERE … ORDER BY …` reading one range in key order, from its checkpoint on. */
export function rangeClause(range: RangeRead): string {
  const k = keyOrder(range.key, range.type);
  const parts: string[] = [];
  if (range.lower !== null) parts.push(`${k} >= ${boundLiteral(range.lower, range.type)}`);
  if (range.upper !== null) parts.push(`${k} < ${boundLiteral(range.upper, range.type)}`);
  if (range.after != null) parts.push(`${k} > ${boundLiteral(range.after, range.type)}`);
  return `${parts.length ? `WHERE ${parts.join(" AND ")} ` : ""}ORDER BY ${k}`;
}

/**
 * A range as an Elasticsearch range query on the key field (gte lower, lt upper). Bounds stay
 * strings: Elasticsearch parses them for numeric fields without losing a bigint's precision, and a
 * keyword range compares bytes, as COLLATE "C" does.
 */
export function rangeQuery(field: string, range: Pick<KeyRange, "lower" | "upper">): Record<string, unknown> {
  const limits: Record<string, string> = {};
  if (range.lower !== null) limits.gte = range.lower;
  if (range.upper !== null) limits.lt = range.upper;
  return Object.keys(limits).length ? { range: { [field]: limits } } : { match_all: {} };
}
