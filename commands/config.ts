import { defineCommand } from "citty";
import { configArg, jsonArg } from "../src/cli/args.ts";
import { printJson } from "../src/cli/output.ts";
import { datasetLines } from "../src/config/describe.ts";
import { configJsonSchema } from "../src/config/schema.ts";
import { ExitCode, ExitStatusError } from "../src/errors.ts";
import { checkConfiguration, reportProblems } from "../src/stages/config-check.ts";

const check = defineCommand({
  meta: {
    name: "check",
    description: "Validate the config, reach every source and Elasticsearch, and print each dataset as resolved (the config file's datasets, else the built-in ones, or the one named)",
  },
  args: {
    dataset: { type: "positional", description: "check only this dataset (built-in or from the config)", required: false },
    config: configArg,
    json: jsonArg,
  },
  async run({ args }) {
    const report = await checkConfiguration(args.config, args.dataset);
    if (args.json) printJson(report);
    else {
      process.stdout.write(`config  ${report.config ?? "(none: built-in datasets only)"}\n`);
      for (const dataset of report.datasets) {
        process.stdout.write(`\n${dataset.name}  (${dataset.origin})\n`);
        for (const line of datasetLines(dataset.resolved)) process.stdout.write(`  ${line}\n`);
        for (const c of dataset.checks) process.stdout.write(`  ${c.ok ? "ok    " : "FAILED"}  ${c.what}: ${c.detail}\n`);
      }
    }
    const problems = reportProblems(report);
    if (problems.length) throw new ExitStatusError(`config check failed: ${problems.join("; ")}`, ExitCode.failure);
  },
});

const schema = defineCommand({
  meta: { name: "schema", description: "Print the JSON Schema of sluice.config.ts's default export" },
  run() {
    printJson(configJsonSchema());
  },
});

export default defineCommand({
  meta: { name: "config", description: "Check the configuration, or print its JSON Schema" },
  subCommands: { check, schema },
});
