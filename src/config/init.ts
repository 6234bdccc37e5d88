/**
 * `sluice init`: a starter sluice.config.ts and the declarations it imports, so that editors and
 * `tsc` resolve `import { defineConfig } from "sluice"` with no node_modules. The files are
 * embedded in the binary; sluice-env.d.ts is generated from src/public.ts (scripts/sluice-types.ts).
 */
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { UsageError } from "../errors.ts";
import declarations from "./init/sluice-env.d.ts.txt" with { type: "text" };
import starterConfig from "./init/sluice.config.ts.txt" with { type: "text" };
import tsconfig from "./init/tsconfig.json.txt" with { type: "text" };
import { DEFAULT_CONFIG_FILE } from "./load.ts";

export const DECLARATIONS_FILE = "sluice-env.d.ts";

export interface InitOptions {
  /** Overwrite sluice.config.ts and sluice-env.d.ts when they exist. @default false */
  force?: boolean;
  /** Write only sluice-env.d.ts (after upgrading sluice), leaving the config alone. @default false */
  typesOnly?: boolean;
}

export interface InitResult {
  written: string[];
  /** Files left as they were: an existing tsconfig.json is never overwritten. */
  kept: string[];
}

export async function initProject(dir: string, options: InitOptions = {}): Promise<InitResult> {
  const files: [string, string][] = options.typesOnly
    ? [[DECLARATIONS_FILE, declarations]]
    : [[DEFAULT_CONFIG_FILE, starterConfig], [DECLARATIONS_FILE, declarations]];
  // --types rewrites only sluice's own generated file, so it needs no --force.
  const existing = files.map(([name]) => name).filter((name) => existsSync(join(dir, name)));
  if (existing.length && !options.force && !options.typesOnly) {
    throw new UsageError(`${existing.join(" and ")} already exist in ${dir}; nothing was written`, "pass --force to overwrite, or --types to rewrite only sluice-env.d.ts");
  }
  await mkdir(dir, { recursive: true });
  const result: InitResult = { written: [], kept: [] };
  for (const [name, text] of files) {
    await writeFile(join(dir, name), text);
    result.written.push(name);
  }
  if (!options.typesOnly) {
    if (existsSync(join(dir, "tsconfig.json"))) result.kept.push("tsconfig.json");
    else {
      await writeFile(join(dir, "tsconfig.json"), tsconfig);
      result.written.push("tsconfig.json");
    }
  }
  return result;
}
