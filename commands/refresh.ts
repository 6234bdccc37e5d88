import { defineCommand } from "citty";
import { configArg, datasetArg, dryRunArg, jsonArg } from "../src/cli/args.ts";
import { printDryRunPlan } from "../src/cli/plan-report.ts";
import { printStageReport } from "../src/cli/report.ts";
import { dryRunDataset, refreshDataset } from "../src/stages/pipeline.ts";

export default defineCommand({
  meta: { name: "refresh", description: "Copy the upstream into a new staging table (filter, limit, clean, build indexes)" },
  args: { dataset: datasetArg, config: configArg, json: jsonArg, "dry-run": dryRunArg },
  async run({ args }) {
    if (args["dry-run"]) return printDryRunPlan(await dryRunDataset(args.dataset, { config: args.config }, "refresh"), args.json);
    printStageReport(await refreshDataset(args.dataset, { config: args.config}), args.json);
  },
});
