import { defineCommand } from "citty";
import { configArg, datasetArg, jsonArg } from "../src/cli/args.ts";
import { printStageReport } from "../src/cli/report.ts";
import { indexDataset } from "../src/stages/pipeline.ts";

export default defineCommand({
  meta: { name: "index", description: "Build a new Elasticsearch index generation from staging" },
  args: { dataset: datasetArg, config: configArg, json: jsonArg},
  async run({ args }) {
    printStageReport(await indexDataset(args.dataset, { config: args.config}), args.json);
  },
});
