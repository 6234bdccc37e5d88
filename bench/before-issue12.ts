/**
 * "sluice before issue 12": the index stage as it was before issue 12's work, built from git and
 * run in the same rounds as today's, so that the CPU goal (at most half of the CPU per document
 * before) compares two figures measured on the same host at the same time. A fixed figure from
 * another day does not: on 2026-12-02 every process on this host needed 2.5 times its CPU of the
 * day before, and a fixed 0.047 CPU-s per 1k documents then said the goal was missed or met by
 * the day, not by the code.
 *
 * Not timed: the tree of BEFORE_ISSUE_12 is taken with `git archive`, its dependencies installed
 * with its own lockfile, its binary built as its package.json built it, and its own API database
 * refreshed from the bench's upstream. Each round then runs its `index image` (without the
 * filtered twin, as today's rounds) on indices of its own prefix; everything is deleted afterwards.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Tool } from "./index-rounds.ts";
import { log, ROOT, runCommand } from "./lib.ts";

/** main before d97b5f3, the first commit of issue 12 (its bench in rounds); the 0.047 was measured on this code. */
export const BEFORE_ISSUE_12 = "eb867a7";

/** Its name in the rounds and the results. */
export const BEFORE_TOOL = "sluice before #12";

export interface BeforeSetup {
  /** The API database of its own, as a URL; created and dropped by the caller's helpers. */
  databaseUrl: string;
  createDatabase(): Promise<void>;
  dropDatabase(): Promise<void>;
  /** Deletes the indices its database recorded as its generations', by full name. */
  deleteIndices(): Promise<void>;
  /** The whole environment today's sluice runs with (the bench's own, upstream, Elasticsearch, SLUICE_INDEX_DEGRADE …). */
  env: Record<string, string>;
  prefix: string;
}

/** The tool and its clean-up, or why it was skipped. */
export async function beforeIssue12(setup: BeforeSetup): Promise<{ tool: Tool; cleanUp: () => Promise<void> } | { skipped: string }> {
  const has = Bun.spawnSync(["git", "-C", ROOT, "cat-file", "-e", `${BEFORE_ISSUE_12}^{commit}`], { stdout: "pipe", stderr: "pipe" });
  if (has.exitCode !== 0) return { skipped: `sluice before issue 12: skipped, this checkout lacks commit ${BEFORE_ISSUE_12} (a shallow clone or a tarball); the CPU goal falls back to the figure of 2026-11-30` };
  const dir = mkdtempSync(join(tmpdir(), "sluice-bench-before-"));
  const prefix = `${setup.prefix}before-`;
  const env = { ...setup.env, DATABASE_URL: setup.databaseUrl, SLUICE_INDEX_PREFIX: prefix };
  const cleanUp = async () => {
    await setup.deleteIndices().catch(() => {});
    await setup.dropDatabase().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  const step = async (what: string, argv: string[]) => {
    const run = await runCommand(argv, env, dir);
    if (run.code !== 0) throw new Error(`${what} failed (exit ${run.code}): ${(run.stderr.trim() || run.stdout.trim()).split("\n").slice(-3).join(" | ")}`);
    return run;
  };
  try {
    log(`sluice before issue 12: building ${BEFORE_ISSUE_12} (git archive, bun install, bun build; not timed)`);
    await step("git archive", ["bash", "-c", `git -C "${ROOT}" archive ${BEFORE_ISSUE_12} | tar -x -C "${dir}"`]);
    await step("bun install", [process.execPath, "install", "--frozen-lockfile"]);
    await step("bun build", [process.execPath, "build", "--compile", "--minify", "src/cli.ts", "--outfile", "sluice"]);
    const config = join(dir, "no-twin.config.ts");
    writeFileSync(
      config,
      `import { openverseDatasets } from ${JSON.stringify(join(dir, "src/datasets/openverse/datasets.ts"))};
const { filtered: _twin, ...index } = openverseDatasets.image.index as Record<string, unknown>;
export default { datasets: { image: { ...openverseDatasets.image, index } } };
`,
    );
    const binary = join(dir, "sluice");
    await setup.createDatabase();
    await step("its migrate up", [binary, "migrate", "up"]);
    log("sluice before issue 12: refresh image into a database of its own (not timed)");
    await step("its refresh image", [binary, "refresh", "image", "--config", config]);
    const tool: Tool = {
      name: BEFORE_TOOL,
      run: async () => {
        const run = await step("sluice before issue 12: index image", [binary, "index", "image", "--config", config]);
        const written = /written ([\d,]+)/.exec(run.stdout + run.stderr)?.[1];
        if (!written) throw new Error("sluice before issue 12: its summary names no written count");
        return { docs: Number(written.replaceAll(",", "")), cpu: run.cpuSeconds, ms: run.ms };
      },
    };
    return { tool, cleanUp };
  } catch (error) {
    await cleanUp();
    return { skipped: `sluice before issue 12: skipped, ${(error as Error).message}; the CPU goal falls back to the figure of 2026-11-30` };
  }
}
