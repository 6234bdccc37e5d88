import { defineCommand } from "citty";
import { configArg, datasetArg } from "../src/cli/args.ts";
import { refuseUnbuiltStage } from "../src/stages/not-built.ts";

export default defineCommand({
  meta: { name: "index", description: "Build a new Elasticsearch index generation from staging" },
  args: { dataset: datasetArg, config: configArg },
  async run({ args }) {
    await refuseUnbuiltStage("index", args.dataset, args.config);
  },
});
