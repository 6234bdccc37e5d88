/**
 * Prints a `--dry-run` plan: the rows as the refresh would count them, the keys against live with
 * a sample of each kind, the gates that would refuse, and the outcome. `--json` prints the plan.
 *
 *   image dry run (run): would promote; nothing was written
 *   ROWS     COUNT  REASON
 *   read     1,899
 *   ...
 */
import { total } from "../jobs/counters.ts";
import type { DryRunPlan } from "../stages/plan/dry-run.ts";
import { printJson, printTable } from "./output.ts";

export function printDryRunPlan(plan: DryRunPlan, json: boolean): void {
  if (json) return printJson(plan);
  const n = (x: number) => x.toLocaleString("en-US");
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`${plan.dataset} dry run (${plan.command}): ${plan.outcome}; nothing was written`);
  const rows: Record<string, string>[] = [
    { rows: "read", count: n(plan.counters.read), reason: "" },
    { rows: "written", count: n(plan.counters.written), reason: "" },
  ];
  for (const section of ["skipped", "failed", "cleaned"] as const) {
    const bucket = (plan.counters[section] ?? {}) as Record<string, number>;
    rows.push({ rows: section, count: n(total(bucket)), reason: "" });
    for (const [reason, count] of Object.entries(bucket)) rows.push({ rows: "", count: n(count), reason });
  }
  printTable(rows, ["rows", "count", "reason"]);
  out("");
  const keys = (["new", "changed", "removed"] as const).map((kind) => ({ keys: kind, count: n(plan.changes[kind]), sample: plan.changes.sample[kind].join(", ") }));
  printTable(keys, ["keys", "count", "sample"]);
  out(`against live${plan.live === null ? " (nothing live yet)" : ` generation ${plan.live}`}: ${plan.liveRows === null ? "no live table" : `${n(plan.liveRows)} rows`}${plan.liveDocuments === null ? "" : `, ${n(plan.liveDocuments)} documents`}`);
  if (plan.wouldDiscard.length) out(`would first discard pending generation${plan.wouldDiscard.length > 1 ? "s" : ""} ${plan.wouldDiscard.join(", ")}`);
  if (plan.refusals.length) {
    out("");
    printTable(plan.refusals, ["gate", "reason"]);
  } else out("gates: none would refuse");
  for (const warning of plan.warnings) out(`warning: ${warning}`);
}
