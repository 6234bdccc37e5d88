/**
 * The one `bun build` command line for sluice's executable, shared by `bun run release`, the bench
 * and the container test so that each builds the binary users run.
 *
 * --splitting: each command's code is a chunk of its own inside the binary, parsed only when that
 * command runs (`--version` took 0.25 CPU-s with every command parsed at start, 0.07 with chunks).
 * --bytecode: JavaScriptCore's bytecode is built here and embedded, so a run does not parse and
 * compile the chunks it loads (measured 2026-11-30, 5 alternated runs: `--version` 0.06–0.08 →
 * 0.03 CPU-s, `status` 0.14–0.16 → 0.06–0.07; the binary grows 115 → 126 MB). ESM, since splitting needs it.
 */
export function compileCommand(entry: string, outfile: string, target?: string): string[] {
  return ["bun", "build", "--compile", "--splitting", "--bytecode", "--format=esm", "--minify", ...(target ? [`--target=${target}`] : []), entry, "--outfile", outfile];
}
