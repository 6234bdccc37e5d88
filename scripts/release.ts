/**
 * `bun run release [--out DIR] [--target NAME]...`: standalone sluice binaries for each target
 * (no bun, no node_modules needed to run them), named sluice-<version>-<target>, and a SHA256SUMS
 * file that `sha256sum -c SHA256SUMS` checks. Cross-compiling makes Bun fetch the target's runtime
 * (bun-<os>-<arch>) once from npm into its cache; offline, only the host's own target builds.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import pkg from "../package.json" with { type: "json" };
import { compileCommand } from "./compile.ts";

/** Release name → Bun's --target. */
export const RELEASE_TARGETS: Record<string, string> = {
  "linux-x64": "bun-linux-x64",
  "linux-arm64": "bun-linux-arm64",
  "darwin-arm64": "bun-darwin-arm64",
};

const root = resolve(import.meta.dir, "..");
const { values } = parseArgs({
  options: { out: { type: "string", default: join(root, "dist/release") }, target: { type: "string", multiple: true } },
});
const targets = values.target?.length ? values.target : Object.keys(RELEASE_TARGETS);
for (const t of targets) {
  if (!RELEASE_TARGETS[t]) {
    console.error(`unknown target ${t} (targets: ${Object.keys(RELEASE_TARGETS).join(", ")})`);
    process.exit(2);
  }
}
const out = resolve(values.out!);
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const built: string[] = [];
const failed: string[] = [];
for (const target of targets) {
  const file = join(out, `sluice-${pkg.version}-${target}`);
  console.error(`[release] ${basename(file)} (--target=${RELEASE_TARGETS[target]})`);
  const child = Bun.spawn(
    compileCommand(join(root, "src/cli.ts"), file, RELEASE_TARGETS[target]),
    { cwd: root, stdout: "inherit", stderr: "inherit" },
  );
  if ((await child.exited) === 0) built.push(file);
  else failed.push(target);
}
// sha256sum's format: the hash, two spaces, the file name (relative, so the check runs in the directory).
const sums = built.map((file) => `${createHash("sha256").update(readFileSync(file)).digest("hex")}  ${basename(file)}\n`).join("");
await Bun.write(join(out, "SHA256SUMS"), sums);
console.error(`[release] ${built.length} binaries and SHA256SUMS in ${out}`);
if (failed.length) {
  console.error(`[release] FAILED: ${failed.join(", ")} (cross-compiling needs Bun's runtime for the target; see the output above)`);
  process.exit(1);
}
