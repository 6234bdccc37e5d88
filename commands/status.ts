import { defineCommand } from "citty";
import { configArg, jsonArg } from "../src/cli/args.ts";
import { formatTime, printJson, printTable } from "../src/cli/output.ts";
import { ExitCode, ExitStatusError, type ExitCodeValue } from "../src/errors.ts";
import { collectStatus } from "../src/stages/status.ts";

export default defineCommand({
  meta: { name: "status", description: "Show services, migration version, and each dataset's live generation and last job" },
  args: {
    config: configArg,
    json: jsonArg,
    "exit-code": {
      type: "boolean",
      description: "exit 5 when PostgreSQL or Elasticsearch is unreachable, 3 when migrations are pending or drifted, 6 when a dataset's swap is split, its last run failed or is older than status.maxAgeHours",
      default: false,
    },
  },
  async run({ args }) {
    const report = await collectStatus(args.config);
    const { problems, exitCode } = report.health;
    // The report is printed first, whole; then --exit-code turns the verdict into the exit status.
    const verdict = () => {
      if (args["exit-code"] && exitCode !== 0) {
        throw new ExitStatusError(`unhealthy: ${problems.map((p) => p.message).join("; ")}`, exitCode as ExitCodeValue);
      }
      // Without --exit-code, an unreachable API database is still a failed command (exit 1), as always.
      if (!report.database.reachable) throw new ExitStatusError(report.database.error ?? "PostgreSQL is unreachable", ExitCode.failure);
    };
    if (args.json) {
      printJson(report);
      return verdict();
    }
    const db = report.database;
    const schema = !db.reachable
      ? `unreachable: ${db.error}`
      : db.pending || db.drifted
        ? `migration ${db.migration}/${db.expected}: ${db.pending} pending, ${db.drifted} drifted (run \`sluice migrate up\`)`
        : `migration ${db.migration}/${db.expected}, up to date`;
    process.stdout.write(`database       ${db.url}  ${schema}\n`);
    process.stdout.write(`elasticsearch  ${report.elasticsearch.url ?? "-"}  ${report.elasticsearch.status}\n\n`);
    printTable(
      report.datasets.map((d) => ({
        dataset: d.name,
        source: d.source,
        live: d.liveGeneration === null ? null : `g${d.liveGeneration}`,
        swap: d.swap.state === "split" ? `split: ${d.swap.detail} (run \`${d.swap.repair}\`)` : d.swap.state,
        last_job: d.lastJob ? `${d.lastJob.id} ${d.lastJob.stage} ${d.lastJob.state}` : null,
        finished: formatTime(d.lastJob?.finishedAt ?? null),
      })),
      ["dataset", "source", "live", "swap", "last_job", "finished"],
    );
    process.stdout.write(problems.length ? `\nunhealthy:\n${problems.map((p) => `  ${p.message}`).join("\n")}\n` : "\nhealthy\n");
    verdict();
  },
});
