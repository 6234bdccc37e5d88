import { defineCommand } from "citty";
import { configArg, datasetArg } from "../src/cli/args.ts";
import { refuseUnbuiltStage } from "../src/stages/not-built.ts";

export default defineCommand({
  meta: { name: "refresh", description: "Copy the upstream into a new staging table (filter, limit, clean, build indexes)" },
  args: { dataset: datasetArg, config: configArg },
  async run({ args }) {
    await refuseUnbuiltStage("refresh", args.dataset, args.config);
  },
});
