/**
 * What a sluice.config.ts may import: `import { defineConfig, builtinDataset } from "sluice"`. The
 * compiled binary serves this module to the config file at run time (see src/config/load.ts).
 */
import type { DatasetConfig, SluiceConfig } from "./config/types.ts";

export type * from "./config/types.ts";
export type * from "./sources/types.ts";

/** Returns the config unchanged; it exists so that TypeScript checks what you write. */
export function defineConfig(config: SluiceConfig): SluiceConfig {
  return config;
}

/** Set by the loader before a config file runs (src/config/load.ts), so that this module imports no dataset code. */
let builtins: (() => Record<string, DatasetConfig>) | null = null;

/** @internal */
export function provideBuiltinDatasets(source: () => Record<string, DatasetConfig>): void {
  builtins = source;
}

/**
 * A built-in dataset's config (`image`, `audio`, `iati`), to build your own from:
 * `image: { ...image, index: { ...image.index, concurrency: 4 } }` with `const image = builtinDataset("image")`.
 * Each call returns a fresh copy of its objects: changing one changes nothing else.
 */
export function builtinDataset(name: string): DatasetConfig {
  const all = builtins?.() ?? {};
  const found = all[name];
  if (!found) throw new Error(`builtinDataset("${name}"): there is no built-in dataset of that name (built-in: ${Object.keys(all).sort().join(", ")})`);
  return copyPlain(found);
}

/** Objects and arrays copied, functions and other values shared. */
function copyPlain<T>(value: T): T {
  if (Array.isArray(value)) return value.map(copyPlain) as T;
  if (value === null || typeof value !== "object" || Object.getPrototypeOf(value) !== Object.prototype) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copyPlain(v)])) as T;
}
