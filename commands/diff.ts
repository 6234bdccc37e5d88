import { defineCommand } from "citty";
import { configArg, datasetArg, intFlag, jsonArg } from "../src/cli/args.ts";
import { printJson } from "../src/cli/output.ts";
import { diffDataset } from "../src/stages/plan/diff-command.ts";
import { diffSummaryLines } from "../src/stages/plan/diff-summary.ts";

export default defineCommand({
  meta: { name: "diff", description: "Compare a generation waiting to be swapped with live: counts per index, by a field, and keys" },
  args: {
    dataset: datasetArg,
    config: configArg,
    json: jsonArg,
    generation: { type: "string", description: "the generation to compare (default: the ready one)", valueHint: "N" },
    by: { type: "string", description: "also count documents by this keyword field (provider, source, …)", valueHint: "FIELD" },
  },
  async run({ args }) {
    const diff = await diffDataset(args.dataset, { config: args.config, generation: intFlag("generation", args.generation), by: args.by });
    if (args.json) return printJson(diff);
    process.stdout.write(`${diffSummaryLines(diff).join("\n")}\n`);
  },
});
