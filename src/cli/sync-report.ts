import { summarizeCounters } from "../jobs/counters.ts";
import type { SyncDryRunPlan } from "../stages/sync/dry-run.ts";
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

/** "notes sync dry run (incremental, notes-g1): would sync; nothing was written", then the counts, samples and gate. */
export function printSyncDryRun(plan: SyncDryRunPlan, json: boolean): void {
  if (json) return printJson(plan);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`${plan.dataset} sync dry run (${[plan.mode, plan.index].filter(Boolean).join(", ")}): ${plan.outcome}; nothing was written`);
  out(`  ${summarizeCounters(plan.counters)}`);
  for (const kind of ["new", "updated", "deleted"] as const) {
    if (plan.sample[kind].length) out(`  ${kind}: ${plan.sample[kind].join(", ")}${(plan.counters[kind] as number) > plan.sample[kind].length ? ", …" : ""}`);
  }
  if (plan.mode === "full" || plan.mode === "incremental") {
    const { deletions, documents, maxDeleteFraction, wouldRefuse } = plan.gate;
    out(`  deletion gate: ${deletions.toLocaleString("en-US")} of ${documents.toLocaleString("en-US")} documents against sync.maxDeleteFraction ${maxDeleteFraction}: ${wouldRefuse ? "would refuse (--force deletes anyway)" : "passes"}`);
  }
  for (const note of plan.notes) out(`  note: ${note}`);
}
