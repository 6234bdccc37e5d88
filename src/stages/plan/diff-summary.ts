/**
 * The text of a generation diff, as `sluice diff` prints it and `run` logs it before its swap:
 *
 *   image generation 3 against live generation 2
 *   COUNT  LIVE   NEW    CHANGE
 *   table  1,374  1,373  -1
 *   image  1,374  1,373  -1
 *   KEYS     COUNT  SAMPLE
 *   new      0
 *   changed  1      00b1…
 *   removed  1      ffe2…
 */
import type { CountChange, GenerationDiff } from "./generation-diff.ts";

const n = (x: number | null) => (x === null ? "-" : x.toLocaleString("en-US"));
const signed = (x: number | null) => (x === null ? "-" : x > 0 ? `+${n(x)}` : n(x));

/** Rows as aligned columns under an upper-case header. */
export function tableLines(rows: Record<string, string>[], columns: string[]): string[] {
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? "").length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...rows.map((r) => line(columns.map((c) => r[c] ?? "")))];
}

function countRows(changes: CountChange[], label: string): Record<string, string>[] {
  return changes.map((c) => ({ [label]: c.name, live: n(c.live), new: n(c.new), change: signed(c.change) }));
}

export function diffSummaryLines(diff: GenerationDiff): string[] {
  const lines = [`${diff.dataset} generation ${diff.generation} against ${diff.live === null ? "nothing live yet" : `live generation ${diff.live}`}`];
  lines.push(...tableLines(countRows(diff.counts, "count"), ["count", "live", "new", "change"]));
  if (diff.by) lines.push("", ...tableLines(countRows(diff.by.values, diff.by.field), [diff.by.field, "live", "new", "change"]));
  const keys = (["new", "changed", "removed"] as const).map((kind) => ({ keys: kind, count: n(diff.keys[kind]), sample: diff.keys.sample[kind].join(", ") }));
  lines.push("", ...tableLines(keys, ["keys", "count", "sample"]));
  return lines;
}
