import { defineCommand } from "citty";
import { configArg, datasetArg, intFlag, jsonArg } from "../src/cli/args.ts";
import { formatTime, printJson } from "../src/cli/output.ts";
import { printStageReport } from "../src/cli/report.ts";
import { validateDataset } from "../src/stages/pipeline.ts";
import { readReport } from "../src/stages/registry-admin.ts";

export default defineCommand({
  meta: { name: "validate", description: "Validate rows and payloads, store a report per row, flag flooding publishers" },
  args: {
    dataset: datasetArg,
    config: configArg,
    json: jsonArg,
    report: { type: "string", description: "print the stored validation report with this id instead", valueHint: "ID" },
  },
  async run({ args }) {
    const id = intFlag("report", args.report);
    if (id === undefined) return printStageReport(await validateDataset(args.dataset, { config: args.config }), args.json);
    const report = await readReport(args.dataset, id, args.config);
    if (args.json) return printJson(report);
    const activities = report.activitiesTotal === null ? "" : `, ${report.activitiesValid}/${report.activitiesTotal} activities valid`;
    process.stdout.write(`report ${report.id}: ${report.dataset} ${report.itemKey} (publisher ${report.publisher ?? "-"}), ${report.valid ? "valid" : "INVALID"}${activities}, ${report.errorCount} errors, ${formatTime(report.createdAt)}\n`);
    for (const e of report.errors) {
      process.stdout.write(`  ${e.line}:${e.column} ${e.severity} ${e.message}${e.activity ? ` [${e.activity}]` : ""}\n`);
    }
    if (report.errors.length < report.errorCount) process.stdout.write(`  … ${report.errorCount - report.errors.length} more not stored\n`);
  },
});
