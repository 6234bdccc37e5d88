import { defineCommand } from "citty";
import { configArg, datasetArg } from "../src/cli/args.ts";
import { refuseUnbuiltStage } from "../src/stages/not-built.ts";

export default defineCommand({
  meta: { name: "validate", description: "Validate rows and payloads, store a report per row, flag flooding publishers" },
  args: { dataset: datasetArg, config: configArg },
  async run({ args }) {
    await refuseUnbuiltStage("validate", args.dataset, args.config);
  },
});
