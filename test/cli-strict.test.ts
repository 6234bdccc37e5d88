/**
 * Issue 9.1, strict command line: bad argv exits 2 with one line naming the flag (and the close
 * spelling), and nothing runs — no job, no generation, no staging table, no index, no blob. The
 * upstream holds the Openverse samples and a real bundle is on disk, so a command that did run
 * would leave a trace.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { main } from "../src/cli.ts";
import { allCommands } from "../src/cli/command-tree.ts";
import { GLOBAL_FLAGS } from "../src/cli/strict-args.ts";
import { logger } from "../src/log/logger.ts";
import { goodEntries, writeTar } from "./support/bundles.ts";
import { createTestEnvironment, elasticsearchUrl, spawnSluice, type TestEnvironment } from "./support/harness.ts";
import { loadOpenverseSample } from "./support/openverse.ts";

let t: TestEnvironment;
let dir: string;
let bundle: string;

beforeAll(async () => {
  t = await createTestEnvironment("clistrict");
  await loadOpenverseSample(t, ["audio"]);
  expect((await t.sluice("migrate", "up")).code).toBe(0);
  dir = mkdtempSync(join(tmpdir(), "sluice-cli-strict-"));
  process.env.SLUICE_BLOB_DIR = join(dir, "blobs");
  bundle = await writeTar(join(dir, "B.tar"), await goodEntries());
});
afterAll(async () => {
  delete process.env.SLUICE_BLOB_DIR;
  rmSync(dir, { recursive: true, force: true });
  await t.drop();
}, 120_000); // DROP DATABASE waits for a checkpoint; on a busy machine that takes many seconds

/** Everything a command that ran would leave behind: rows in sluice's tables, API tables, indices, blobs. */
async function traces(): Promise<unknown> {
  const tables = await t.api<{ schema: string; name: string }[]>`
    select table_schema as schema, table_name as name from information_schema.tables
    where table_schema not in ('pg_catalog', 'information_schema') order by 1, 2`;
  const rows: Record<string, number> = {};
  for (const { schema, name } of tables) {
    if (schema !== "sluice") continue;
    const [row] = await t.api.unsafe(`select count(*)::int as n from sluice."${name}"`);
    rows[name] = row!.n;
  }
  const indices = await fetch(`${elasticsearchUrl}/_cat/indices/${t.indexPrefix}*?h=index&expand_wildcards=all`).then((r) => r.text());
  let blobs: string[] = [];
  try {
    blobs = readdirSync(join(dir, "blobs"), { recursive: true }) as string[];
  } catch {}
  return { tables: tables.map((r) => `${r.schema}.${r.name}`), rows, indices: indices.split("\n").filter(Boolean).sort(), blobs };
}

/** Runs sluice in-process and returns its exit code, stdout and the lines it logged as errors. */
async function sluiceLogged(...args: string[]): Promise<{ code: number; stdout: string; errors: string[] }> {
  const errors: string[] = [];
  const reporter = { log: (entry: { type: string; args: unknown[] }) => void (entry.type === "error" && errors.push(entry.args.join(" "))) };
  logger.addReporter(reporter);
  try {
    return { ...(await t.sluice(...args)), errors };
  } finally {
    logger.removeReporter(reporter);
  }
}

describe("bad argv exits 2, names the problem in one line, and runs nothing", () => {
  const cases: [string[], string][] = [
    [["run", "audio", "--dry-rn"], "unknown flag --dry-rn for `sluice run`; did you mean --dry-run?"],
    [["swap", "image", "--rolback"], "unknown flag --rolback for `sluice swap`; did you mean --rollback?"],
    [["validate", "iati", "--report"], "--report needs a value, e.g. `sluice validate iati --report 42`"],
    [["ingest", "<bundle>", "--max-entries"], "--max-entries needs a value, e.g. `sluice ingest upload.tar.gz --max-file-size 50G --max-entries 50000 --json`"],
    [["--json", "job", "list"], "--json belongs to the command: sluice job list --json"],
    [["job", "list", "--bogus"], "unknown flag --bogus for `sluice job list`"],
    [["run", "audio", "--force=yes"], "--force takes no value (got --force=yes); write --force, or --no-force to turn it off"],
    [["run", "audio", "extra"], "unexpected argument extra for `sluice run`, which takes DATASET"],
    [["rnu", "audio"], "unknown command rnu for `sluice`; did you mean `sluice run`?"],
    [["--config", "sluice.config.ts", "run", "audio"], "--config belongs to the command: sluice run audio --config sluice.config.ts"],
    [["run", "audio", "-v"], "--version takes no command or flags (run `sluice --version`)"],
    [["run", "audio", "--quiet", "--verbose"], "--quiet and --verbose contradict each other; give one"],
  ];
  test.each(cases)("sluice %j", async (argv, message) => {
    const before = await traces();
    const { code, stdout, errors } = await sluiceLogged(...argv.map((a) => (a === "<bundle>" ? bundle : a)));
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(errors).toHaveLength(1);
    expect(errors[0]).toStartWith(message);
    expect(errors[0]).not.toContain("\n");
    expect(await traces()).toEqual(before);
  });

  test("the same argv, corrected, does run (the traces above would have shown it)", async () => {
    const before = (await traces()) as { rows: Record<string, number> };
    const { code } = await sluiceLogged("ingest", bundle, "--max-entries", "100");
    expect(code).toBe(0);
    const after = (await traces()) as { rows: Record<string, number>; blobs: string[] };
    expect(after.rows.jobs).toBe(before.rows.jobs! + 1);
    expect(after.blobs.length).toBeGreaterThan(0);
  });
});

describe("positionals are named as typed", () => {
  test("job show abc names the job id, not --id", async () => {
    const { code, errors } = await sluiceLogged("job", "show", "abc");
    expect(code).toBe(2);
    expect(errors).toEqual(['job id must be a whole number, got "abc"']);
  });

  test("job set-state names whichever spelling was given", async () => {
    expect((await sluiceLogged("job", "set-state", "x1", "--state", "failed")).errors).toEqual(['job id must be a whole number, got "x1"']);
    expect((await sluiceLogged("job", "set-state", "--job-id", "x1", "--state", "failed")).errors).toEqual(['--job-id must be a whole number, got "x1"']);
  });
});

describe("help and version", () => {
  test("every command's usage line reads its full path", async () => {
    for (const { path } of await allCommands(main)) {
      const { code, stdout } = await t.sluice(...path.slice(1), "--help");
      expect(code).toBe(0);
      expect(stripVTControlCharacters(stdout)).toMatch(new RegExp(`^USAGE ${path.join(" ")}( |$)`, "m"));
    }
  });

  test("-h and --help win wherever they stand, even over a bad flag", async () => {
    const { code, stdout } = await t.sluice("swap", "image", "--rolback", "-h");
    expect(code).toBe(0);
    expect(stripVTControlCharacters(stdout)).toContain("USAGE sluice swap");
  });

  test("-V, -v and --version print the version; the root help lists the global flags", async () => {
    for (const flag of ["-V", "-v", "--version"]) expect((await t.sluice(flag)).stdout).toMatch(/^sluice \d+\.\d+\.\d+ \(database migration \d+\)\n$/);
    const help = stripVTControlCharacters((await t.sluice("--help")).stdout);
    for (const spelling of ["-h, --help", "-V, -v, --version", "-q, --quiet", "--verbose"]) expect(help).toContain(spelling);
  });

  test("no command's flags collide with the global ones", async () => {
    const globalNames = new Set(GLOBAL_FLAGS.flatMap((g) => [g.long, ...g.short]));
    const collisions: string[] = [];
    for (const { path, args } of await allCommands(main)) {
      for (const [name, def] of Object.entries(args)) {
        if (def.type === "positional") continue;
        for (const spelling of [name, ...[def.alias ?? []].flat()]) if (globalNames.has(spelling)) collisions.push(`${path.join(" ")} ${spelling}`);
      }
    }
    expect(collisions).toEqual([]);
  });

  test("help piped to a file, or under NO_COLOR, has no escape codes", async () => {
    // citty colours unless CI/TEST/NO_COLOR=1 is set; run as an operator's shell would.
    const env = { ...t.childEnv(), TERM: "xterm-256color" } as Record<string, string>;
    delete env.CI;
    delete env.TEST;
    delete env.NO_COLOR;
    for (const [argv, extra] of [[["swap", "--help"], {}], [["--help"], {}], [["migrate", "up", "--help"], { NO_COLOR: "1" }]] as const) {
      const child = spawnSluice([...argv], { ...env, ...extra });
      const [code, out] = await Promise.all([child.exited, new Response(child.stdout).text()]);
      expect(code).toBe(0);
      expect(out).toContain("USAGE sluice");
      expect(out).not.toContain("\u001b[");
    }
  });
});

describe("logs carry colour only on a terminal, and not under NO_COLOR", () => {
  /** Runs `sluice …` under a pseudo-terminal (util-linux `script`), as an operator's shell would. */
  async function onTerminal(shellArgs: string, extra: Record<string, string>): Promise<{ code: number; screen: string }> {
    const env = { ...t.childEnv(), TERM: "xterm-256color", ...extra } as Record<string, string>;
    delete env.CI;
    delete env.TEST;
    delete env.NODE_ENV;
    if (!("NO_COLOR" in extra)) delete env.NO_COLOR;
    const child = Bun.spawn(["script", "-q", "-e", "-c", `bun src/cli.ts ${shellArgs}`, "/dev/null"], {
      cwd: new URL("../", import.meta.url).pathname,
      env,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, screen] = await Promise.all([child.exited, new Response(child.stdout).text()]);
    return { code, screen };
  }

  test.skipIf(!Bun.which("script"))("stderr to a file, stdout a terminal: the file is plain; NO_COLOR on a terminal is plain", async () => {
    const file = join(dir, "stderr.log");
    expect((await onTerminal(`job show abc 2>${file}`, {})).code).toBe(2);
    const logged = await Bun.file(file).text();
    expect(logged).toContain("must be a whole number");
    expect(logged).not.toContain("\u001b[");
    // On the terminal itself the error is coloured (so the checks here can see colour) ...
    const coloured = await onTerminal("job show abc", {});
    expect(coloured.screen).toContain("must be a whole number");
    expect(coloured.screen).toContain("\u001b[");
    // ... and NO_COLOR takes it away, for logs and for help alike.
    for (const argv of ["job show abc", "swap --help"]) {
      const plain = await onTerminal(argv, { NO_COLOR: "1" });
      expect(plain.screen).toMatch(/must be a whole number|USAGE sluice swap/);
      expect(plain.screen).not.toContain("\u001b[");
    }
  });
});

describe("log level", () => {
  test("SLUICE_LOG_LEVEL=bogus is a configuration error listing the levels", async () => {
    const errors: string[] = [];
    const reporter = { log: (entry: { type: string; args: unknown[] }) => void (entry.type === "error" && errors.push(entry.args.join(" "))) };
    logger.addReporter(reporter);
    try {
      const before = await traces();
      const { code } = await t.sluiceWith({ SLUICE_LOG_LEVEL: "bogus" }, "migrate", "up");
      expect(code).toBe(2);
      expect(errors).toEqual(['SLUICE_LOG_LEVEL must be one of silent, error, warn, info, debug, trace, got "bogus" (or use --quiet / --verbose)']);
      expect(await traces()).toEqual(before);
    } finally {
      logger.removeReporter(reporter);
    }
  });

  test("--quiet (before or after the command) logs only errors; --verbose and SLUICE_LOG_LEVEL=debug say more", async () => {
    const run = async (argv: string[], extra: Record<string, string> = {}) => {
      const child = spawnSluice(argv, { ...t.childEnv(), ...extra });
      const [code, err] = await Promise.all([child.exited, new Response(child.stderr).text()]);
      expect(code).toBe(0);
      return err;
    };
    // Applied/Reverted lines come from a logger made when its module loaded: --quiet reaches it too.
    expect(await run(["migrate", "down", "--to", "3", "--quiet"])).toBe("");
    expect(await run(["--quiet", "migrate", "up"])).toBe("");
    expect(await run(["migrate", "up"])).toContain("nothing to apply");
    expect(await run(["migrate", "up", "-q"])).toBe("");
    expect(await run(["migrate", "up"], { SLUICE_LOG_LEVEL: "error" })).toBe("");
    // --quiet wins over the environment; the environment's level still applies without a flag.
    expect(await run(["migrate", "up", "--quiet"], { SLUICE_LOG_LEVEL: "debug" })).toBe("");
    expect(await run(["migrate", "up", "--verbose"], { SLUICE_LOG_LEVEL: "error" })).toContain("nothing to apply");
  });
});
