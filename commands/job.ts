import { defineCommand } from "citty";
import { intFlag, jsonArg } from "../src/cli/args.ts";
import { formatTime, printJson, printTable } from "../src/cli/output.ts";
import { UsageError } from "../src/errors.ts";
import { summarizeCounters } from "../src/jobs/counters.ts";
import { JOB_STATES, type JobView, parseJobState } from "../src/jobs/jobs.ts";
import { findJob, findJobRanges, findJobs, overrideJobState } from "../src/stages/jobs-admin.ts";
import { type SearchCheckResult, searchCheckLines } from "../src/stages/swap/search-check-eval.ts";

/** "running", or "running (process gone)" for a job whose lock and heartbeat are gone. */
function stateLabel(job: JobView): string {
  return job.state === "running" && job.alive === false ? "running (process gone)" : job.state;
}

const list = defineCommand({
  meta: { name: "list", description: "List recent jobs, newest first" },
  args: {
    dataset: { type: "string", description: "only this dataset" },
    state: { type: "string", description: `only this state (${JOB_STATES.join(", ")})` },
    limit: { type: "string", description: "at most this many (default 20)", valueHint: "N" },
    json: jsonArg,
  },
  async run({ args }) {
    const jobs = await findJobs({
      dataset: args.dataset,
      state: args.state === undefined ? undefined : parseJobState(args.state),
      limit: intFlag("limit", args.limit),
    });
    if (args.json) return printJson(jobs);
    printTable(
      jobs.map((j) => ({
        id: j.id,
        dataset: j.dataset,
        stage: j.stage,
        gen: j.generation,
        state: stateLabel(j),
        task: j.task,
        percent: j.percent === null ? null : `${Math.round(j.percent)}%`,
        started: formatTime(j.startedAt),
        finished: formatTime(j.finishedAt),
      })),
      ["id", "dataset", "stage", "gen", "state", "task", "percent", "started", "finished"],
    );
  },
});

const show = defineCommand({
  meta: { name: "show", description: "Show one job: state, task, percent, counters, error" },
  args: { id: { type: "positional", description: "job id", required: true }, json: jsonArg },
  async run({ args }) {
    const id = intFlag({ positional: "job id" }, args.id)!;
    const job = await findJob(id);
    const spread = job.stage === "index" ? await findJobRanges(id) : { ranges: [], workers: [] };
    if (args.json) return printJson(spread.ranges.length ? { ...job, ...spread } : job);
    const rows: [string, string | number | null][] = [
      ["id", job.id],
      ["dataset", job.dataset],
      ["stage", job.stage],
      ["generation", job.generation],
      ["parent", job.parentId],
      ["state", stateLabel(job)],
      ["task", job.task],
      ["percent", job.percent === null ? null : `${job.percent.toFixed(1)}%`],
      ["counters", summarizeCounters(job.counters)],
      ["process", job.pid ? `pid ${job.pid} on ${job.host}` : null],
      ["started", formatTime(job.startedAt)],
      ["heartbeat", formatTime(job.heartbeatAt)],
      ["finished", formatTime(job.finishedAt)],
      ["error", job.error],
    ];
    for (const [k, v] of rows) process.stdout.write(`${k.padEnd(11)} ${v ?? "-"}\n`);
    const checks = (job.counters as Record<string, unknown>).searchChecks;
    if (Array.isArray(checks)) process.stdout.write(`\nsearch checks, live beside new:\n${searchCheckLines(checks as SearchCheckResult[]).join("\n")}\n`);
    if (spread.ranges.length) {
      process.stdout.write(`\nranges:\n`);
      printTable(spread.ranges as unknown as Record<string, string | number | null>[], ["range", "bounds", "state", "holder", "attempts", "read", "sent", "failed", "checkpoint"]);
      process.stdout.write(`\nworkers:\n`);
      printTable(spread.workers as unknown as Record<string, string | number | null>[], ["holder", "done", "working", "read", "sent", "failed"]);
    }
  },
});

const setState = defineCommand({
  meta: { name: "set-state", description: "Set a job's state by hand (the administrator's way to end a stuck job)" },
  args: {
    id: { type: "positional", description: "job id (or --job-id)", required: false },
    "job-id": { type: "string", description: "job id, Pacifica's spelling" },
    state: { type: "string", description: `new state: ${JOB_STATES.join(", ")}`, required: true },
    task: { type: "string", description: "task name to record" },
    percent: { type: "string", description: "percent done, 0–100", alias: ["task-percent"] },
    error: { type: "string", description: "error message to record", alias: ["exception"] },
    json: jsonArg,
  },
  async run({ args }) {
    if (args.id !== undefined && args["job-id"] !== undefined) throw new UsageError("give the job id once: as ID or as --job-id, not both");
    if (!args.id && !args["job-id"]) throw new UsageError("which job? give its id", "sluice job set-state ID --state failed");
    const percent = args.percent === undefined ? undefined : Number(args.percent);
    if (percent !== undefined && Number.isNaN(percent)) throw new UsageError(`--percent must be a number, got "${args.percent}"`);
    const id = args.id !== undefined ? intFlag({ positional: "job id" }, args.id) : intFlag("job-id", args["job-id"]);
    const job = await overrideJobState(id!, { state: args.state, task: args.task, percent, error: args.error });
    if (args.json) return printJson(job);
    process.stdout.write(`job ${job.id} is now ${job.state}\n`);
  },
});

export default defineCommand({
  meta: { name: "job", description: "List, show and override stage jobs" },
  subCommands: { list, show, "set-state": setState },
});
