/**
 * The per-row part of a refresh, as a pure function over one COPY text line: check the values the
 * target types could reject, clean tags and URLs, and say what happened. The stream around it
 * (copy-pipe.ts) only moves bytes.
 *
 *   "uuid\thttp://x\t[{…}]"  →  { kind: "row", line: "uuid\thttps://x\t[…]", cleaned: ["url_scheme"] }
 *   "\\N\t…"                  →  { kind: "failed", reason: "null_key", key: null }
 */
import { addUrlScheme, cleanTags, type TagRules } from "../../datasets/openverse/clean.ts";
import { hasPortableBinaryFormat, isTextType } from "../../transforms/copy-binary.ts";
import { escapeCopyText, joinCopyFields, splitCopyLineRaw, unescapeCopyField } from "../../transforms/copy-text.ts";
import { canonicalTypeName, compilePgTypeCheck, type PgValueCheck } from "../../transforms/pg-types.ts";
import type { Dataset } from "../../config/types.ts";

export interface StagingColumn {
  name: string;
  /** Type in the staging table. */
  type: string;
  /** Type upstream, when known; values are checked only where it differs from `type`. */
  upstreamType: string | null;
}

export interface RowPlan {
  columnCount: number;
  keyIndex: number;
  /** Columns whose values must be checked before COPY FROM, with their check. */
  checks: { index: number; name: string; check: PgValueCheck }[];
  tags: { index: number; rules: NonNullable<Dataset["clean"]["tags"]> } | null;
  urls: { index: number; name: string }[];
  urlScheme: string;
  /**
   * Set when rows can travel in COPY binary: every staging column has its upstream type, and that
   * type's binary format is portable. Binary spares the server the parsing of every value.
   */
  binary: { keyType: string; tagsType: "jsonb" | "json" | "text" | null } | null;
}

export type RowOutcome =
  | { kind: "row"; line: string; cleaned: string[] }
  | { kind: "failed"; reason: string; key: string | null; detail?: string };

export function planRows(dataset: Dataset, columns: StagingColumn[]): RowPlan {
  const indexOf = (name: string) => columns.findIndex((c) => c.name === name);
  const keyIndex = indexOf(dataset.table.key);
  const tags = dataset.clean.tags;
  const tagIndex = tags ? indexOf(tags.column) : -1;
  const checks = columns
    .map((c, index) => ({ c, index }))
    .filter(({ c }) => normalizeType(c.upstreamType) !== normalizeType(c.type))
    .map(({ c, index }) => ({ index, name: c.name, check: compilePgTypeCheck(c.type) }));
  const urls = dataset.clean.urlColumns.map((name) => ({ index: indexOf(name), name })).filter((u) => u.index >= 0);
  const tagsType = tags && tagIndex >= 0 ? binaryTagsType(columns[tagIndex]!.type) : null;
  const binaryPortable =
    checks.length === 0 &&
    columns.every((c) => hasPortableBinaryFormat(c.type)) &&
    urls.every((u) => isTextType(columns[u.index]!.type)) &&
    (tagIndex < 0 || !tags || tagsType !== null);
  return {
    columnCount: columns.length,
    keyIndex,
    checks,
    tags: tags && tagIndex >= 0 ? { index: tagIndex, rules: tags } : null,
    urls,
    urlScheme: dataset.clean.urlScheme,
    binary: binaryPortable ? { keyType: columns[keyIndex]!.type, tagsType } : null,
  };
}

function binaryTagsType(type: string): "jsonb" | "json" | "text" | null {
  const base = normalizeType(type);
  if (base === "jsonb" || base === "json") return base;
  return isTextType(type) ? "text" : null;
}

/** Whether rows need any work at all; if not, the bytes can flow through untouched. */
export function planIsPassThrough(plan: RowPlan): boolean {
  return plan.checks.length === 0 && plan.tags === null && plan.urls.length === 0;
}

export function transformCopyLine(line: string, plan: RowPlan): RowOutcome {
  const fields = splitCopyLineRaw(line);
  const key = fields[plan.keyIndex] === undefined ? null : unescapeCopyField(fields[plan.keyIndex]!);
  if (fields.length !== plan.columnCount) {
    return { kind: "failed", reason: "wrong_field_count", key, detail: `${fields.length} fields, expected ${plan.columnCount}` };
  }
  if (key === null) return { kind: "failed", reason: "null_key", key: null };
  for (const { index, name, check } of plan.checks) {
    const value = unescapeCopyField(fields[index]!);
    if (value === null) continue;
    const reason = check(value);
    if (reason) return { kind: "failed", reason, key, detail: `column ${name}: ${truncate(value)}` };
  }
  const cleaned: string[] = [];
  if (plan.tags) {
    const raw = unescapeCopyField(fields[plan.tags.index]!);
    if (raw !== null) {
      const tags = cleanTagsColumn(raw, plan.tags.rules);
      if (tags.kind === "invalid_json") return { kind: "failed", reason: "invalid_json", key, detail: `column tags: ${truncate(raw)}` };
      if (tags.kind === "changed") {
        fields[plan.tags.index] = tags.json === null ? "\\N" : escapeCopyText(tags.json);
        cleaned.push(...tags.rules);
      }
    }
  }
  for (const { index, name } of plan.urls) {
    const raw = unescapeCopyField(fields[index]!);
    if (raw === null) continue;
    const fixed = addUrlScheme(raw, plan.urlScheme);
    if (fixed.changed && fixed.url !== null) {
      fields[index] = escapeCopyText(fixed.url);
      cleaned.push(`url_scheme_${name}`);
    }
  }
  return { kind: "row", line: cleaned.length ? joinCopyFields(fields) : line, cleaned };
}

export type TagsColumnOutcome = { kind: "unchanged" } | { kind: "invalid_json" } | { kind: "changed"; json: string | null; rules: string[] };

/** Cleans one tags value (JSON text); says which rules changed it. Shared by the text and binary paths. */
export function cleanTagsColumn(raw: string, rules: TagRules): TagsColumnOutcome {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { kind: "invalid_json" };
  }
  const result = cleanTags(parsed, rules);
  if (!result.changed) return { kind: "unchanged" };
  const changedBy: string[] = [];
  if (result.malformed) changedBy.push("tags_not_a_list");
  for (const [rule, n] of Object.entries(result.removed)) if (n > 0) changedBy.push(`tags_${rule}`);
  return { kind: "changed", json: result.tags === null ? null : JSON.stringify(result.tags), rules: changedBy };
}

export function truncate(value: string): string {
  return value.length > 120 ? `${value.slice(0, 117)}…` : value;
}

/** Upstream and staging types compare equal when they are the same type spelled differently. */
function normalizeType(type: string | null): string | null {
  return type === null ? null : canonicalTypeName(type);
}
