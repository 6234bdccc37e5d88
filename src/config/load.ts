/**
 * Loads the datasets a command can work on: the built-in ones, then those of the config file
 * (`sluice.config.ts` in the working directory, or `--config PATH`), which win on a name clash.
 * The compiled binary imports the TypeScript config at run time; a Bun plugin answers its
 * `import … from "sluice"` with the binary's own public module.
 */
import { plugin } from "bun";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { builtinDatasets } from "../datasets/builtin.ts";
import { ConfigError, UsageError } from "../errors.ts";
import * as publicApi from "../public.ts";
import { resolveConfig, resolveDataset } from "./resolve.ts";
import type { Dataset, SluiceConfig } from "./types.ts";

export const DEFAULT_CONFIG_FILE = "sluice.config.ts";

let pluginRegistered = false;
function registerSluiceModule(): void {
  if (pluginRegistered) return;
  pluginRegistered = true;
  plugin({
    name: "sluice-public-module",
    setup(build) {
      build.module("sluice", () => ({ exports: { ...publicApi }, loader: "object" }));
    },
  });
}

export async function loadDatasets(configPath?: string): Promise<Map<string, Dataset>> {
  const options = { indexPrefix: process.env.SLUICE_INDEX_PREFIX ?? "" };
  if (!/^[a-z0-9_-]*$/.test(options.indexPrefix)) {
    throw new ConfigError(`SLUICE_INDEX_PREFIX "${options.indexPrefix}" may hold only lowercase letters, digits, - and _`);
  }
  const datasets = new Map<string, Dataset>();
  for (const [name, config] of Object.entries(builtinDatasets())) datasets.set(name, resolveDataset(name, config, `datasets.${name}`, options));
  const file = configPath ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  if (!file) return datasets;
  for (const [name, dataset] of resolveConfig(await importConfig(file), file, options)) datasets.set(name, dataset);
  return datasets;
}

async function importConfig(file: string): Promise<SluiceConfig> {
  const path = resolve(file);
  if (!existsSync(path)) throw new ConfigError(`config file ${file} does not exist`, "pass an existing file to --config");
  registerSluiceModule();
  let mod: { default?: SluiceConfig };
  try {
    mod = await import(pathToFileURL(path).href);
  } catch (error) {
    throw new ConfigError(`config file ${file} could not be loaded: ${(error as Error).message}`, "fix the error in that file");
  }
  if (!mod.default) throw new ConfigError(`config file ${file} has no default export`, "end it with `export default defineConfig({ … })`");
  return mod.default;
}

export async function loadDataset(name: string | undefined, configPath?: string): Promise<Dataset> {
  const datasets = await loadDatasets(configPath);
  const known = [...datasets.keys()].sort().join(", ");
  if (!name) throw new UsageError("which dataset? name one", `known datasets: ${known}`);
  const dataset = datasets.get(name);
  if (!dataset) throw new UsageError(`unknown dataset "${name}"`, `known datasets: ${known}`);
  return dataset;
}
