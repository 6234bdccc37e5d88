import { summarizeCounters } from "../jobs/counters.ts";
import type { StageReport } from "../stages/pipeline.ts";
import { printJson } from "./output.ts";

/** The result of a dataset command: one line per job on stdout, or the whole report as JSON. */
export function printStageReport(report: StageReport, json: boolean): void {
  if (json) return printJson(report);
  for (const step of report.steps) {
    process.stdout.write(`${report.dataset} g${step.generation} ${step.stage} (job ${step.job}): ${summarizeCounters(step.counters)}\n`);
  }
}
