import { defineCommand } from "citty";
import { configArg, datasetArg, jsonArg } from "../src/cli/args.ts";
import { printStageReport } from "../src/cli/report.ts";
import { refreshDataset } from "../src/stages/pipeline.ts";

export default defineCommand({
  meta: { name: "refresh", description: "Copy the upstream into a new staging table (filter, limit, clean, build indexes)" },
  args: { dataset: datasetArg, config: configArg, json: jsonArg},
  async run({ args }) {
    printStageReport(await refreshDataset(args.dataset, { config: args.config}), args.json);
  },
});
