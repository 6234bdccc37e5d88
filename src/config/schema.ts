/**
 * The one schema of sluice.config.ts (zod 4): the runtime check every dataset passes, built-in or
 * not, and the JSON Schema `sluice config schema` prints. Objects are strict, so a misspelled key
 * is an error, not a silently ignored setting. The hand-written input types in ./types.ts are
 * compared with this schema's inferred types at compile time (the `Same` checks at the end).
 *
 * Each rule's message is the phrase that follows the key path: `must be a whole number ≥ 1`.
 * ./issues.ts turns the first problem into one line with the path and the value it got.
 */
import { z } from "zod";
import { unknownKeyPhrase } from "./issues.ts";
import type {
  ChildIndexConfig,
  CleanConfig,
  DatasetConfig,
  Degradation,
  IndexBody,
  IndexConfig,
  PayloadConfig,
  PostgresSourceConfig,
  RefreshConfig,
  RegistrySourceConfig,
  RegistrySyncSourceConfig,
  SluiceConfig,
  SearchCheckConfig,
  FilteredIndexConfig,
  SwapConfig,
  TableConfig,
  TagCleanConfig,
  ValidateConfig,
  FileSourceConfig,
  ModuleSourceConfig,
  SyncConfig,
  SyncRule,
} from "./types.ts";

/** What an index may give up on a cluster without a module (IndexConfig.degrade, SLUICE_INDEX_DEGRADE). */
export const DEGRADATIONS = ["ranking", "stemming"] as const satisfies readonly Degradation[];

export const identifierPattern = /^[a-z_][a-z0-9_]*$/;
export const datasetNamePattern = /^[a-z][a-z0-9_-]*$/;

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

// ---------------------------------------------------------------------------------------------
// Building blocks: each carries the phrase its problems are reported with
// ---------------------------------------------------------------------------------------------

/** A strict object: an unknown key is an error whose message names the closest known key. */
function strict<Shape extends z.ZodRawShape>(shape: Shape, required?: string) {
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code === "unrecognized_keys") return unknownKeyPhrase(issue.keys[0] ?? "", Object.keys(shape));
      if (issue.input === undefined) return required ? `is required (${required})` : "is required";
      return "must be an object";
    },
  });
}

function wholeNumber(min: number, max?: number) {
  const phrase = max === undefined ? `must be a whole number ≥ ${min}` : `must be a whole number from ${min} to ${max}`;
  const base = z.int({ error: phrase }).min(min, { error: phrase });
  return max === undefined ? base : base.max(max, { error: phrase });
}

function fraction(phrase = "must be a fraction between 0 and 1") {
  return z.number({ error: phrase }).min(0, { error: phrase }).max(1, { error: phrase });
}

const text = z.string({ error: "must be a string" });
const textList = z.array(text, { error: "must be a list of strings" });
const jsonObject = z.record(z.string(), z.unknown(), { error: "must be an object" });
const identifier = z.string({ error: "must be a plain lowercase identifier" }).regex(identifierPattern, { error: "must be a plain lowercase identifier" });

/** A function in the config; JSON Schema cannot describe one, so it shows as `{}` with this description. */
function fn<F>(signature: string) {
  return z.custom<F>((value) => typeof value === "function", { error: `must be a function ${signature}` }).meta({ description: `a function ${signature}` });
}

// ---------------------------------------------------------------------------------------------
// Sources
// ---------------------------------------------------------------------------------------------

const postgresSource = strict({
  kind: z.literal("postgres"),
  table: text.optional(),
  query: text.optional(),
  removedColumn: text.optional(),
});

const registrySource = strict({
  kind: z.literal("registry"),
  url: z.string({ error: "must be an http(s) URL" }).regex(/^https?:\/\//, { error: "must be an http(s) URL" }),
  pageSize: wholeNumber(1, 10_000).optional(),
  minListedFraction: fraction().optional(),
});

const SOURCE_EXAMPLE = 'e.g. { kind: "postgres", table: "image" }';

const source = z.discriminatedUnion("kind", [postgresSource, registrySource], {
  error: (issue) => {
    if (issue.code === "invalid_union") return "is not a known kind (use postgres or registry)";
    return issue.input === undefined ? `is required (${SOURCE_EXAMPLE})` : `must be an object (${SOURCE_EXAMPLE})`;
  },
});

// ---------------------------------------------------------------------------------------------
// Table, cleaning, index, swap, refresh
// ---------------------------------------------------------------------------------------------

const table = strict(
  {
    name: identifier.optional(),
    key: z.string({
      error: (issue) => (issue.input === undefined ? "is required: the column that identifies a row (lowercase identifier)" : "must be a lowercase identifier: the column that identifies a row"),
    }).regex(identifierPattern, { error: "must be a lowercase identifier: the column that identifies a row" }),
    columns: z.record(
      z.string().regex(identifierPattern, { error: "is not a plain lowercase identifier" }),
      z.string({ error: "needs a Postgres type" }).trim().min(1, { error: "needs a Postgres type" }),
      { error: "must be an object of column name → Postgres type" },
    ).optional(),
    indexes: z.array(z.string({ error: 'must be SQL containing "{table}"' }).includes("{table}", { error: 'must be SQL containing "{table}"' }), { error: "must be a list of SQL strings" }).optional(),
    deletedTable: text.optional(),
    matureTable: text.optional(),
  },
  'e.g. { key: "identifier" }',
);

const tagClean = strict({
  column: text.optional(),
  denylist: textList.optional(),
  denylistFragments: textList.optional(),
  minAccuracy: fraction("must be between 0 and 1").optional(),
  deniedProviders: textList.optional(),
});

const clean = strict({
  tags: z.union([z.literal(false), tagClean]).optional(),
  urlColumns: textList.optional(),
  urlScheme: text.optional(),
});

const indexBody = strict({ settings: jsonObject.optional(), mappings: jsonObject.optional() });

const child = strict({
  suffix: z.string({ error: "must be a string: `<alias>-<suffix>`" }).regex(/^[a-z0-9_-]+$/, { error: "must be lowercase letters, digits, - or _" }),
  body: indexBody,
  toDocuments: fn<ChildIndexConfig["toDocuments"]>("(row, context) => documents"),
});

const filtered = strict({
  suffix: z.string({ error: "must be a string: `<alias>-<suffix>`" }).regex(/^[a-z0-9_-]+$/, { error: "must be lowercase letters, digits, - or _" }).optional(),
  termsFile: text.optional(),
  terms: textList.optional(),
  fields: textList.optional(),
}).refine((f) => (f.termsFile === undefined) !== (f.terms === undefined), { error: "must give termsFile or terms (one of them)" });

const index = strict({
  alias: z.string({ error: "must be a string" }).regex(/^[a-z0-9][a-z0-9_.-]*$/, { error: "must be a lowercase Elasticsearch name (letters, digits, -, _ or .)" }).optional(),
  body: indexBody.optional(),
  toDocument: fn<NonNullable<IndexConfig["toDocument"]>>("(row, context) => document").optional(),
  columns: z.array(identifier, { error: "must be a list of the staging table's column names" }).min(1, { error: "must name at least one column (leave it out to read every column)" }).optional(),
  jsonKeys: z
    .record(identifier, z.array(z.string({ error: "must be a key name" }).min(1, { error: "must be a key name" }), { error: "must be a list of key names" }).min(1, { error: "must name at least one key" }), {
      error: "must be an object of json column → the keys toDocument reads of it",
    })
    .optional(),
  children: z.array(child, { error: "must be a list of child indices" }).optional(),
  filtered: filtered.optional(),
  batchDocuments: wholeNumber(1).optional(),
  batchBytes: wholeNumber(1).optional(),
  concurrency: wholeNumber(1).optional(),
  maxFailures: wholeNumber(0).optional(),
  degrade: z.array(z.enum(DEGRADATIONS, { error: `must be one of ${DEGRADATIONS.join(", ")}` }), { error: `must be a list of ${DEGRADATIONS.join(", ")}` }).optional(),
});

const score = z.number({ error: "must be a number >= 0" }).min(0, { error: "must be a number >= 0" });
const searchCheck = strict(
  {
    name: text.optional(),
    query: z.union([text, jsonObject], { error: "must be a query string or an Elasticsearch query object" }).optional(),
    minHits: wholeNumber(0).optional(),
    expectId: text.optional(),
    withinTop: wholeNumber(1, 10_000).optional(),
    minShareOfLive: fraction().optional(),
    rankEval: text.optional(),
    minScore: score.optional(),
    maxDropFromLive: score.optional(),
  },
  "a query string or object",
)
  .refine((c) => (c.query === undefined) !== (c.rankEval === undefined), { error: "must give query or rankEval (one of them)" })
  .refine((c) => c.query === undefined || c.minHits !== undefined || c.expectId !== undefined || c.minShareOfLive !== undefined, {
    error: "must name an expectation (minHits, expectId or minShareOfLive)",
  })
  .refine((c) => c.rankEval === undefined || c.minScore !== undefined || c.maxDropFromLive !== undefined, {
    error: "must name an expectation for rankEval (minScore or maxDropFromLive)",
  })
  .refine((c) => (c.query === undefined ? c.minHits ?? c.expectId ?? c.withinTop ?? c.minShareOfLive : c.minScore ?? c.maxDropFromLive) === undefined, {
    error: "mixes a query's expectations (minHits, expectId, withinTop, minShareOfLive) with rankEval's (minScore, maxDropFromLive)",
  });

const swap = strict({
  maxShrink: fraction().optional(),
  keep: wholeNumber(0).optional(),
  diffBy: text.optional(),
  checks: z.array(searchCheck, { error: "must be a list of search checks" }).optional(),
  replicaWaitSeconds: wholeNumber(0).optional(),
});

const status = strict({
  maxAgeHours: z.number({ error: "must be a number of hours > 0" }).gt(0, { error: "must be a number of hours > 0" }).optional(),
});

const refresh = strict({
  maxFailures: wholeNumber(0).optional(),
  maxFailedFraction: fraction().optional(),
});

// ---------------------------------------------------------------------------------------------
// Payloads and validation (registry datasets)
// ---------------------------------------------------------------------------------------------

const payload = strict({
  column: z.string({ error: "must be a string" }).refine((column) => column in REGISTRY_COLUMNS, {
    error: `must be a column of the registry table (${Object.keys(REGISTRY_COLUMNS).join(", ")})`,
  }).optional(),
  format: z.enum(["xml", "json"], { error: 'must be "xml" or "json"' }).optional(),
  concurrency: wholeNumber(1).optional(),
  perHost: wholeNumber(1).optional(),
  timeoutMs: wholeNumber(1).optional(),
  maxRedirects: wholeNumber(0).optional(),
  maxBytes: wholeNumber(1).optional(),
});

const validate = strict({
  flagThreshold: wholeNumber(1).optional(),
  flagWindowHours: z.number({ error: "must be a number of hours > 0" }).gt(0, { error: "must be a number of hours > 0" }).optional(),
  maxBytes: wholeNumber(1).optional(),
  maxDepth: wholeNumber(1).optional(),
  jsonSchema: jsonObject.optional(),
});

// ---------------------------------------------------------------------------------------------
// Sync
// ---------------------------------------------------------------------------------------------

const fileSource = strict({
  kind: z.literal("file"),
  path: z.string({ error: "must be a path or glob" }).min(1, { error: "must be a path or glob" }),
  format: z.enum(["csv", "tsv", "jsonl"], { error: 'must be "csv", "tsv" or "jsonl"' }).optional(),
  versionField: text.optional(),
});

const moduleSource = strict({
  kind: z.literal("module"),
  module: z.string({ error: "must be `<file>:<export>`, e.g. ./sources/crm.ts:CrmSource" }).regex(/^.+:[A-Za-z_$][\w$]*$/, { error: "must be `<file>:<export>`, e.g. ./sources/crm.ts:CrmSource" }),
  options: jsonObject.optional(),
});

const registrySyncSource = strict({
  kind: z.literal("registry"),
  url: registrySource.shape.url,
  pageSize: wholeNumber(1, 10_000).optional(),
});

const syncSource = z.discriminatedUnion("kind", [fileSource, moduleSource, registrySyncSource], {
  error: (issue) => (issue.code === "invalid_union" ? "is not a known sync source kind (use file, module or registry; postgres is the dataset's own source)" : 'must be an object (e.g. { kind: "file", path: "data/*.csv" })'),
});

export const SYNC_RULE_OPERATORS = ["equals", "prefix", "suffix", "contains", "regex", "lt", "gt"] as const;

const syncRule = strict({
  policy: z.enum(["include", "exclude"], { error: 'must be "include" or "exclude"' }),
  field: z.string({ error: "must be a field name" }).min(1, { error: "must be a field name" }),
  equals: z.union([z.string(), z.number(), z.boolean()], { error: "must be a string, number or boolean" }).optional(),
  prefix: text.optional(),
  suffix: text.optional(),
  contains: text.optional(),
  regex: text.refine((pattern) => {
    try {
      new RegExp(pattern);
      return true;
    } catch {
      return false;
    }
  }, { error: "must be a valid regular expression" }).optional(),
  lt: z.union([z.string(), z.number()], { error: "must be a string or number" }).optional(),
  gt: z.union([z.string(), z.number()], { error: "must be a string or number" }).optional(),
}).superRefine((rule, ctx) => {
  const given = SYNC_RULE_OPERATORS.filter((op) => rule[op] !== undefined);
  if (given.length !== 1) ctx.addIssue({ code: "custom", path: [], input: undefined, message: `needs exactly one of ${SYNC_RULE_OPERATORS.join(", ")} (got ${given.length ? given.join(", ") : "none"})` });
});

const sync = strict({
  source: syncSource.optional(),
  cursorColumn: identifier.optional(),
  versionColumn: identifier.optional(),
  rules: z.array(syncRule, { error: "must be a list of rules" }).optional(),
  maxDeleteFraction: fraction().optional(),
  maxConsecutiveFailures: wholeNumber(1).optional(),
  maxErrorRate: fraction().optional(),
});

// ---------------------------------------------------------------------------------------------
// A dataset, and the rules that span its parts
// ---------------------------------------------------------------------------------------------

const datasetShape = strict({
  source,
  table,
  clean: clean.optional(),
  index: z.union([z.literal(false), index]).optional(),
  swap: swap.optional(),
  refresh: refresh.optional(),
  payload: payload.optional(),
  validate: validate.optional(),
  status: status.optional(),
  sync: sync.optional(),
});

export const datasetSchema = datasetShape.superRefine((dataset, ctx) => {
  const problem = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path, message, input: undefined });
  const { source: src, table: tbl } = dataset;
  if (src.kind === "postgres" && !src.table === !src.query) problem(["source"], "needs exactly one of `table` or `query`");
  if (src.kind === "registry") {
    if (tbl.columns) {
      problem(["table", "columns"], "cannot be set for a registry source: registry tables have fixed columns (id, name, publisher, url, hash, modified and stage state)");
    }
    if (tbl.key !== "id") problem(["table", "key"], 'must be "id" for a registry source');
    if (dataset.payload?.format === "json" && !dataset.validate?.jsonSchema) problem(["validate", "jsonSchema"], 'is required when payload.format is "json"');
  }
  if (dataset.sync && !dataset.sync.source && src.kind !== "postgres") problem(["sync", "source"], "is required for a registry dataset: sync reads a postgres, file, module or registry source");
  if (dataset.sync?.source && (dataset.sync.cursorColumn || dataset.sync.versionColumn)) problem(["sync", dataset.sync.cursorColumn ? "cursorColumn" : "versionColumn"], "applies to the dataset's postgres source only; remove it or sync.source");
  if (tbl.columns && !(tbl.key in tbl.columns)) problem(["table", "key"], `"${tbl.key}" is not one of table.columns`);
  const index = dataset.index || null;
  if (index?.jsonKeys) {
    // A projection indexes each column whole: narrowing what it reads would change its documents.
    if (!index.toDocument) problem(["index", "jsonKeys"], "applies only with index.toDocument: a projection indexes each column whole");
    for (const column of Object.keys(index.jsonKeys)) {
      if (index.columns && !index.columns.includes(column)) problem(["index", "jsonKeys", column], "is not one of index.columns: add it there, or leave it out here");
    }
  }
});

export const sluiceConfigSchema = strict({
  datasets: z.record(
    z.string().regex(datasetNamePattern, { error: "is not a valid dataset name: use lowercase letters, digits, - or _, starting with a letter" }),
    datasetSchema,
    { error: "must be an object of dataset name → dataset" },
  ).optional(),
});

/** The JSON Schema of sluice.config.ts's default export, for editors and other tools. */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(sluiceConfigSchema, { io: "input", unrepresentable: "any" }),
    title: "sluice.config.ts",
    description: "The default export of sluice.config.ts: defineConfig({ datasets: { name: { source, table, … } } })",
  };
}

// ---------------------------------------------------------------------------------------------
// The input types of ./types.ts are exactly what this schema accepts
// ---------------------------------------------------------------------------------------------

/** True only when A and B are the same type (not merely assignable either way). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Fails to compile unless its argument is `true`. */
type Check<T extends true> = T;

type In<S extends z.ZodType> = z.input<S>;
export type SchemaMatchesTypes = [
  Check<Same<In<typeof postgresSource>, PostgresSourceConfig>>,
  Check<Same<In<typeof registrySource>, RegistrySourceConfig>>,
  Check<Same<In<typeof table>, TableConfig>>,
  Check<Same<In<typeof tagClean>, TagCleanConfig>>,
  Check<Same<In<typeof clean>, CleanConfig>>,
  Check<Same<In<typeof indexBody>, IndexBody>>,
  Check<Same<In<typeof child>, ChildIndexConfig>>,
  Check<Same<In<typeof index>, IndexConfig>>,
  Check<Same<In<typeof swap>, SwapConfig>>,
  Check<Same<In<typeof searchCheck>, SearchCheckConfig>>,
  Check<Same<In<typeof filtered>, FilteredIndexConfig>>,
  Check<Same<In<typeof refresh>, RefreshConfig>>,
  Check<Same<In<typeof payload>, PayloadConfig>>,
  Check<Same<In<typeof validate>, ValidateConfig>>,
  Check<Same<In<typeof fileSource>, FileSourceConfig>>,
  Check<Same<In<typeof moduleSource>, ModuleSourceConfig>>,
  Check<Same<In<typeof registrySyncSource>, RegistrySyncSourceConfig>>,
  Check<Same<In<typeof syncRule>, SyncRule>>,
  Check<Same<In<typeof sync>, SyncConfig>>,
  Check<Same<In<typeof datasetSchema>, DatasetConfig>>,
  Check<Same<In<typeof sluiceConfigSchema>, SluiceConfig>>,
];
