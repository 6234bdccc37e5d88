import { defineCommand } from "citty";
import { intFlag, jsonArg } from "../src/cli/args.ts";
import { printIngestReport } from "../src/cli/report.ts";
import { ingestBundle } from "../src/stages/ingest/ingest-stage.ts";
import { formatBytes, INGEST_DEFAULTS, parseByteSize } from "../src/stages/ingest/options.ts";

export default defineCommand({
  meta: { name: "ingest", description: "Ingest a tar bundle (metadata.txt + files), hash-checked file by file, all or nothing" },
  args: {
    bundle: { type: "positional", description: "path to the bundle .tar (or .tar.gz)", required: true },
    "max-file-size": { type: "string", description: `largest file accepted in the bundle (default ${formatBytes(INGEST_DEFAULTS.maxFileBytes)})`, valueHint: "SIZE" },
    "max-entries": { type: "string", description: `most entries the tar may hold (default ${INGEST_DEFAULTS.maxEntries})`, valueHint: "N" },
    json: jsonArg,
  },
  async run({ args }) {
    const maxFileBytes = args["max-file-size"] === undefined ? undefined : parseByteSize("max-file-size", args["max-file-size"]);
    const report = await ingestBundle(args.bundle, { maxFileBytes, maxEntries: intFlag("max-entries", args["max-entries"]) });
    printIngestReport(report, args.json);
  },
});
