import { summarizeCounters } from "../jobs/counters.ts";
import type { SyncReport } from "../stages/sync/sync-stage.ts";
import { printJson } from "./output.ts";

/** "photos sync (job 12, full, photos-g1): read 10 · written 3 · … · new 1 · updated 2 · deleted 1 · unchanged 7" */
export function printSyncReport(report: SyncReport, json: boolean): void {
  if (json) return printJson(report);
  if (report.mode === "skipped") {
    process.stdout.write(`${report.dataset} sync (job ${report.job}): skipped: ${report.skipped}\n`);
    return;
  }
  const where = [report.mode === "first" ? `first generation ${report.generation}` : report.mode, report.index].filter(Boolean).join(", ");
  process.stdout.write(`${report.dataset} sync (job ${report.job}, ${where}): ${summarizeCounters(report.counters)}\n`);
}
