/**
 * The one `bun build` command line for sluice's executable, shared by `bun run release`, the bench
 * and the container test so that each builds the binary users run.
 *
 * --splitting: each command's code is a chunk of its own inside the binary, parsed only when that
 * command runs (`--version` took 0.25 CPU-s with every command parsed at start, 0.07 with chunks).
 */
export function compileCommand(entry: string, outfile: string, target?: string): string[] {
  return ["bun", "build", "--compile", "--splitting", "--minify", ...(target ? [`--target=${target}`] : []), entry, "--outfile", outfile];
}
