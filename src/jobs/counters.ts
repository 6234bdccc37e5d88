/**
 * What a stage did, counted so that no row is lost silently: every row read ends up written,
 * skipped (with a reason) or failed (with a reason). Extra sections (cleaned by rule, new/changed/
 * removed keys) sit beside them.
 */
export interface Counters {
  read: number;
  written: number;
  skipped: Record<string, number>;
  failed: Record<string, number>;
  [section: string]: number | Record<string, number>;
}

export function emptyCounters(): Counters {
  return { read: 0, written: 0, skipped: {}, failed: {} };
}

/** Adds `by` to `counters[section][reason]`, creating the section when needed. */
export function countReason(counters: Counters, section: string, reason: string, by = 1): void {
  const bucket = (counters[section] ??= {}) as Record<string, number>;
  bucket[reason] = (bucket[reason] ?? 0) + by;
}

export function total(bucket: Record<string, number> | number | undefined): number {
  if (bucket === undefined) return 0;
  if (typeof bucket === "number") return bucket;
  return Object.values(bucket).reduce((a, b) => a + b, 0);
}

/** "read 1,899 · written 1,850 · skipped 49 (removed_from_source 49) · failed 0" */
export function summarizeCounters(stored: Partial<Counters>): string {
  // Rows written by hand or by an older binary may lack sections.
  const c = { ...emptyCounters(), ...stored } as Counters;
  const n = (x: number) => x.toLocaleString("en-US");
  const withReasons = (bucket: Record<string, number>) => {
    const parts = Object.entries(bucket).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${n(v)}`);
    return parts.length ? ` (${parts.join(", ")})` : "";
  };
  const parts = [`read ${n(c.read)}`, `written ${n(c.written)}`];
  parts.push(`skipped ${n(total(c.skipped))}${withReasons(c.skipped)}`);
  parts.push(`failed ${n(total(c.failed))}${withReasons(c.failed)}`);
  for (const [section, value] of Object.entries(c)) {
    if (["read", "written", "skipped", "failed"].includes(section)) continue;
    parts.push(typeof value === "number" ? `${section} ${n(value)}` : `${section}${withReasons(value) || " 0"}`);
  }
  return parts.join(" · ");
}
