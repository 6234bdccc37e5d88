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
    // A swap's search checks are a list of results (`job show` prints them as a table).
    if (Array.isArray(value)) {
      const passed = (value as { passed?: boolean }[]).filter((r) => r.passed).length;
      parts.push(`${section} (passed ${passed}, failed ${value.length - passed})`);
      continue;
    }
    parts.push(typeof value === "number" ? `${section} ${n(value)}` : `${section}${withReasons(value) || " 0"}`);
  }
  return parts.join(" · ");
}

/**
 * A run's counts from its stages': rows read by the first stage (or `read`, when a resumed run
 * skipped the refresh), written by the last, and every stage's skipped and failed rows, each reason
 * named with its stage: `skipped 525 (refresh.removed_from_source 525)`. A table's row counts once,
 * in the stage that dropped it; a registry's validate also skips, as not_downloaded, what reload
 * could not download.
 */
export function runCounters(steps: { stage: string; counters: Counters }[], read = steps[0]?.counters.read ?? 0): Counters {
  const run = emptyCounters();
  run.read = read;
  run.written = steps.at(-1)?.counters.written ?? 0;
  for (const { stage, counters } of steps) {
    for (const section of ["skipped", "failed"] as const) {
      for (const [reason, n] of Object.entries(counters[section] ?? {})) if (n > 0) countReason(run, section, `${stage}.${reason}`, n);
    }
  }
  return run;
}
