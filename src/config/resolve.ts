/**
 * Checks a user's dataset config and fills every default, once. After this, stages never test for
 * undefined. Each problem is one line naming the key: `datasets.photos.table.key is required`.
 */
import { ConfigError } from "../errors.ts";
import type { Dataset, DatasetConfig, SluiceConfig } from "./types.ts";

const identifierPattern = /^[a-z_][a-z0-9_]*$/;
const datasetNamePattern = /^[a-z][a-z0-9_-]*$/;

export const INDEX_DEFAULTS = { batchDocuments: 2000, batchBytes: 5 * 1024 * 1024, concurrency: 3, maxFailures: 0 };
export const SWAP_DEFAULTS = { maxShrink: 0.1, keep: 1 };
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
export const REFRESH_DEFAULTS = { maxFailures: null, maxFailedFraction: 0.01 };
export const REGISTRY_DEFAULTS = { pageSize: 1000, minListedFraction: 0.5 };

/**
 * The columns of every registry dataset's table: what the registry lists, then the state each
 * stage keeps per row (carried from live into staging, so unchanged documents are not redone).
 */
export const REGISTRY_COLUMNS: Record<string, string> = {
  id: "text",
  name: "text",
  publisher: "text",
  url: "text",
  hash: "text",
  modified: "timestamptz",
  blob_sha256: "text",
  charset: "text",
  payload_bytes: "bigint",
  downloaded_at: "timestamptz",
  download_error: "integer",
  download_detail: "text",
  validated_at: "timestamptz",
  valid: "boolean",
  report_id: "bigint",
  activities: "integer",
  activities_invalid: "integer",
  cleaned_sha256: "text",
};

export interface ResolveOptions {
  /** Put in front of every alias (SLUICE_INDEX_PREFIX), so environments can share a cluster. @default "" */
  indexPrefix?: string;
}

export function resolveDataset(name: string, config: DatasetConfig, where = `datasets.${name}`, options: ResolveOptions = {}): Dataset {
  const fail = (key: string, problem: string, hint?: string): never => {
    throw new ConfigError(`${where}.${key} ${problem}`, hint);
  };
  if (!datasetNamePattern.test(name)) {
    throw new ConfigError(`dataset name "${name}" must be lowercase letters, digits, - or _`);
  }
  if (!config || typeof config !== "object") throw new ConfigError(`${where} must be an object`);
  const source = config.source;
  if (!source || typeof source !== "object") fail("source", "is required", 'e.g. { kind: "postgres", table: "image" }');
  switch (source.kind) {
    case "postgres":
      if (!source.table === !source.query) fail("source", "needs exactly one of `table` or `query`");
      break;
    case "registry": {
      if (typeof source.url !== "string" || !/^https?:\/\//.test(source.url)) fail("source.url", "must be an http(s) URL");
      const pageSize = source.pageSize ?? REGISTRY_DEFAULTS.pageSize;
      if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 10_000) fail("source.pageSize", "must be a whole number from 1 to 10000");
      const fraction = source.minListedFraction ?? REGISTRY_DEFAULTS.minListedFraction;
      if (!(fraction >= 0 && fraction <= 1)) fail("source.minListedFraction", "must be a fraction between 0 and 1");
      if (config.table?.columns) fail("table.columns", "cannot be set for a registry source", "registry tables have fixed columns (id, name, publisher, url, hash, modified and stage state)");
      if (config.table && config.table.key !== "id") fail("table.key", 'must be "id" for a registry source');
      break;
    }
    default:
      fail("source.kind", `"${(source as { kind?: string }).kind}" is not a known kind`, "use postgres or registry");
  }
  const table = config.table;
  if (!table || typeof table !== "object") fail("table", "is required", 'e.g. { key: "identifier" }');
  if (typeof table.key !== "string" || !identifierPattern.test(table.key)) {
    fail("table.key", "is required: the column that identifies a row (lowercase identifier)");
  }
  const tableName = table.name ?? name.replace(/-/g, "_");
  if (!identifierPattern.test(tableName)) fail("table.name", `"${tableName}" is not a plain lowercase identifier`);
  if (table.columns) {
    for (const [column, type] of Object.entries(table.columns)) {
      if (!identifierPattern.test(column)) fail(`table.columns.${column}`, "is not a plain lowercase identifier");
      if (typeof type !== "string" || !type.trim()) fail(`table.columns.${column}`, "needs a Postgres type");
    }
    if (!(table.key in table.columns)) fail("table.key", `"${table.key}" is not one of table.columns`);
  }
  for (const [i, index] of (table.indexes ?? []).entries()) {
    if (typeof index !== "string" || !index.includes("{table}")) fail(`table.indexes[${i}]`, 'must be SQL containing "{table}"');
  }
  const clean = config.clean ?? {};
  const tags = clean.tags === false || clean.tags === undefined ? null : clean.tags;
  if (tags?.minAccuracy !== undefined && !(tags.minAccuracy >= 0 && tags.minAccuracy <= 1)) {
    fail("clean.tags.minAccuracy", "must be between 0 and 1");
  }
  const index = config.index === false || config.index === undefined ? null : config.index;
  const indexOptions = { ...INDEX_DEFAULTS, ...definedOnly(index ?? {}) };
  for (const key of ["batchDocuments", "batchBytes", "concurrency"] as const) {
    if (!Number.isInteger(indexOptions[key]) || indexOptions[key] < 1) fail(`index.${key}`, "must be a whole number ≥ 1");
  }
  if (!Number.isInteger(indexOptions.maxFailures) || indexOptions.maxFailures < 0) fail("index.maxFailures", "must be a whole number ≥ 0");
  const swap = { ...SWAP_DEFAULTS, ...definedOnly(config.swap ?? {}) };
  const registry = source.kind === "registry";
  const payload = registry ? { ...PAYLOAD_DEFAULTS, ...definedOnly(config.payload ?? {}) } : null;
  const validate = registry ? { ...VALIDATE_DEFAULTS, jsonSchema: null, ...definedOnly(config.validate ?? {}) } : null;
  if (payload) {
    for (const key of ["concurrency", "perHost", "timeoutMs", "maxBytes"] as const) {
      if (!Number.isInteger(payload[key]) || payload[key] < 1) fail(`payload.${key}`, "must be a whole number ≥ 1");
    }
    if (!Number.isInteger(payload.maxRedirects) || payload.maxRedirects < 0) fail("payload.maxRedirects", "must be a whole number ≥ 0");
    if (payload.format !== "xml" && payload.format !== "json") fail("payload.format", 'must be "xml" or "json"');
    if (!(payload.column in REGISTRY_COLUMNS)) fail("payload.column", `"${payload.column}" is not a column of the registry table`);
  }
  if (validate) {
    for (const key of ["flagThreshold", "maxBytes", "maxDepth"] as const) {
      if (!Number.isInteger(validate[key]) || validate[key] < 1) fail(`validate.${key}`, "must be a whole number ≥ 1");
    }
    if (!(validate.flagWindowHours > 0)) fail("validate.flagWindowHours", "must be a number of hours > 0");
    if (payload?.format === "json" && !validate.jsonSchema) fail("validate.jsonSchema", 'is required when payload.format is "json"');
  }
  if (!(swap.maxShrink >= 0 && swap.maxShrink <= 1)) fail("swap.maxShrink", "must be a fraction between 0 and 1");
  if (!Number.isInteger(swap.keep) || swap.keep < 0) fail("swap.keep", "must be a whole number ≥ 0");
  // Refresh tolerance (issue 9.5); H2's schema carries the same keys.
  const refresh = { maxFailures: config.refresh?.maxFailures ?? REFRESH_DEFAULTS.maxFailures, maxFailedFraction: config.refresh?.maxFailedFraction ?? REFRESH_DEFAULTS.maxFailedFraction };
  if (refresh.maxFailures !== null && !(Number.isInteger(refresh.maxFailures) && refresh.maxFailures >= 0)) fail("refresh.maxFailures", "must be a whole number ≥ 0");
  if (!(refresh.maxFailedFraction >= 0 && refresh.maxFailedFraction <= 1)) fail("refresh.maxFailedFraction", "must be a fraction between 0 and 1");

  return {
    name,
    source: source.kind === "registry" ? { ...source, pageSize: source.pageSize ?? REGISTRY_DEFAULTS.pageSize, minListedFraction: source.minListedFraction ?? REGISTRY_DEFAULTS.minListedFraction } : source,
    table: {
      name: tableName,
      key: table.key,
      columns: registry ? { ...REGISTRY_COLUMNS } : (table.columns ?? null),
      indexes: table.indexes ?? [],
      deletedTable: table.deletedTable ?? null,
    },
    clean: {
      tags: tags && {
        column: tags.column ?? "tags",
        denylist: (tags.denylist ?? []).map((t) => t.toLowerCase()),
        denylistFragments: (tags.denylistFragments ?? []).map((t) => t.toLowerCase()),
        minAccuracy: tags.minAccuracy ?? 0.9,
        deniedProviders: tags.deniedProviders ?? [],
      },
      urlColumns: clean.urlColumns ?? [],
      urlScheme: clean.urlScheme ?? "https",
    },
    index: index && {
      alias: `${options.indexPrefix ?? ""}${index.alias ?? name}`,
      body: index.body ?? {},
      toDocument: index.toDocument ?? ((row) => ({ ...row, id: String(row[table.key]) })),
      children: index.children ?? [],
      batchDocuments: indexOptions.batchDocuments,
      batchBytes: indexOptions.batchBytes,
      concurrency: indexOptions.concurrency,
      maxFailures: indexOptions.maxFailures,
    },
    swap,
    refresh,
    payload,
    validate,
  };
}

export function resolveConfig(config: SluiceConfig, file: string, options: ResolveOptions = {}): Map<string, Dataset> {
  if (!config || typeof config !== "object") throw new ConfigError(`${file}: the default export must be defineConfig({...})`);
  const datasets = new Map<string, Dataset>();
  for (const [name, dataset] of Object.entries(config.datasets ?? {})) {
    datasets.set(name, resolveDataset(name, dataset, `${file}: datasets.${name}`, options));
  }
  return datasets;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
