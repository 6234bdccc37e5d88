import { defineCommand } from "citty";
import { configArg, datasetArg, dryRunArg, jsonArg } from "../src/cli/args.ts";
import { printSyncDryRun, printSyncReport } from "../src/cli/sync-report.ts";
import { UsageError } from "../src/errors.ts";
import { planSyncDryRun } from "../src/stages/sync/dry-run.ts";
import { syncDataset } from "../src/stages/sync/sync-stage.ts";

export default defineCommand({
  meta: { name: "sync", description: "Keep the live index in step with the source in place: upsert new and changed, delete vanished" },
  args: {
    dataset: datasetArg,
    config: configArg,
    json: jsonArg,
    full: { type: "boolean", description: "compare every record with the index (the default when no cursor is stored)", default: false },
    incremental: { type: "boolean", description: "only records changed since the stored cursor (the default once there is one)", default: false },
    force: { type: "boolean", description: "delete even beyond sync.maxDeleteFraction of the index", default: false },
    "dry-run": dryRunArg,
  },
  async run({ args }) {
    if (args.full && args.incremental) throw new UsageError("--full and --incremental exclude each other", "give one, or neither to let sync choose");
    const mode = args.full ? "full" : args.incremental ? "incremental" : null;
    if (args["dry-run"]) return printSyncDryRun(await planSyncDryRun(args.dataset, { config: args.config, mode, force: args.force }), args.json);
    printSyncReport(await syncDataset(args.dataset, { config: args.config, mode, force: args.force }), args.json);
  },
});
