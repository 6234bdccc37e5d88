/**
 * The streaming commands run with mimalloc's purging of freed pages turned off.
 *
 * Bun allocates through mimalloc, which by default hands freed pages back to the kernel 10 ms
 * after they empty (madvise), only for the next batch to fault them in again: `sluice index image`
 * of 237,374 documents made 10,349 madvise calls, against 2,076 with MIMALLOC_PURGE_DELAY=-1
 * (strace, 2026-12-02). Six alternated runs each on the same host: 6.99 [5.90–8.09] CPU-s against
 * 7.72 [7.39–8.45], the kernel's share halved in every pair (0.47–0.61 s against 0.99–1.26), for a
 * peak RSS of 181–188 MB against 146–152. A purge delay of 1000 ms saved nothing (7.93 [7.69–8.26]).
 * The replacement costs about 0.04 CPU-s and 40 ms per streaming command.
 * mimalloc reads its options once, when the process starts, and Bun exports no call to change them
 * later, so the process replaces itself (execve: the same PID, stdio and signals) with the
 * variable set. A MIMALLOC_PURGE_DELAY already in the environment is left as the operator set it.
 */
import { GLOBAL_FLAGS } from "./strict-args.ts";

/** The commands that stream rows or documents for long enough for the purges to cost. */
const STREAMING_COMMANDS = new Set(["refresh", "reload", "validate", "index", "run", "ingest", "sync"]);

export const PURGE_DELAY = "-1";

/** The program and argv to execve so that the command runs with PURGE_DELAY, or null to run as it is. */
export function allocatorReexec(
  execPath: string,
  argv: readonly string[],
  execArgv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): { argv: string[]; env: Record<string, string> } | null {
  if (env.MIMALLOC_PURGE_DELAY !== undefined) return null;
  // A compiled binary's argv[1] is its embedded entry point (/$bunfs/…), which execPath runs again by itself.
  const compiled = argv[1]?.startsWith("/$bunfs/") ?? false;
  const args = argv.slice(2);
  // The first word that is neither a flag nor the value of a global one (`--log-format json index …`).
  const command = args.find((arg) => !arg.startsWith("-") && !GLOBAL_FLAGS.some((flag) => flag.values?.includes(arg)));
  if (!command || !STREAMING_COMMANDS.has(command)) return null;
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) kept[name] = value;
  return {
    argv: compiled ? [execPath, ...args] : [execPath, ...execArgv, ...argv.slice(1)],
    env: { ...kept, MIMALLOC_PURGE_DELAY: PURGE_DELAY },
  };
}

/** Replaces this process with itself under PURGE_DELAY when allocatorReexec says so; returns otherwise. */
export function reexecForStreaming(): void {
  const execve = (process as { execve?: (file: string, args: string[], env: Record<string, string>) => never }).execve;
  if (typeof execve !== "function") return;
  const plan = allocatorReexec(process.execPath, process.argv, process.execArgv, process.env);
  if (!plan) return;
  try {
    execve.call(process, process.execPath, plan.argv, plan.env);
  } catch {
    // Not replaced (an exotic sandbox refusing execve): the command runs as it is, only slower.
  }
}
