/**
 * A resolved dataset as plain data, for `sluice config check`: functions become their names,
 * URLs lose their passwords, and the text form is one `key  value` line per setting:
 *
 *   { swap: { maxShrink: 0.1, keep: 1 }, index: { toDocument: [Function imageDocument] } }
 *   → { swap: { maxShrink: 0.1, keep: 1 }, index: { toDocument: "function imageDocument" } }
 *   → "swap.maxShrink  0.1", "swap.keep  1", "index.toDocument  function imageDocument"
 */
import { maskUrl } from "../redact.ts";
import type { Dataset } from "./types.ts";

/** The resolved dataset with every value printable and no secret in it. */
export function describeDataset(dataset: Dataset): Record<string, unknown> {
  return plain(dataset) as Record<string, unknown>;
}

function plain(value: unknown): unknown {
  if (typeof value === "function") return `function ${value.name || "(anonymous)"}`;
  if (typeof value === "string") return /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? maskUrl(value) : value;
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

/** Objects longer than this (as JSON) print as a summary; `--json` shows them whole. */
const INLINE_LIMIT = 100;

/** `key  value` lines of a described dataset, the keys padded to one column. */
export function datasetLines(described: Record<string, unknown>): string[] {
  const rows: [string, string][] = [];
  const walk = (prefix: string, value: unknown, depth: number) => {
    const isObject = value !== null && typeof value === "object" && !Array.isArray(value);
    // Index bodies are Elasticsearch JSON, not sluice settings: one line for each.
    const settings = isObject && !prefix.endsWith(".body") && !prefix.endsWith(".columns");
    if (settings && depth < 3 && Object.keys(value).length > 0) {
      for (const [k, v] of Object.entries(value)) walk(prefix ? `${prefix}.${k}` : k, v, depth + 1);
      return;
    }
    rows.push([prefix, inline(value)]);
  };
  walk("", described, 0);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
}

function inline(value: unknown): string {
  if (value === null) return "-";
  // Columns: `id text, name text`.
  if (typeof value === "object" && !Array.isArray(value) && Object.values(value).every((v) => typeof v === "string")) {
    const pairs = Object.entries(value).map(([k, v]) => `${k} ${v}`);
    if (pairs.length) return pairs.join(", ");
  }
  if (Array.isArray(value) && value.every((v) => typeof v !== "object")) {
    // A list of thousands (a filtered twin's sensitive terms) is cut like a long object.
    const joined = value.join(", ");
    if (joined.length > INLINE_LIMIT) return `${joined.slice(0, INLINE_LIMIT - 20)}… (${value.length} items; --json shows all)`;
    return value.length ? joined : "(none)";
  }
  if (typeof value !== "object") return String(value);
  const json = JSON.stringify(value);
  if (json.length <= INLINE_LIMIT) return json;
  const size = Array.isArray(value) ? `${value.length} items` : `${Object.keys(value).length} keys`;
  return `${json.slice(0, INLINE_LIMIT - 20)}… (${size}; --json shows all)`;
}
