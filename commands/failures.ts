import { defineCommand } from "citty";
import { intFlag, jsonArg } from "../src/cli/args.ts";
import { printJson, printTable } from "../src/cli/output.ts";
import { listFailures } from "../src/stages/failures.ts";

export default defineCommand({
  meta: { name: "failures", description: "List the rows and documents a job or a dataset's jobs could not take (sluice.row_failures)" },
  args: {
    target: { type: "positional", description: "a job id (a run includes its stages) or a dataset name", required: true, valueHint: "job-id|dataset" },
    reason: { type: "string", description: "only this reason (e.g. invalid_json)", valueHint: "R" },
    limit: { type: "string", description: "at most this many, newest first (default 50)", valueHint: "N" },
    json: jsonArg,
  },
  async run({ args }) {
    const listing = await listFailures({ target: args.target, reason: args.reason, limit: intFlag("limit", args.limit) });
    if (args.json) return printJson(listing);
    const reasons = Object.entries(listing.byReason).map(([r, n]) => `${r} ${n.toLocaleString("en-US")}`).join(", ");
    process.stdout.write(`${listing.total.toLocaleString("en-US")} failure(s)${reasons ? `: ${reasons}` : ""}\n\n`);
    printTable(
      listing.failures.map((f) => ({
        job: f.jobId,
        stage: f.stage,
        key: f.key,
        reason: f.reason,
        detail: f.detail && f.detail.length > 100 ? `${f.detail.slice(0, 99)}…` : f.detail,
      })),
      ["job", "stage", "key", "reason", "detail"],
    );
    if (listing.failures.length < listing.total) process.stdout.write(`\n(${listing.failures.length} of ${listing.total} shown; --limit N for more)\n`);
  },
});
