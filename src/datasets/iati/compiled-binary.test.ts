import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// libxml2-wasm inlines its .wasm in lib/libxml2raw.mjs (Emscripten SINGLE_FILE) and the
// schemas are text imports, so `bun build --compile` must yield a binary that validates
// with no node_modules and no schema files around. This guards that against upgrades.
const workDir = mkdtempSync(join(tmpdir(), "sluice-iati-compile-"));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

test(
  "a compiled binary validates and flattens IATI XML without files on disk",
  async () => {
    const entry = join(workDir, "entry.ts");
    const binary = join(workDir, "iati-check");
    writeFileSync(
      entry,
      `import { validateActivities, flattenActivities } from ${JSON.stringify(join(import.meta.dir, "index.ts"))};
const xml = '<iati-activities version="2.03"><iati-activity><iati-identifier>A</iati-identifier></iati-activity></iati-activities>';
const report = validateActivities(xml);
console.log(JSON.stringify({ valid: report.valid, first: report.errors[0]?.message, flat: flattenActivities(xml) }));
`,
    );
    const build = Bun.spawnSync([process.execPath, "build", "--compile", "--minify", entry, "--outfile", binary], {
      stderr: "pipe",
      stdout: "pipe",
    });
    expect(build.stderr.toString()).not.toContain("error");
    expect(build.exitCode).toBe(0);

    // Run from the temp dir: no node_modules, no src/ to fall back on.
    const run = Bun.spawnSync([binary], { cwd: workDir, stderr: "pipe", stdout: "pipe" });
    expect(run.stderr.toString()).toBe("");
    expect(JSON.parse(run.stdout.toString())).toEqual({
      valid: false,
      first: "Element 'iati-activity': Missing child element(s). Expected is ( reporting-org ).",
      flat: [{ dataset_version: "2.03", iati_identifier: "A" }],
    });
  },
  60_000,
);
