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
/** Lets files sluice imports at run time (the config, module sources) `import … from "sluice"`. */
export function registerSluiceModule(): void {
  if (pluginRegistered) return;
  pluginRegistered = true;
  publicApi.provideBuiltinDatasets(builtinDatasets);
  const { provideBuiltinDatasets: _internal, ...exported } = publicApi;
  plugin({
    name: "sluice-public-module",
    setup(build) {
      build.module("sluice", () => ({ exports: exported, loader: "object" }));
    },
  });
}

export async function loadDatasets(configPath?: string): Promise<Map<string, Dataset>> {
  return (await loadConfiguration(configPath)).datasets;
}

export interface LoadedConfiguration {
  /** The config file read, or null when there is none and only the built-in datasets exist. */
  file: string | null;
  datasets: Map<string, Dataset>;
  /** Where each dataset was declared: "built-in", or the config file. */
  origins: Map<string, string>;
}

/** The built-in datasets, then the config file's, each checked against the schema and resolved. */
export async function loadConfiguration(configPath?: string): Promise<LoadedConfiguration> {
  const options = { indexPrefix: process.env.SLUICE_INDEX_PREFIX ?? "" };
  if (!/^[a-z0-9_-]*$/.test(options.indexPrefix)) {
    throw new ConfigError(`SLUICE_INDEX_PREFIX "${options.indexPrefix}" may hold only lowercase letters, digits, - and _`);
  }
  const datasets = new Map<string, Dataset>();
  const origins = new Map<string, string>();
  for (const [name, config] of Object.entries(builtinDatasets())) {
    datasets.set(name, resolveDataset(name, config, `datasets.${name}`, options));
    origins.set(name, "built-in");
  }
  const file = configPath ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  if (!file) return { file: null, datasets, origins };
  for (const [name, dataset] of resolveConfig(await importConfig(file), file, options)) {
    datasets.set(name, dataset);
    origins.set(name, file);
  }
  return { file, datasets, origins };
}

async function importConfig(file: string): Promise<SluiceConfig> {
  const path = resolve(file);
  if (!existsSync(path)) throw new ConfigError(`config file ${file} does not exist`, "pass an existing file to --config");
  registerSluiceModule();
  let mod: { default?: SluiceConfig };
  try {
    mod = await import(pathToFileURL(path).href);
  } catch (error) {
    throw loadError(error, file, path);
  }
  if (!mod.default) throw new ConfigError(`config file ${file} has no default export`, "end it with `export default defineConfig({ … })`");
  return mod.default;
}

/** Where Bun's parser stopped: its BuildMessages carry the line and (1-based) column. */
interface BuildMessageLike {
  message: string;
  position?: { line: number; column: number; file?: string } | null;
}

/**
 * A syntax error names file, line and column, as a compiler would:
 * `sluice.config.ts:12:5: Expected "}" but found "table" (fix the syntax error there)`.
 * Other errors thrown while the file runs name the line they came from when the stack has it.
 */
export function loadError(error: unknown, file: string, path: string): ConfigError {
  const messages: BuildMessageLike[] = error instanceof AggregateError ? (error.errors as BuildMessageLike[]) : [error as BuildMessageLike];
  const syntax = messages.find((m) => m?.position && m.position.line > 0);
  if (syntax?.position) {
    const where = syntax.position.file && resolve(syntax.position.file) !== path ? syntax.position.file : file;
    return new ConfigError(`${where}:${syntax.position.line}:${syntax.position.column}: ${syntax.message}`, "fix the syntax error there");
  }
  const message = (error as Error)?.message ?? String(error);
  const at = String((error as Error)?.stack ?? "").match(new RegExp(`${escapeRegExp(path)}:(\\d+):(\\d+)`));
  const location = at ? `${file}:${at[1]}:${at[2]}` : file;
  return new ConfigError(`config file ${location} could not be loaded: ${message}`, "fix the error in that file");
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export async function loadDataset(name: string | undefined, configPath?: string): Promise<Dataset> {
  return datasetNamed(await loadDatasets(configPath), name);
}

/** The dataset of that name, or a usage error listing the known ones. */
export function datasetNamed(datasets: Map<string, Dataset>, name: string | undefined): Dataset {
  const known = [...datasets.keys()].sort().join(", ");
  if (!name) throw new UsageError("which dataset? name one", `known datasets: ${known}`);
  const dataset = datasets.get(name);
  if (!dataset) throw new UsageError(`unknown dataset "${name}"`, `known datasets: ${known}`);
  return dataset;
}
