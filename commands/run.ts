import { defineCommand } from "citty";
import { configArg, datasetArg, dryRunArg, jsonArg } from "../src/cli/args.ts";
import { printDryRunPlan } from "../src/cli/plan-report.ts";
import { printRunReport } from "../src/cli/report.ts";
import { scaleOutArgs, scaleOutOptions } from "../src/cli/scale-out-args.ts";
import { dryRunDataset, runDataset } from "../src/stages/pipeline.ts";

export default defineCommand({
  meta: { name: "run", description: "Refresh, index and swap as one chain; any failure or signal rolls back" },
  args: { dataset: datasetArg, config: configArg, json: jsonArg, force: { type: "boolean", description: "swap even when the gates refuse (shrinkage, index failures)", default: false }, rebuild: { type: "boolean", description: "index and swap even when refresh finds nothing changed against live", default: false }, "retry-errors": { type: "boolean", description: "registry datasets: retry rows whose download failed before", default: false }, "dry-run": dryRunArg, ...scaleOutArgs },
  async run({ args }) {
    if (args["dry-run"]) return printDryRunPlan(await dryRunDataset(args.dataset, { config: args.config, rebuild: args.rebuild }, "run"), args.json);
    printRunReport(await runDataset(args.dataset, { config: args.config, force: args.force, rebuild: args.rebuild, retryErrors: args["retry-errors"], scaleOut: scaleOutOptions(args, args.config) }), args.json);
  },
});
