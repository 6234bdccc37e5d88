/**
 * The top of the process: checks argv against the command's definitions (strict-args.ts), runs the
 * command with citty, and turns any error into one redacted line on stderr and a documented exit
 * code. Nothing below this prints errors.
 */
import { type CommandDef, renderUsage, runCommand } from "citty";
import { flushNotifications } from "../adapters/slack.ts";
import { LOG_LEVELS, readLogFormat, readLogLevel } from "../config/env.ts";
import { ExitCode, SluiceError, UsageError } from "../errors.ts";
import { forStream } from "../log/colour.ts";
import { logFormat, logger, setLogFormat } from "../log/logger.ts";
import { EXPECTED_SCHEMA_VERSION } from "../migrate/migrator.ts";
import { redact } from "../redact.ts";
import { VERSION } from "../version.ts";
import { type ResolvedCommand, resolveCommand } from "./command-tree.ts";
import { printJson, takeJsonPrinted } from "./output.ts";
import { checkArgv, GLOBAL_FLAGS, globalList } from "./strict-args.ts";

export function versionLine(): string {
  return `sluice ${VERSION} (database migration ${EXPECTED_SCHEMA_VERSION})`;
}

/**
 * Runs the CLI and returns the exit code; `bin` calls process.exit with it, tests do not.
 * Bad argv is reported before anything runs: the command never sees it.
 */
export async function runCli(main: CommandDef<any>, rawArgs: string[]): Promise<number> {
  const savedLevel = logger.level;
  const savedFormat = logFormat();
  takeJsonPrinted();
  let jsonAsked = false;
  try {
    const resolved = await resolveCommand(main, rawArgs);
    const checked = checkArgv(resolved.shape, rawArgs, resolved.pathIndexes);
    // Before anything is reported, so that even a usage error comes out in the format asked for.
    if (checked.globals.logFormat) setLogFormat(checked.globals.logFormat as "plain" | "json");
    // Only a --json the command accepts where it stands (not one misplaced before the command).
    jsonAsked = asksForJson(checked.commandArgv);
    if (checked.globals.help) {
      writeUsage(await usageFor(resolved));
      return ExitCode.ok;
    }
    if (checked.globals.version) {
      if (checked.hasCommandTokens) throw new UsageError("--version takes no command or flags", "run `sluice --version`");
      console.log(versionLine());
      return ExitCode.ok;
    }
    if (checked.problem) throw new UsageError(checked.problem);
    // A group given no command (`sluice`, `sluice job`): show what it offers; nothing ran.
    if (checked.needsCommand) {
      writeUsage(await usageFor(resolved));
      return ExitCode.usage;
    }
    const level = checked.globals.quiet ? LOG_LEVELS.error : checked.globals.verbose ? LOG_LEVELS.debug : readLogLevel(process.env);
    if (level !== undefined) logger.level = level;
    if (!checked.globals.logFormat) setLogFormat(readLogFormat(process.env) ?? "plain");
    const { result } = await runCommand(main, { rawArgs: checked.commandArgv });
    return typeof result === "number" ? result : ExitCode.ok;
  } catch (thrown) {
    // A connection that dropped where no step named it: name the variable it came from. Loaded
    // here, not at start-up: it brings in the search client.
    const lost = thrown instanceof SluiceError ? null : (await import("../adapters/lost-connection.ts")).unnamedConnectionFailure(thrown, connectionUrls());
    const error = lost ?? thrown;
    const code = reportError(error);
    // `--json` promises one JSON object on stdout, failures included: the error line and the exit code.
    if (jsonAsked && !takeJsonPrinted()) printJson({ error: errorLine(error), exitCode: code });
    return code;
  } finally {
    await flushNotifications();
    logger.level = savedLevel;
    setLogFormat(savedFormat);
  }
}

/** Whether argv asked for `--json` (before any `--`). */
function asksForJson(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === "--json" || a === "--json=true");
}

/** The line reportError printed for an error, for the JSON error object. */
function errorLine(error: unknown): string {
  if (error instanceof SluiceError) return redact(error.toLine());
  return redact((error as Error)?.message ?? String(error));
}

/** The services' URLs as the environment gives them (not parsed: a bad one must not hide the error being reported). */
function connectionUrls() {
  return { databaseUrl: process.env.DATABASE_URL, upstreamDatabaseUrl: process.env.UPSTREAM_DATABASE_URL, elasticsearchUrl: process.env.ELASTICSEARCH_URL };
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

/** citty's usage for the command argv named, under its full path, then its examples and the global flags. */
async function usageFor({ cmd, parent, shape }: ResolvedCommand): Promise<string> {
  const usage = await renderUsage(cmd, parent);
  const lines = shape.examples;
  const exampleText = lines.length ? `\nExamples:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n` : "";
  const globalText =
    shape.path.length === 1
      ? `\nGlobal flags (before or after the command):\n${GLOBAL_FLAGS.map((g) => `  ${[...g.short.map((s) => `-${s}`), `--${g.long}`].join(", ").padEnd(18)} ${g.description}`).join("\n")}\n`
      : `\nGlobal flags: ${globalList()} (see \`sluice --help\`)\n`;
  return `${usage}\n${exampleText}${globalText}`;
}

/** citty colours its usage; a pipe, a file or NO_COLOR gets it plain. */
function writeUsage(text: string): void {
  process.stdout.write(forStream(text, process.stdout));
}
