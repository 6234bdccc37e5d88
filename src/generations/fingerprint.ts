/**
 * A generation's fingerprint: sha256 of everything in the resolved dataset that changes what is
 * built (source, table columns, key and indexes, cleaning, index body and alias, payload format and
 * validation rules, the source text of the document builders), and nothing that only changes how
 * fast or how strictly it is built (batch sizes, concurrency, timeouts, failure tolerances, swap
 * gates). A generation is resumed, indexed or swapped only under the configuration it was built
 * from.
 *
 *   resolved dataset --drop operational knobs--> canonical JSON (sorted keys, functions as source) --sha256--> hex
 *
 * Only a builder's own source text is hashed, not the code it calls; the environment's
 * DATA_REFRESH_LIMIT is a cap, not configuration (the swap's shrink gate guards what it cuts).
 */
import type { Dataset } from "../config/types.ts";

/** Dotted paths of the resolved dataset that are operational knobs, not part of what is built. */
export const OPERATIONAL_KEYS: readonly string[] = [
  "source.pageSize",
  "source.minListedFraction",
  "index.batchDocuments",
  "index.batchBytes",
  "index.concurrency",
  "index.maxFailures",
  "swap",
  "status",
  "payload.concurrency",
  "payload.perHost",
  "payload.timeoutMs",
  "validate.flagThreshold",
  "validate.flagWindowHours",
  // What `sync` reads and how it gates; a generation is built the same way whatever it says.
  "sync",
];

/**
 * Keys added after fingerprints were first recorded, hashed only when set: an upgrade that brings
 * one keeps the fingerprint of every configuration that does not use it, so its generations stay
 * indexable and swappable.
 */
const HASHED_WHEN_SET: readonly string[] = ["index.columns", "index.jsonKeys"];

/** Pure: the canonical text a fingerprint hashes (sorted keys, functions as their source text). */
export function canonicalDataset(dataset: Dataset): string {
  return canonical(dataset, "");
}

/** Pure: the fingerprint of a resolved dataset, 64 hex digits. */
export function datasetFingerprint(dataset: Dataset): string {
  return new Bun.CryptoHasher("sha256").update(canonicalDataset(dataset)).digest("hex");
}

/** "3f9a2c1d0b7e" — short enough for a message, long enough to tell two apart. */
export function shortFingerprint(fingerprint: string | null): string {
  return fingerprint ? fingerprint.slice(0, 12) : "none";
}

function canonical(value: unknown, path: string): string {
  if (typeof value === "function") return JSON.stringify(`function ${value.toString()}`);
  if (value === undefined) return "null";
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v, i) => canonical(v, `${path}[${i}]`)).join(",")}]`;
  const entries = Object.keys(value)
    .sort()
    .map((key) => [key, path ? `${path}.${key}` : key] as const)
    .filter(([key, at]) => !OPERATIONAL_KEYS.includes(at) && !(HASHED_WHEN_SET.includes(at) && (value as Record<string, unknown>)[key] == null))
    .map(([key, at]) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key], at)}`);
  return `{${entries.join(",")}}`;
}
