import { describe, expect, test } from "bun:test";
import { configArg, datasetArg, jsonArg } from "./args.ts";
import { type CommandShape, checkArgv, closest } from "./strict-args.ts";

/** Shapes as command-tree.ts builds them, from definitions like the real commands'. */
const swap: CommandShape = {
  path: ["sluice", "swap"],
  args: {
    dataset: datasetArg,
    rollback: { type: "boolean", default: false },
    force: { type: "boolean", default: false },
    keep: { type: "string", valueHint: "N" },
    config: configArg,
    json: jsonArg,
  },
  subCommands: [],
  examples: ["sluice swap image", "sluice swap image --keep 2"],
};
const setState: CommandShape = {
  path: ["sluice", "job", "set-state"],
  args: {
    id: { type: "positional", required: false },
    state: { type: "string", required: true },
    percent: { type: "string", alias: ["task-percent"] },
    error: { type: "string", alias: ["exception"] },
    mode: { type: "enum", options: ["fast", "safe"] },
    all: { type: "boolean", alias: ["a"] },
  },
  subCommands: [],
  examples: ["sluice job set-state 42 --state failed"],
};
const ingest: CommandShape = {
  path: ["sluice", "ingest"],
  args: { bundle: { type: "positional", required: true }, "max-entries": { type: "string", valueHint: "N" }, json: jsonArg },
  subCommands: [],
  examples: ["sluice ingest bundle.tar"],
};
const root: CommandShape = { path: ["sluice"], args: {}, subCommands: ["migrate", "run", "job", "swap"], examples: [] };
const job: CommandShape = { path: ["sluice", "job"], args: {}, subCommands: ["list", "show", "set-state"], examples: [] };
const jobList: CommandShape = {
  path: ["sluice", "job", "list"],
  args: { dataset: { type: "string" }, limit: { type: "string", valueHint: "N" }, json: jsonArg },
  subCommands: [],
  examples: ["sluice job list --json"],
};

interface Case {
  name: string;
  shape: CommandShape;
  argv: string[];
  /** indexes of the tokens that name the command */
  path?: number[];
  /** the problem, or null when argv is fine */
  problem: string | RegExp | null;
  commandArgv?: string[];
}

const cases: Case[] = [
  // Fine argv, passed on to citty without the global flags.
  { name: "flags and value", shape: swap, argv: ["swap", "image", "--keep", "2", "--force"], path: [0], problem: null, commandArgv: ["swap", "image", "--keep", "2", "--force"] },
  { name: "--name=value", shape: swap, argv: ["swap", "image", "--keep=0"], path: [0], problem: null },
  { name: "--no-x for a boolean", shape: swap, argv: ["swap", "image", "--no-json"], path: [0], problem: null },
  { name: "an alias", shape: setState, argv: ["job", "set-state", "4", "--state", "failed", "--exception", "disk full", "--task-percent", "40"], path: [0, 1], problem: null },
  { name: "a one-letter alias", shape: setState, argv: ["job", "set-state", "4", "--state", "x", "-a"], path: [0, 1], problem: null },
  { name: "a negative number as a value", shape: setState, argv: ["job", "set-state", "--state", "x", "--percent", "-5"], path: [0, 1], problem: null },
  { name: "everything after -- is an argument", shape: ingest, argv: ["ingest", "--", "--odd-name.tar"], path: [0], problem: null },
  {
    name: "--quiet with --verbose",
    shape: jobList,
    argv: ["-q", "job", "list", "--verbose", "--json"],
    path: [1, 2],
    problem: /contradict/,
  },
  { name: "global flags before the command", shape: jobList, argv: ["--quiet", "job", "list", "--json"], path: [1, 2], problem: null, commandArgv: ["job", "list", "--json"] },
  { name: "an enum value", shape: setState, argv: ["job", "set-state", "1", "--state", "x", "--mode", "safe"], path: [0, 1], problem: null },

  // The cases.
  { name: "misspelled flag", shape: swap, argv: ["swap", "image", "--rolback"], path: [0], problem: "unknown flag --rolback for `sluice swap`; did you mean --rollback?" },
  { name: "unknown flag, nothing close", shape: jobList, argv: ["job", "list", "--bogus"], path: [0, 1], problem: "unknown flag --bogus for `sluice job list` (run `sluice job list --help` for its flags)" },
  { name: "a flag the command does not have", shape: swap, argv: ["swap", "audio", "--dry-run"], path: [0], problem: /^unknown flag --dry-run for `sluice swap`/ },
  { name: "string flag at the end", shape: ingest, argv: ["ingest", "B.tar", "--max-entries"], path: [0], problem: "--max-entries needs a value, e.g. `sluice ingest <BUNDLE> --max-entries N`" },
  { name: "string flag followed by a flag", shape: swap, argv: ["swap", "image", "--keep", "--json"], path: [0], problem: "--keep needs a value, e.g. `sluice swap image --keep 2`" },
  { name: "string flag with an empty value", shape: swap, argv: ["swap", "image", "--keep="], path: [0], problem: /^--keep needs a value/ },
  { name: "boolean given a value", shape: swap, argv: ["swap", "image", "--force=yes"], path: [0], problem: "--force takes no value (got --force=yes); write --force, or --no-force to turn it off" },
  { name: "boolean given false", shape: swap, argv: ["swap", "image", "--force=false"], path: [0], problem: /^--force takes no value/ },
  { name: "flag before the command", shape: jobList, argv: ["--json", "job", "list"], path: [1, 2], problem: "--json belongs to the command: sluice job list --json" },
  { name: "flag and value before the command", shape: jobList, argv: ["--dataset", "image", "job", "list"], path: [2, 3], problem: "--dataset belongs to the command: sluice job list --dataset image" },
  { name: "flag before a nested command", shape: jobList, argv: ["job", "--json", "list"], path: [0, 2], problem: "--json belongs to the command: sluice job list --json" },
  { name: "unknown command, close", shape: root, argv: ["jbo", "list"], problem: "unknown command jbo for `sluice`; did you mean `sluice job`?" },
  { name: "unknown subcommand, close", shape: job, argv: ["job", "lst"], path: [0], problem: "unknown command lst for `sluice job`; did you mean `sluice job list`?" },
  { name: "unknown command, nothing close", shape: root, argv: ["frobnicate"], problem: "unknown command frobnicate for `sluice` (commands: migrate, run, job, swap)" },
  { name: "too many positionals", shape: swap, argv: ["swap", "image", "audio"], path: [0], problem: /^unexpected argument audio for `sluice swap`, which takes DATASET/ },
  { name: "missing positional", shape: swap, argv: ["swap"], path: [0], problem: "missing DATASET for `sluice swap`, e.g. `sluice swap image`" },
  { name: "missing required flag", shape: setState, argv: ["job", "set-state", "4"], path: [0, 1], problem: "missing --state for `sluice job set-state`, e.g. `sluice job set-state 42 --state failed`" },
  { name: "command flag on the root", shape: root, argv: ["--json"], problem: /^unknown flag --json for `sluice` \(only -h\/--help, .* go before the command/ },
  { name: "single dash long name", shape: swap, argv: ["swap", "image", "-rollback"], path: [0], problem: "unknown flag -rollback for `sluice swap`; did you mean --rollback?" },
  { name: "camelCase spelling", shape: jobList, argv: ["job", "list", "--Dataset", "x"], path: [0, 1], problem: "unknown flag --Dataset for `sluice job list`; did you mean --dataset?" },
  { name: "--no- on a string flag", shape: swap, argv: ["swap", "image", "--no-keep"], path: [0], problem: /^unknown flag --no-keep for `sluice swap`/ },
  { name: "global flag given a value", shape: swap, argv: ["swap", "image", "--quiet=1"], path: [0], problem: "--quiet takes no value (got --quiet=1)" },
  { name: "enum value out of range", shape: setState, argv: ["job", "set-state", "1", "--state", "x", "--mode", "saef"], path: [0, 1], problem: 'mode must be one of fast, safe, got "saef"; did you mean safe?'.replace(/^/, "--") },
];

describe("checkArgv", () => {
  test.each(cases)("$name", ({ shape, argv, path, problem, commandArgv }) => {
    const checked = checkArgv(shape, argv, path ?? []);
    if (problem === null) expect(checked.problem).toBeNull();
    else if (typeof problem === "string") expect(checked.problem).toBe(problem);
    else expect(checked.problem).toMatch(problem);
    if (commandArgv) expect(checked.commandArgv).toEqual(commandArgv);
    if (checked.problem) expect(checked.problem).not.toContain("\n");
  });

  test("global flags are read wherever they stand, and only as flags", () => {
    expect(checkArgv(swap, ["swap", "image", "-h"], [0]).globals.help).toBe(true);
    expect(checkArgv(swap, ["--help", "swap"], [1]).globals.help).toBe(true);
    expect(checkArgv(swap, ["swap", "image", "--rolback", "--help"], [0]).globals.help).toBe(true);
    // After --, a "--help" is an argument.
    expect(checkArgv(ingest, ["ingest", "--", "--help"], [0]).globals.help).toBe(false);
    const versioned = checkArgv(root, ["-V"], []);
    expect(versioned.globals.version).toBe(true);
    expect(versioned.hasCommandTokens).toBe(false);
    expect(checkArgv(swap, ["swap", "image", "-v"], [0]).hasCommandTokens).toBe(true);
    expect(checkArgv(root, ["-q"], []).globals.quiet).toBe(true);
    expect(checkArgv(root, ["--verbose"], []).globals.verbose).toBe(true);
    expect(checkArgv(swap, ["--log-format", "json", "swap", "image"], [2]).globals.logFormat).toBe("json");
    expect(checkArgv(swap, ["swap", "image", "--log-format=plain"], [0]).globals.logFormat).toBe("plain");
    expect(checkArgv(swap, ["swap", "image", "--log-format", "jsno"], [0]).problem).toBe('--log-format must be one of plain, json, got "jsno"; did you mean json?');
    expect(checkArgv(swap, ["swap", "image", "--log-format"], [0]).problem).toBe("--log-format must be one of plain, json");
  });

  test("a group given no command needs one; a command that runs does not", () => {
    expect(checkArgv(job, ["job"], [0])).toMatchObject({ problem: null, needsCommand: true });
    expect(checkArgv(root, [], [])).toMatchObject({ problem: null, needsCommand: true });
    expect(checkArgv(jobList, ["job", "list"], [0, 1])).toMatchObject({ problem: null, needsCommand: false });
  });
});

describe("closest", () => {
  test.each([
    ["rolback", ["rollback", "force", "keep"], "rollback"],
    ["jbo", ["job", "run", "swap"], "job"],
    ["retryErrors", ["retry-errors", "json"], "retry-errors"],
    ["max-entry", ["max-entries", "max-file-size"], "max-entries"],
    ["bogus", ["dataset", "state", "limit", "json"], undefined],
    ["x", ["json"], undefined],
  ] as const)("%s -> %s", (word, candidates, expected) => {
    expect(closest(word, candidates)).toBe(expected as string | undefined);
  });
});
