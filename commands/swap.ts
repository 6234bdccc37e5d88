import { defineCommand } from "citty";
import { configArg, datasetArg, intFlag, jsonArg } from "../src/cli/args.ts";
import { printStageReport } from "../src/cli/report.ts";
import { UsageError } from "../src/errors.ts";
import { swapDataset } from "../src/stages/pipeline.ts";

export default defineCommand({
  meta: { name: "swap", description: "Promote staging and the new index atomically; --rollback restores the previous generation; --repair finishes an interrupted swap" },
  args: {
    dataset: datasetArg,
    rollback: { type: "boolean", description: "make the previous generation live again", default: false },
    repair: { type: "boolean", description: "bring table, alias and generations back onto one generation after an interrupted swap (`sluice status` shows it as split)", default: false },
    force: { type: "boolean", description: "swap even when the gates refuse (shrinkage, index failures, another configuration)", default: false },
    keep: { type: "string", description: "previous generations to keep for rollback (default 1); older ones are dropped", valueHint: "N" },
    config: configArg,
    json: jsonArg,
  },
  async run({ args }) {
    if (args.repair && (args.rollback || args.force || args.keep !== undefined)) throw new UsageError("--repair takes no --rollback, --force or --keep", "run `sluice swap <dataset> --repair` alone");
    const report = await swapDataset(args.dataset, {
      config: args.config,
      rollback: args.rollback,
      repair: args.repair,
      force: args.force,
      keep: intFlag("keep", args.keep),
    });
    printStageReport(report, args.json);
  },
});
