import { runCounters, summarizeCounters } from "../jobs/counters.ts";
import type { IngestReport } from "../stages/ingest/ingest-stage.ts";
import type { StageReport } from "../stages/pipeline.ts";
import { printJson } from "./output.ts";

/**
 * The result of a dataset command: one line per job on stdout, then any warning a stage gave (they
 * were logged when they arose, and are repeated here where they cannot scroll away), or the whole
 * report as JSON with the warnings gathered at the top.
 */
export function printStageReport(report: StageReport, json: boolean): void {
  const warnings = report.steps.flatMap((s) => s.warnings ?? []);
  if (json) return printJson({ ...report, warnings });
  printSteps(report);
  printWarnings(warnings);
}

/**
 * `run`: the steps' lines, then the run's own line, whose skipped and failed rows are every
 * stage's, each reason named with its stage:
 *
 *   image g2 run: read 1,899 · written 1,374 · skipped 525 (refresh.removed_from_source 525) · failed 0
 */
export function printRunReport(report: StageReport, json: boolean): void {
  const totals = runCounters(report.steps);
  const warnings = report.steps.flatMap((s) => s.warnings ?? []);
  if (json) return printJson({ ...report, totals, warnings });
  printSteps(report);
  process.stdout.write(`${report.dataset} g${report.generation} run: ${summarizeCounters(totals)}\n`);
  printWarnings(warnings);
}

function printSteps(report: StageReport): void {
  for (const step of report.steps) {
    process.stdout.write(`${report.dataset} g${step.generation} ${step.stage} (job ${step.job}): ${summarizeCounters(step.counters)}\n`);
  }
  if (report.unchanged) {
    process.stdout.write(`${report.dataset}: unchanged — no new, changed or removed rows against live generation ${report.unchanged.live}; nothing indexed or swapped (--rebuild builds anyway)\n`);
  }
  if (report.repaired) process.stdout.write(`${report.dataset}: ${report.repaired}\n`);
}

function printWarnings(warnings: string[]): void {
  for (const warning of warnings) process.stdout.write(`warning: ${warning}\n`);
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
