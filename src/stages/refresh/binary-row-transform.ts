/**
 * The per-row part of a refresh for rows in COPY binary (see RowPlan.binary): the same checks and
 * cleaning as `transformCopyLine`, on a tuple's fields. Only the fields that may change are
 * decoded; a row that needs nothing goes out as its upstream bytes.
 *
 *   tuple [uuid, "http://x", jsonb [{…}]]  →  { kind: "row", replaced: null, cleaned: [] }
 *   tuple [uuid, "x.org/a", …]              →  { kind: "row", replaced: {1 → "https://x.org/a"}, cleaned: ["url_scheme_url"] }
 */
import { addUrlScheme } from "../../datasets/openverse/clean.ts";
import { type BinaryTuple, binaryField, binaryKeyAsText } from "../../transforms/copy-binary.ts";
import { cleanTagsColumn, type RowOutcome, type RowPlan, truncate } from "./row-transform.ts";

export type BinaryRowOutcome =
  | { kind: "row"; replaced: Map<number, Uint8Array | null> | null; cleaned: string[] }
  | Extract<RowOutcome, { kind: "failed" }>;

const JSONB_VERSION = 1;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

export function transformBinaryTuple(tuple: BinaryTuple, plan: RowPlan): BinaryRowOutcome {
  const binary = plan.binary!;
  if (tuple.fieldCount !== plan.columnCount) {
    return { kind: "failed", reason: "wrong_field_count", key: failedKey(tuple, plan), detail: `${tuple.fieldCount} fields, expected ${plan.columnCount}` };
  }
  if (tuple.lengths[plan.keyIndex]! < 0) return { kind: "failed", reason: "null_key", key: null };
  let replaced: Map<number, Uint8Array | null> | null = null;
  const cleaned: string[] = [];
  if (plan.tags && binary.tagsType) {
    const bytes = binaryField(tuple, plan.tags.index);
    if (bytes !== null) {
      const isJsonb = binary.tagsType === "jsonb";
      if (isJsonb && bytes[0] !== JSONB_VERSION) {
        return { kind: "failed", reason: "invalid_json", key: failedKey(tuple, plan), detail: `column tags: jsonb binary version ${bytes[0]} is not 1` };
      }
      const raw = decoder.decode(isJsonb ? bytes.subarray(1) : bytes);
      const tags = cleanTagsColumn(raw, plan.tags.rules);
      if (tags.kind === "invalid_json") return { kind: "failed", reason: "invalid_json", key: failedKey(tuple, plan), detail: `column tags: ${truncate(raw)}` };
      if (tags.kind === "changed") {
        replaced = new Map();
        replaced.set(plan.tags.index, tags.json === null ? null : encodeJson(tags.json, isJsonb));
        cleaned.push(...tags.rules);
      }
    }
  }
  for (const { index, name } of plan.urls) {
    if (tuple.lengths[index]! < 0 || startsWithHttpScheme(tuple, index)) continue;
    const fixed = addUrlScheme(decoder.decode(binaryField(tuple, index)!), plan.urlScheme);
    if (fixed.changed && fixed.url !== null) {
      replaced ??= new Map();
      replaced.set(index, encoder.encode(fixed.url));
      cleaned.push(`url_scheme_${name}`);
    }
  }
  return { kind: "row", replaced, cleaned };
}

/** The row's key as text, for a failure report only: formatting a million uuids would cost more than the checks. */
function failedKey(tuple: BinaryTuple, plan: RowPlan): string | null {
  const bytes = plan.keyIndex < tuple.fieldCount ? binaryField(tuple, plan.keyIndex) : null;
  return bytes === null ? null : binaryKeyAsText(bytes, plan.binary!.keyType);
}

function encodeJson(json: string, jsonb: boolean): Uint8Array {
  const text = encoder.encode(json);
  if (!jsonb) return text;
  const bytes = new Uint8Array(text.length + 1);
  bytes[0] = JSONB_VERSION;
  bytes.set(text, 1);
  return bytes;
}

const HTTP = [0x68, 0x74, 0x74, 0x70]; // "http"

/**
 * "http://" or "https://": a URL that `addUrlScheme` leaves alone, recognised without decoding it.
 * Nearly every URL is one; the rest are decoded and go through `addUrlScheme` itself.
 */
function startsWithHttpScheme(tuple: BinaryTuple, index: number): boolean {
  if (tuple.lengths[index]! < 8) return false;
  const bytes = tuple.bytes;
  const at = tuple.starts[index]!;
  for (let i = 0; i < 4; i++) if (bytes[at + i] !== HTTP[i]) return false;
  const colon = at + (bytes[at + 4] === 0x73 ? 5 : 4);
  return bytes[colon] === 0x3a && bytes[colon + 1] === 0x2f && bytes[colon + 2] === 0x2f;
}
