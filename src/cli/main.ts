/**
 * The top of the process: parses argv with citty, runs the command, and turns any error into one
 * redacted line on stderr and a documented exit code. Nothing below this prints errors.
 */
import { type CommandDef, renderUsage, runCommand } from "citty";
import { lostConnectionOf } from "../adapters/postgres.ts";
import { flushNotifications } from "../adapters/slack.ts";
import { ExitCode, SluiceError } from "../errors.ts";
import { logger } from "../log/logger.ts";
import { EXPECTED_SCHEMA_VERSION } from "../migrate/migrator.ts";
import { redact } from "../redact.ts";
import { VERSION } from "../version.ts";
import { examples } from "./examples.ts";

export function versionLine(): string {
  return `sluice ${VERSION} (database migration ${EXPECTED_SCHEMA_VERSION})`;
}

/** Runs the CLI and returns the exit code; `bin` calls process.exit with it, tests do not. */
export async function runCli(main: CommandDef<any>, rawArgs: string[]): Promise<number> {
  try {
    if (rawArgs.length === 1 && (rawArgs[0] === "--version" || rawArgs[0] === "-v")) {
      console.log(versionLine());
      return ExitCode.ok;
    }
    if (rawArgs.length === 0 || rawArgs.includes("--help") || rawArgs.includes("-h")) {
      process.stdout.write(await usageFor(main, rawArgs.filter((a) => a !== "--help" && a !== "-h")));
      return rawArgs.length === 0 ? ExitCode.usage : ExitCode.ok;
    }
    const { result } = await runCommand(main, { rawArgs });
    return typeof result === "number" ? result : ExitCode.ok;
  } catch (error) {
    return reportError(error);
  } finally {
    await flushNotifications();
  }
}

function reportError(error: unknown): number {
  if (error instanceof SluiceError) {
    logger.error(redact(error.toLine()));
    if (process.env.SLUICE_DEBUG && error.cause) logger.error(redact(String((error.cause as Error).stack ?? error.cause)));
    return error.exitCode;
  }
  // citty's own argument errors (unknown command, missing positional) are usage errors.
  if ((error as Error)?.name === "CLIError") {
    logger.error(`${(error as Error).message} (run \`sluice --help\`)`);
    return ExitCode.usage;
  }
  // A PostgreSQL connection that dropped where no stage named it: name the variable it came from.
  const lost = lostConnectionOf(error, { DATABASE_URL: process.env.DATABASE_URL, UPSTREAM_DATABASE_URL: process.env.UPSTREAM_DATABASE_URL });
  if (lost) return reportError(lost);
  const message = (error as Error)?.message ?? String(error);
  const pg = error as { severity?: string; code?: string };
  if (pg?.severity && pg.code) {
    // A PostgreSQL error the stage did not anticipate: say so plainly, with the SQLSTATE.
    logger.error(redact(`PostgreSQL error ${pg.code}: ${message} (production is untouched unless a swap said otherwise; see \`sluice job list\`)`));
    return ExitCode.failure;
  }
  logger.error(redact(`unexpected error: ${message}`));
  if (process.env.SLUICE_DEBUG) logger.error(redact(String((error as Error)?.stack ?? "")));
  else logger.error("set SLUICE_DEBUG=1 for the stack trace, and report it as a bug");
  return ExitCode.failure;
}

/** citty's usage for the deepest subcommand named in argv, followed by that command's examples. */
async function usageFor(main: CommandDef<any>, args: string[]): Promise<string> {
  let cmd = main;
  let parent: CommandDef<any> | undefined;
  const path: string[] = [];
  for (const arg of args) {
    if (arg.startsWith("-")) break;
    const subs = await resolve(cmd.subCommands);
    const next = subs?.[arg];
    if (!next) break;
    parent = cmd;
    cmd = await resolve(next);
    path.push(arg);
  }
  const usage = await renderUsage(cmd, parent);
  const lines = examples[path.join(" ") || "sluice"] ?? [];
  const exampleText = lines.length ? `\nExamples:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n` : "";
  return `${usage}\n${exampleText}`;
}

async function resolve<T>(value: T | Promise<T> | (() => T | Promise<T>)): Promise<T> {
  return typeof value === "function" ? await (value as () => T | Promise<T>)() : await value;
}
