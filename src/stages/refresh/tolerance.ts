/**
 * When a refresh's failed rows are too many to promote. A refresh that drops rows it could not
 * store still succeeds, but only within a tolerance (`refresh.maxFailures` or
 * `refresh.maxFailedFraction` of the rows read); past it, or when it wrote no row at all, the
 * refresh fails and its generation is thrown away, so production keeps what it had.
 *
 *   read 9, written 2, failed 7 (default 1%) → "refresh of photos failed: 7 of 9 rows read failed (77.8%, …"
 */
import type { Dataset } from "../../config/types.ts";
import { type Counters, total } from "../../jobs/counters.ts";
import { SluiceError } from "../../errors.ts";

export interface ToleranceBreach {
  message: string;
  hint: string;
}

/** Why the refresh's counts are past its tolerance, or null when they are within it. */
export function refreshToleranceBreach(dataset: Pick<Dataset, "name" | "refresh">, counters: Counters, job: number | null): ToleranceBreach | null {
  const { read, written } = counters;
  const failed = total(counters.failed);
  const rule = dataset.refresh;
  // `--dry-run` has no job: its plan lists the reasons itself.
  const see = job === null ? "see the plan's failed rows by reason" : `see sluice job show ${job} and sluice.row_failures`;
  const jobNote = job === null ? "" : ` (job ${job})`;
  const n = (x: number) => x.toLocaleString("en-US");
  if (read > 0 && written === 0) {
    const why = [failed ? `${n(failed)} failed (${topReasons(counters.failed)})` : "", total(counters.skipped) ? `${n(total(counters.skipped))} skipped (${topReasons(counters.skipped)})` : ""];
    return {
      message: `refresh of ${dataset.name} failed: it read ${n(read)} rows and wrote none: ${why.filter(Boolean).join(", ")}${jobNote}`,
      hint: `${see}; a refresh that stores no row is never promoted`,
    };
  }
  if (rule.maxFailures !== null) {
    if (failed <= rule.maxFailures) return null;
    return {
      message: `refresh of ${dataset.name} failed: ${n(failed)} of ${n(read)} rows read failed, more than refresh.maxFailures ${n(rule.maxFailures)}: ${topReasons(counters.failed)}${jobNote}`,
      hint: `${see}; raise refresh.maxFailures only if that loss is acceptable`,
    };
  }
  if (read === 0 || failed / read <= rule.maxFailedFraction) return null;
  return {
    message: `refresh of ${dataset.name} failed: ${n(failed)} of ${n(read)} rows read failed (${percent(failed / read)}, more than refresh.maxFailedFraction ${percent(rule.maxFailedFraction)}): ${topReasons(counters.failed)}${jobNote}`,
    hint: `${see}; raise refresh.maxFailedFraction only if that loss is acceptable`,
  };
}

/** Throws the breach, if any, as the refresh's one-line failure. */
export function enforceRefreshTolerance(dataset: Pick<Dataset, "name" | "refresh">, counters: Counters, job: number): void {
  const breach = refreshToleranceBreach(dataset, counters, job);
  if (breach) throw new SluiceError(breach.message, { hint: breach.hint });
}

/** "invalid_json 40, null_key 3, value_too_long 1 and 2 more reasons": the three largest. */
export function topReasons(bucket: Record<string, number>, shown = 3): string {
  const reasons = Object.entries(bucket).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const listed = reasons.slice(0, shown).map(([k, v]) => `${k} ${v.toLocaleString("en-US")}`).join(", ");
  const more = reasons.length - shown;
  return more > 0 ? `${listed} and ${more} more reason${more === 1 ? "" : "s"}` : listed;
}

function percent(fraction: number): string {
  return `${(fraction * 100).toLocaleString("en-US", { maximumFractionDigits: 2 })}%`;
}
