/**
 * Checks a dataset's config against the schema and fills every default, once. After this, stages
 * never test for undefined. Each problem is one line naming the key:
 * `datasets.photos.table.key is required`.
 */
import { ConfigError } from "../errors.ts";
import { describeIssues } from "./issues.ts";
import { datasetNamePattern, datasetSchema, REGISTRY_COLUMNS, sluiceConfigSchema } from "./schema.ts";
import { readFileSync } from "node:fs";
import { parseTermsFile } from "../transforms/sensitive-terms.ts";
import { markProjection } from "./projection.ts";
import type { ChildIndexConfig, Dataset, DatasetConfig, FilteredIndexConfig, SearchCheckConfig, SluiceConfig } from "./types.ts";

export { REGISTRY_COLUMNS };

export const INDEX_DEFAULTS = { batchDocuments: 2000, batchBytes: 5 * 1024 * 1024, concurrency: 6, maxFailures: 0 };
export const SWAP_DEFAULTS = { maxShrink: 0.1, keep: 1, diffBy: null as string | null, checks: [] as SearchCheckConfig[], replicaWaitSeconds: 600 };
/** `maxFailures: null` means not set: only the fraction decides. */
export const REFRESH_DEFAULTS = { maxFailures: null as number | null, maxFailedFraction: 0.01 };
export const PAYLOAD_DEFAULTS = {
  column: "url",
  format: "xml" as "xml" | "json",
  concurrency: 8,
  perHost: 2,
  timeoutMs: 30_000,
  maxRedirects: 5,
  maxBytes: 50 * 1024 * 1024,
};
export const VALIDATE_DEFAULTS = { flagThreshold: 100, flagWindowHours: 2, maxBytes: 50 * 1024 * 1024, maxDepth: 256 };
export const REGISTRY_DEFAULTS = { pageSize: 1000, minListedFraction: 0.5 };
export const TAG_CLEAN_DEFAULTS = { column: "tags", minAccuracy: 0.9 };
export const CLEAN_DEFAULTS = { urlScheme: "https" };
export const SYNC_DEFAULTS = { maxDeleteFraction: 0.1, maxConsecutiveFailures: 100, maxErrorRate: 0.1 };

export interface ResolveOptions {
  /** Put in front of every alias (SLUICE_INDEX_PREFIX), so environments can share a cluster. @default "" */
  indexPrefix?: string;
}

/** Checks one dataset (the schema, then its name) and fills its defaults. */
export function resolveDataset(name: string, input: DatasetConfig, where = `datasets.${name}`, options: ResolveOptions = {}): Dataset {
  if (!datasetNamePattern.test(name)) {
    throw new ConfigError(`dataset name "${name}" must be lowercase letters, digits, - or _`);
  }
  const parsed = datasetSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error.issues, where));
  const config = parsed.data;
  const { source, table } = config;
  const registry = source.kind === "registry";
  const tags = config.clean?.tags || null;
  const index = config.index || null;
  return {
    name,
    source: registry ? { ...source, ...REGISTRY_DEFAULTS, ...definedOnly(source) } : source,
    table: {
      name: table.name ?? name.replace(/-/g, "_"),
      key: table.key,
      columns: registry ? { ...REGISTRY_COLUMNS } : (table.columns ?? null),
      indexes: table.indexes ?? [],
      deletedTable: table.deletedTable ?? null,
      matureTable: table.matureTable ?? null,
    },
    clean: {
      tags: tags && {
        ...TAG_CLEAN_DEFAULTS,
        ...definedOnly(tags),
        denylist: (tags.denylist ?? []).map((t) => t.toLowerCase()),
        denylistFragments: (tags.denylistFragments ?? []).map((t) => t.toLowerCase()),
        deniedProviders: tags.deniedProviders ?? [],
      },
      urlColumns: config.clean?.urlColumns ?? [],
      urlScheme: config.clean?.urlScheme ?? CLEAN_DEFAULTS.urlScheme,
    },
    index: index && {
      alias: `${options.indexPrefix ?? ""}${index.alias ?? name}`,
      body: index.body ?? {},
      toDocument: index.toDocument ?? markProjection((row) => ({ ...row, id: String(row[table.key]) })),
      children: index.children ?? [],
      columns: index.columns ? [...new Set(index.columns)] : null,
      jsonKeys: index.jsonKeys ? Object.fromEntries(Object.entries(index.jsonKeys).map(([column, keys]) => [column, [...new Set(keys)]])) : null,
      degrade: index.degrade ?? [],
      filtered: resolveFiltered(index.filtered, index.children ?? [], `${where}.index.filtered`),
      ...INDEX_DEFAULTS,
      ...definedOnly({ batchDocuments: index.batchDocuments, batchBytes: index.batchBytes, concurrency: index.concurrency, maxFailures: index.maxFailures }),
    },
    swap: { ...SWAP_DEFAULTS, ...definedOnly(config.swap ?? {}) },
    refresh: { ...REFRESH_DEFAULTS, ...definedOnly(config.refresh ?? {}) },
    payload: registry ? { ...PAYLOAD_DEFAULTS, ...definedOnly(config.payload ?? {}) } : null,
    validate: registry ? { ...VALIDATE_DEFAULTS, jsonSchema: null, ...definedOnly(config.validate ?? {}) } : null,
    status: { maxAgeHours: config.status?.maxAgeHours ?? null },
    sync: {
      ...SYNC_DEFAULTS,
      ...definedOnly({ maxDeleteFraction: config.sync?.maxDeleteFraction, maxConsecutiveFailures: config.sync?.maxConsecutiveFailures, maxErrorRate: config.sync?.maxErrorRate }),
      source: config.sync?.source ?? null,
      cursorColumn: config.sync?.cursorColumn ?? null,
      versionColumn: config.sync?.versionColumn ?? null,
      rules: config.sync?.rules ?? [],
    },
  };
}

/** Checks a whole config file's default export and resolves each of its datasets. */
export function resolveConfig(config: SluiceConfig, file: string, options: ResolveOptions = {}): Map<string, Dataset> {
  if (!config || typeof config !== "object") throw new ConfigError(`${file}: the default export must be defineConfig({...})`);
  // The top level first (a misspelled `datasets`); each dataset is then checked by resolveDataset.
  const top = sluiceConfigSchema.safeParse(config, { reportInput: true });
  if (!top.success) throw new ConfigError(describeIssues(top.error.issues, `${file}:`));
  const datasets = new Map<string, Dataset>();
  for (const [name, dataset] of Object.entries(config.datasets ?? {})) {
    datasets.set(name, resolveDataset(name, dataset, `${file}: datasets.${name}`, options));
  }
  return datasets;
}

export const FILTERED_DEFAULTS = { suffix: "filtered", fields: ["title", "description", "tags.name"] };

/** The filtered twin with its terms read, or null; its alias must not be a child's. */
function resolveFiltered(config: FilteredIndexConfig | undefined, children: ChildIndexConfig[], where: string): NonNullable<Dataset["index"]>["filtered"] {
  if (!config) return null;
  const suffix = config.suffix ?? FILTERED_DEFAULTS.suffix;
  if (children.some((c) => c.suffix === suffix)) throw new ConfigError(`${where}.suffix "${suffix}" is also a child index's suffix`, "give the filtered twin another suffix");
  let terms = config.terms ?? [];
  if (config.termsFile !== undefined) {
    try {
      terms = parseTermsFile(readFileSync(config.termsFile, "utf8"));
    } catch (error) {
      throw new ConfigError(`${where}.termsFile ${config.termsFile} cannot be read: ${(error as Error).message}`, "give a file of sensitive terms, one per line, relative to the working directory");
    }
  }
  return { suffix, terms, fields: config.fields ?? FILTERED_DEFAULTS.fields };
}

function definedOnly<T extends object>(value: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}
