import { defineCommand } from "citty";
import { intFlag, jsonArg } from "../src/cli/args.ts";
import { formatTime, printJson, printTable } from "../src/cli/output.ts";
import { ExitCode, ExitStatusError } from "../src/errors.ts";
import { logger } from "../src/log/logger.ts";
import { applyMigrations, reportMigrations, revertMigrations } from "../src/stages/migrate.ts";

const up = defineCommand({
  meta: { name: "up", description: "Apply pending migrations (all, or up to --to N)" },
  args: { to: { type: "string", description: "stop after this version", valueHint: "N" } },
  async run({ args }) {
    const applied = await applyMigrations(intFlag("to", args.to));
    if (applied.length === 0) logger.info("nothing to apply: the database is up to date");
  },
});

const down = defineCommand({
  meta: { name: "down", description: "Revert migrations (one step, or down to --to N; --to 0 removes everything)" },
  args: { to: { type: "string", description: "revert down to this version", valueHint: "N" } },
  async run({ args }) {
    const reverted = await revertMigrations(intFlag("to", args.to));
    if (reverted.length === 0) logger.info("nothing to revert");
  },
});

const status = defineCommand({
  meta: { name: "status", description: "Show applied, pending and drifted migrations with checksums" },
  args: {
    json: jsonArg,
    "exit-code": { type: "boolean", description: "exit 3 when a migration is pending or drifted", default: false },
  },
  async run({ args }) {
    const report = await reportMigrations();
    if (args.json) printJson(report.migrations);
    else
      printTable(
        report.migrations.map((m) => ({
          version: String(m.version).padStart(4, "0"),
          name: m.name,
          state: m.state,
          checksum: m.checksum.slice(0, 12) || null,
          recorded: m.appliedChecksum?.slice(0, 12) ?? null,
          applied_at: formatTime(m.appliedAt),
        })),
        ["version", "name", "state", "checksum", "recorded", "applied_at"],
      );
    if (args["exit-code"] && report.exitCode !== 0) {
      const notApplied = report.migrations.filter((m) => m.state !== "applied");
      throw new ExitStatusError(
        `${notApplied.length} migration(s) not applied: ${notApplied.map((m) => `${String(m.version).padStart(4, "0")}_${m.name} ${m.state}`).join(", ")}`,
        ExitCode.schema,
        notApplied.some((m) => m.state === "drifted") ? "restore the drifted file or repair sluice.schema_migrations" : "run `sluice migrate up`",
      );
    }
  },
});

export default defineCommand({
  meta: { name: "migrate", description: "Apply, revert or list sluice's database migrations" },
  subCommands: { up, down, status },
});
