import { defineCommand } from "citty";
import { configArg, datasetArg, intFlag, jsonArg } from "../src/cli/args.ts";
import { printJson } from "../src/cli/output.ts";
import { printStageReport } from "../src/cli/report.ts";
import { leaseSeconds, scaleOutArgs, scaleOutOptions } from "../src/cli/scale-out-args.ts";
import { UsageError } from "../src/errors.ts";
import { indexDataset } from "../src/stages/pipeline.ts";
import { runIndexWorker } from "../src/stages/scale-out/index.ts";

export default defineCommand({
  meta: { name: "index", description: "Build a new Elasticsearch index generation from staging" },
  args: {
    dataset: datasetArg,
    config: configArg,
    json: jsonArg,
    worker: { type: "boolean", description: "join the workers of the generation being indexed: lease key ranges until none is left", default: false },
    wait: { type: "string", description: "with --worker: seconds to wait for ranges while a job holds the dataset's lock (default 120)", valueHint: "seconds" },
    concurrency: { type: "string", description: "with --worker: the most _bulk requests in flight (default index.concurrency; --workers N gives each local worker its share)", valueHint: "N" },
    ...scaleOutArgs,
  },
  async run({ args }) {
    if (!args.worker && args.concurrency !== undefined) throw new UsageError("--concurrency goes with --worker", "set index.concurrency in the config for one process or for --workers N");
    if (args.worker) {
      if (args.workers !== undefined) throw new UsageError("--worker and --workers do not go together", "--workers N starts the coordinator; --worker joins one");
      if (args["fixed-workers"]) throw new UsageError("--fixed-workers goes with --workers, not --worker", "--workers N --fixed-workers starts the coordinator with all N local workers");
      const concurrency = intFlag("concurrency", args.concurrency);
      if (concurrency === 0) throw new UsageError("--concurrency must be at least 1");
      const report = await runIndexWorker(args.dataset, { config: args.config, leaseSeconds: leaseSeconds(args.lease), waitSeconds: intFlag("wait", args.wait), concurrency });
      if (args.json) return printJson(report);
      return console.log(`worker ${report.holder}: ranges ${report.ranges.join(", ") || "none"}, ${report.rowsRead} rows read, ${report.docsSent} documents sent${report.lost.length ? `, lost ${report.lost.join(", ")}` : ""}`);
    }
    printStageReport(await indexDataset(args.dataset, { config: args.config, scaleOut: scaleOutOptions(args, args.config) }), args.json);
  },
});
