import { defineCommand } from "citty";
import { configArg, datasetArg, jsonArg } from "../src/cli/args.ts";
import { formatTime, printJson, printTable } from "../src/cli/output.ts";
import { publishersOf, unflag } from "../src/stages/registry-admin.ts";

const list = defineCommand({
  meta: { name: "list", description: "List a registry dataset's publishers, flagged ones first" },
  args: { dataset: datasetArg, config: configArg, json: jsonArg, flagged: { type: "boolean", description: "only flagged publishers", default: false } },
  async run({ args }) {
    const publishers = await publishersOf(args.dataset, { flaggedOnly: args.flagged, config: args.config });
    if (args.json) return printJson(publishers);
    printTable(
      publishers.map((p) => ({ name: p.name, flagged: formatTime(p.flaggedAt), reason: p.flagReason, unflagged: formatTime(p.unflaggedAt) })),
      ["name", "flagged", "reason", "unflagged"],
    );
  },
});

const unflagCommand = defineCommand({
  meta: { name: "unflag", description: "Let validate check a flagged publisher's documents again" },
  args: { dataset: datasetArg, name: { type: "positional", description: "publisher name", required: true }, config: configArg },
  async run({ args }) {
    await unflag(args.dataset, args.name, args.config);
    process.stdout.write(`publisher ${args.name} of ${args.dataset} is no longer flagged; the next validate checks its documents\n`);
  },
});

export default defineCommand({
  meta: { name: "publisher", description: "List publishers of a registry dataset and lift their flags" },
  subCommands: { list, unflag: unflagCommand },
});
