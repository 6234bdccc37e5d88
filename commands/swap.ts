import { defineCommand } from "citty";
import { configArg, datasetArg, intFlag, jsonArg } from "../src/cli/args.ts";
import { printStageReport } from "../src/cli/report.ts";
import { swapDataset } from "../src/stages/pipeline.ts";

export default defineCommand({
  meta: { name: "swap", description: "Promote staging and the new index atomically; --rollback restores the previous generation" },
  args: {
    dataset: datasetArg,
    rollback: { type: "boolean", description: "make the previous generation live again", default: false },
    force: { type: "boolean", description: "swap even when the gates refuse (shrinkage, index failures)", default: false },
    keep: { type: "string", description: "previous generations to keep for rollback (default 1); older ones are dropped", valueHint: "N" },
    config: configArg,
    json: jsonArg,
  },
  async run({ args }) {
    const report = await swapDataset(args.dataset, {
      config: args.config,
      rollback: args.rollback,
      force: args.force,
      keep: intFlag("keep", args.keep),
    });
    printStageReport(report, args.json);
  },
});
