/** The source `sluice sync` reads for a dataset: `sync.source` if set, else the dataset's own postgres source. */
import type { Env } from "../config/env.ts";
import { requireEnv } from "../config/env.ts";
import type { Dataset } from "../config/types.ts";
import { ConfigError } from "../errors.ts";
import { FileSource } from "./file.ts";
import { loadModuleSource } from "./module.ts";
import { PostgresSource } from "./postgres.ts";
import { RegistrySource } from "./registry-source.ts";
import type { Source } from "./types.ts";

export async function openSyncSource(dataset: Dataset, env: Env): Promise<Source> {
  const context = { dataset: dataset.name, key: dataset.table.key };
  const configured = dataset.sync.source;
  if (configured?.kind === "file") return new FileSource(configured, context);
  if (configured?.kind === "module") return loadModuleSource(configured, context);
  if (configured?.kind === "registry") return new RegistrySource(configured, context);
  if (dataset.source.kind !== "postgres") {
    throw new ConfigError(`dataset ${dataset.name} has a ${dataset.source.kind} source, which sync cannot read`, "set sync.source to a file, module or registry source");
  }
  return new PostgresSource(dataset, dataset.source, requireEnv(env, "upstreamDatabaseUrl", "UPSTREAM_DATABASE_URL"));
}
