import { defineCommand } from "citty";
import { configArg, datasetArg, jsonArg } from "../src/cli/args.ts";
import { printStageReport } from "../src/cli/report.ts";
import { reloadDataset } from "../src/stages/pipeline.ts";

export default defineCommand({
  meta: { name: "reload", description: "Download the payloads that rows point at into the blob store" },
  args: {
    dataset: datasetArg,
    config: configArg,
    json: jsonArg,
    "retry-errors": { type: "boolean", description: "try rows whose download failed before again (never non-HTTP URLs)", default: false },
  },
  async run({ args }) {
    printStageReport(await reloadDataset(args.dataset, { config: args.config, retryErrors: args["retry-errors"] }), args.json);
  },
});
