import { defineCommand } from "citty";
import { configArg, datasetArg } from "../src/cli/args.ts";
import { refuseUnbuiltStage } from "../src/stages/not-built.ts";

export default defineCommand({
  meta: { name: "reload", description: "Download the payloads that rows point at into the blob store" },
  args: { dataset: datasetArg, config: configArg },
  async run({ args }) {
    await refuseUnbuiltStage("reload", args.dataset, args.config);
  },
});
