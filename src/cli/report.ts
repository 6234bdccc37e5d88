import { summarizeCounters } from "../jobs/counters.ts";
import type { IngestReport } from "../stages/ingest/ingest-stage.ts";
import type { StageReport } from "../stages/pipeline.ts";
import { printJson } from "./output.ts";

/** The result of a dataset command: one line per job on stdout, or the whole report as JSON. */
export function printStageReport(report: StageReport, json: boolean): void {
  if (json) return printJson(report);
  for (const step of report.steps) {
    process.stdout.write(`${report.dataset} g${step.generation} ${step.stage} (job ${step.job}): ${summarizeCounters(step.counters)}\n`);
  }
  if (report.unchanged) {
    process.stdout.write(`${report.dataset}: unchanged — no new, changed or removed rows against live generation ${report.unchanged.live}; nothing indexed or swapped (--rebuild builds anyway)\n`);
  }
  if (report.repaired) process.stdout.write(`${report.dataset}: ${report.repaired}\n`);
}

/** "bundles ingest (job 7): bundle 3 accepted, 3 files (12 bytes): read 3 · written 3 · …" */
export function printIngestReport(report: IngestReport, json: boolean): void {
  if (json) return printJson(report);
  const what =
    report.outcome === "accepted"
      ? `bundle ${report.bundle} accepted, ${report.files} files (${report.bytes} bytes)`
      : `already ingested as bundle ${report.bundle}${report.storedByJob === null ? "" : ` (job ${report.storedByJob})`}; nothing changed`;
  process.stdout.write(`${report.dataset} ingest (job ${report.job}): ${what}: ${summarizeCounters(report.counters)}\n`);
}
