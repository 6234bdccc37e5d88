/**
 * The dataset model. `DatasetConfig` is what users write in sluice.config.ts (loose, most fields
 * optional); `Dataset` is what stages receive, every default filled in by `resolveDataset`.
 *
 * The input types are checked against the runtime schema (src/config/schema.ts) at compile time,
 * so the two cannot drift; this file holds types only, because the declarations users get from
 * `sluice init` are generated from it.
 */

// ---------------------------------------------------------------------------------------------
// Sources
// ---------------------------------------------------------------------------------------------

/** Rows come from a table or query in UPSTREAM_DATABASE_URL, copied with COPY TO STDOUT. */
export interface PostgresSourceConfig {
  kind: "postgres";
  /** Upstream table, e.g. "image" or "public.image". One of `table` or `query`. */
  table?: string;
  /** Upstream query; its columns must match the dataset's table columns. */
  query?: string;
  /** Boolean upstream column meaning "deleted upstream"; such rows are left out. */
  removedColumn?: string;
}

/** A CKAN-style registry (`package_search` with `rows` and `start`), as the IATI registry serves it. */
export interface RegistrySourceConfig {
  kind: "registry";
  /** Base URL of the API, e.g. https://registry.example/api/3/action */
  url: string;
  /** @default 1000 */
  pageSize?: number;
  /** Refuse a refresh that lists fewer than this fraction of the documents already known. @default 0.5 */
  minListedFraction?: number;
}

export type SourceConfig = PostgresSourceConfig | RegistrySourceConfig;

// ---------------------------------------------------------------------------------------------
// Sync (`sluice sync`: the live index kept in step in place)
// ---------------------------------------------------------------------------------------------

/** Records from CSV, TSV or JSONL files, streamed; the record's id is its `table.key` field. */
export interface FileSourceConfig {
  kind: "file";
  /** One file or a glob (`data/*.csv`), relative to the working directory. */
  path: string;
  /** @default from the file's extension: .csv, .tsv, .jsonl or .ndjson */
  format?: "csv" | "tsv" | "jsonl";
  /** Field holding the record's version (a timestamp or a hash). @default a sha256 of the record */
  versionField?: string;
}

/** A source of your own: `./sources/crm.ts:CrmSource`, constructed with `options`. */
export interface ModuleSourceConfig {
  kind: "module";
  /** `<file>:<export>`, the file relative to the working directory; the export is a class or a factory. */
  module: string;
  /** Passed to the export: `new CrmSource(options)` or `createSource(options)`. @default {} */
  options?: Record<string, unknown>;
}

/**
 * One sync rule: records whose `field` matches are included or excluded. Rules are tried in
 * order, the first match wins, and a record no rule matches is included. Exactly one operator.
 */
export interface SyncRule {
  policy: "include" | "exclude";
  /** A field of the source record; dots reach into objects (`meta.license`). */
  field: string;
  equals?: string | number | boolean;
  prefix?: string;
  suffix?: string;
  contains?: string;
  /** A JavaScript regular expression, without slashes. */
  regex?: string;
  /** Less than: numbers compare as numbers, anything else as text. */
  lt?: string | number;
  /** Greater than: numbers compare as numbers, anything else as text. */
  gt?: string | number;
}

/**
 * A CKAN registry's package listing (`package_search`), one record a package: its id, a version
 * from the registry's hash and metadata_modified, and its metadata (name, publisher, url, hash, modified).
 */
export interface RegistrySyncSourceConfig {
  kind: "registry";
  /** Base URL of the API, e.g. https://registry.example/api/3/action */
  url: string;
  /** Packages a request. @default 1000 */
  pageSize?: number;
}

export type SyncSourceConfig = FileSourceConfig | ModuleSourceConfig | RegistrySyncSourceConfig;

export interface SyncConfig {
  /** What sync reads. @default the dataset's own `source` (postgres only) */
  source?: SyncSourceConfig;
  /** Postgres source: a column that grows whenever a row changes (`updated_at`); enables --incremental. */
  cursorColumn?: string;
  /** Postgres source: the column that is a row's version. @default an md5 of the row */
  versionColumn?: string;
  /** Include/exclude rules, applied to each source record before the reconcile. @default [] */
  rules?: SyncRule[];
  /** Refuse a sync that would delete more than this fraction of the index, unless --force. @default 0.1 */
  maxDeleteFraction?: number;
  /** Stop the sync after this many documents failed in a row. @default 100 */
  maxConsecutiveFailures?: number;
  /** Stop the sync when more than this fraction of the documents written failed (checked after 1000). @default 0.1 */
  maxErrorRate?: number;
}

// ---------------------------------------------------------------------------------------------
// Payloads and validation (registry datasets)
// ---------------------------------------------------------------------------------------------

/** How `reload` downloads the payload each row points at into the blob store. */
export interface PayloadConfig {
  /** Column holding the payload URL. @default "url" */
  column?: string;
  /** What the payloads are; decides how `validate` checks them. @default "xml" */
  format?: "xml" | "json";
  /** Downloads at once. @default 8 */
  concurrency?: number;
  /** Downloads at once from one host. @default 2 */
  perHost?: number;
  /** Whole-download timeout (connect, headers and body). @default 30000 */
  timeoutMs?: number;
  /** Redirects followed before giving up. @default 5 */
  maxRedirects?: number;
  /** Largest payload accepted. @default 50 MiB */
  maxBytes?: number;
}

/** How `validate` checks payloads and when it stops wasting work on a publisher. */
export interface ValidateConfig {
  /** A publisher with more than this many schema-invalid documents within the window is flagged. @default 100 */
  flagThreshold?: number;
  /** The window for `flagThreshold`, in hours. @default 2 */
  flagWindowHours?: number;
  /** Largest document parsed. @default 50 MiB */
  maxBytes?: number;
  /** Deepest element nesting accepted in XML. @default 256 */
  maxDepth?: number;
  /** JSON Schema (for ajv) that JSON payloads must satisfy; required when payload.format is "json". */
  jsonSchema?: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Table, cleaning, index
// ---------------------------------------------------------------------------------------------

export interface TableConfig {
  /** Live table name in the API database. @default the dataset name */
  name?: string;
  /** Column that identifies a row. */
  key: string;
  /** Column name → Postgres type. @default taken from the upstream table */
  columns?: Record<string, string>;
  /** Index definitions, `{table}` standing for the table: "CREATE UNIQUE INDEX ON {table} (url)". */
  indexes?: string[];
  /** API-database table whose `key` column lists rows deleted by moderators; they are left out. */
  deletedTable?: string;
  /**
   * API-database table whose `key` column lists rows moderators marked mature; those rows reach the
   * document builder with `mature: true` (Openverse's `api_mature<media>`).
   */
  matureTable?: string;
}

export interface TagCleanConfig {
  /** @default "tags" */
  column?: string;
  denylist?: string[];
  denylistFragments?: string[];
  /** Machine tags with an accuracy below this are dropped. @default 0.9 */
  minAccuracy?: number;
  /** Tags from these providers (unvetted taggers) are dropped. @default [] */
  deniedProviders?: string[];
}

export interface CleanConfig {
  tags?: TagCleanConfig | false;
  /** Columns holding URLs that get a scheme when they lack one. */
  urlColumns?: string[];
  /** @default "https" */
  urlScheme?: string;
}

export type Document = Record<string, unknown> & { id?: string };

export interface ChildIndexConfig {
  /** `<alias>-<suffix>`, e.g. "budget" → "iati-budget". */
  suffix: string;
  body: IndexBody;
  /**
   * Documents of this child index derived from one parent row; when the parent's `toDocument`
   * yields its documents one at a time, called once per parent document, given as `parent`.
   */
  toDocuments(row: Record<string, unknown>, context: IndexContext, parent?: Document): Document[] | Promise<Document[]>;
}

/** The filtered twin: `<alias>-<suffix>`, the parent's documents minus those holding a term. */
export interface FilteredIndexConfig {
  /** @default "filtered" */
  suffix?: string;
  /** The sensitive terms, one per line (`#` comments); a path relative to the working directory. Give this or `terms`. */
  termsFile?: string;
  /** The sensitive terms themselves. */
  terms?: string[];
  /** Document fields looked in (dotted paths into lists). @default ["title", "description", "tags.name"] */
  fields?: string[];
}

/** One document, several, none (null or []), or several yielded one at a time (a large payload). */
export type DocumentsOfRow = Document | Document[] | AsyncIterable<Document> | null;

/** What document builders may use besides the row. */
export interface IndexContext {
  /** The bytes of a stored payload, by its sha256 (registry datasets). */
  readBlob(sha256: string): Promise<Uint8Array>;
  /** The same bytes as a stream, so that a large payload need not be held whole. */
  readBlobStream?(sha256: string): Promise<ReadableStream<Uint8Array>>;
}

export interface IndexBody {
  settings?: Record<string, unknown>;
  mappings?: Record<string, unknown>;
}

export interface IndexConfig {
  /** @default the dataset name */
  alias?: string;
  body?: IndexBody;
  /**
   * Turns one staging row (as `row_to_json` gives it) into its document, or several (one IATI
   * document holds many activities); null or [] skips the row. Without it, each row is indexed as
   * it is plus `id` (the key as text), its JSON built straight from COPY text: the fastest path.
   */
  toDocument?(row: Record<string, unknown>, context: IndexContext): DocumentsOfRow | Promise<DocumentsOfRow>;
  /**
   * The staging columns the documents are made of: the only ones copied out of PostgreSQL into each
   * row (toDocument's and the children's), or into a projection's documents. The key column, and
   * a `mature` column when the table has one, are always read. A column the staging table lacks
   * fails the index stage before it creates anything (`sluice config check` reports it first).
   * Less to copy and decode: ~15% of sluice's CPU per document for Openverse's image rows.
   * @default every column
   */
  columns?: string[];
  /**
   * Of these json or jsonb columns, the only keys toDocument reads: the server sends just those
   * keys' values, and the row holds an object with those of them the value has (any value that is
   * not an object comes whole). A key toDocument reads beyond the list is absent. Only with
   * toDocument. Openverse's meta_data read as 4 keys: ~17% less of sluice's CPU per row read.
   * @default every key
   */
  jsonKeys?: Record<string, string[]>;
  children?: ChildIndexConfig[];
  /** A twin of the index without the documents that hold a sensitive term, built in the same pass. */
  filtered?: FilteredIndexConfig;
  /** @default 2000 documents per bulk request */
  batchDocuments?: number;
  /** @default 5 MiB per bulk request */
  batchBytes?: number;
  /** The most bulk requests in flight; how many are adapts below it (more while answers keep their speed, half on a 429). @default 6 */
  concurrency?: number;
  /** Failed documents tolerated before the job fails. @default 0 */
  maxFailures?: number;
  /**
   * What the index may give up on a cluster that lacks the module its body needs: "ranking"
   * (mapper-extras: rank_feature fields become float) and "stemming" (analysis-common: stemmers
   * and other such filters are dropped from the analyzers). Unlisted, such a cluster is refused.
   * SLUICE_INDEX_DEGRADE adds to it for every dataset. @default []
   */
  degrade?: Degradation[];
}

/** What an index may give up on a cluster without the module its body needs. */
export type Degradation = "ranking" | "stemming";

export interface SwapConfig {
  /** Refuse a swap when staging or the index is smaller than live by more than this. @default 0.1 */
  maxShrink?: number;
  /** Generations kept besides live (for rollback). @default 1 */
  keep?: number;
  /** A keyword field whose document counts `run` shows, live beside new, before it swaps (as `sluice diff --by`). */
  diffBy?: string;
  /** Searches run against the new index, beside live, before the alias moves; one failing refuses the swap. @default [] */
  checks?: SearchCheckConfig[];
  /**
   * How long a swap waits for the new indices' replicas to be assigned and recovered (health green)
   * before it refuses; replicas the cluster has too few data nodes to place are warned about, not waited for. @default 600
   */
  replicaWaitSeconds?: number;
}

/**
 * A search run against the new index and live before a swap: a `query` with at least one of
 * minHits, expectId, minShareOfLive; or a `rankEval` judgment file with minScore and/or
 * maxDropFromLive.
 */
export interface SearchCheckConfig {
  /** Shown in the table and stored on the swap job. @default the query (or the judgment file) */
  name?: string;
  /** A query string (Lucene syntax, as `?q=`) or an Elasticsearch query object. */
  query?: string | Record<string, unknown>;
  /** The new index finds at least this many documents. */
  minHits?: number;
  /** This document `_id` is among the first `withinTop` hits of the new index. */
  expectId?: string;
  /** @default 10 */
  withinTop?: number;
  /** The new index finds at least this fraction of what live finds for the same query (0.9: 90%). */
  minShareOfLive?: number;
  /**
   * A judgment file (path from the working directory): JSON in `_rank_eval`'s request format,
   * `{ requests: [{ id, request: { query }, ratings: [{ _index, _id, rating }] }], metric }`. Each
   * rating's `_index` is a placeholder, replaced by the new index's name and by live's. Needs the
   * cluster's rank-eval module.
   */
  rankEval?: string;
  /** The new index's `_rank_eval` metric score is at least this. */
  minScore?: number;
  /** The new index's score is at most this much below live's on the same judgments (0.05). */
  maxDropFromLive?: number;
}

export interface RefreshConfig {
  /** Failed rows tolerated before a refresh fails; unset, the fraction alone decides. */
  maxFailures?: number;
  /** Fraction of the rows read that may fail before a refresh fails. @default 0.01 */
  maxFailedFraction?: number;
}

export interface StatusConfig {
  /** `sluice status --exit-code` fails when the dataset's last successful run finished longer ago than this. Unset: no limit. */
  maxAgeHours?: number;
}

export interface DatasetConfig {
  source: SourceConfig;
  table: TableConfig;
  clean?: CleanConfig;
  index?: IndexConfig | false;
  swap?: SwapConfig;
  refresh?: RefreshConfig;
  /** Registry datasets: how payloads are downloaded. @default {} for registry sources */
  payload?: PayloadConfig;
  /** Registry datasets: how payloads are validated. @default {} for registry sources */
  validate?: ValidateConfig;
  /** What `sluice status --exit-code` holds the dataset to. */
  status?: StatusConfig;
  /** How `sluice sync` keeps the live index in step. @default {} (the dataset's own source) */
  sync?: SyncConfig;
}

export interface SluiceConfig {
  datasets?: Record<string, DatasetConfig>;
}

// ---------------------------------------------------------------------------------------------
// Resolved
// ---------------------------------------------------------------------------------------------

export interface Dataset {
  name: string;
  source: SourceConfig;
  table: Required<Omit<TableConfig, "columns" | "deletedTable" | "matureTable">> & {
    columns: Record<string, string> | null;
    deletedTable: string | null;
    matureTable: string | null;
  };
  clean: {
    tags: Required<TagCleanConfig> | null;
    urlColumns: string[];
    urlScheme: string;
  };
  index: (Required<Omit<IndexConfig, "toDocument" | "children" | "filtered" | "columns" | "jsonKeys">> & {
    toDocument(row: Record<string, unknown>, context: IndexContext): DocumentsOfRow | Promise<DocumentsOfRow>;
    children: ChildIndexConfig[];
    /** null: every column. */
    columns: string[] | null;
    /** null: every key of every column. */
    jsonKeys: Record<string, string[]> | null;
    /** The terms read from `termsFile` (or given), so that the fingerprint follows them. */
    filtered: { suffix: string; terms: string[]; fields: string[] } | null;
  }) | null;
  swap: Required<Omit<SwapConfig, "diffBy" | "checks">> & { diffBy: string | null; checks: SearchCheckConfig[] };
  refresh: { maxFailures: number | null; maxFailedFraction: number };
  /** Set for registry datasets, null otherwise. */
  payload: Required<PayloadConfig> | null;
  validate: (Required<Omit<ValidateConfig, "jsonSchema">> & { jsonSchema: Record<string, unknown> | null }) | null;
  status: { maxAgeHours: number | null };
  sync: Required<Omit<SyncConfig, "source" | "cursorColumn" | "versionColumn">> & {
    source: SyncSourceConfig | null;
    cursorColumn: string | null;
    versionColumn: string | null;
  };
}
