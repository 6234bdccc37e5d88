import { defineCommand } from "citty";
import { configArg, datasetArg } from "../src/cli/args.ts";
import { refuseUnbuiltStage } from "../src/stages/not-built.ts";

export default defineCommand({
  meta: { name: "swap", description: "Promote staging and the new index atomically; --rollback restores the previous generation" },
  args: { dataset: datasetArg, config: configArg },
  async run({ args }) {
    await refuseUnbuiltStage("swap", args.dataset, args.config);
  },
});
