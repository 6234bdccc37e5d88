/**
 * `sluice config check`: is the configuration right, and can sluice reach what it names?
 *
 *   config file → schema → resolved datasets → each source (and sync source: ping()), the API database, Elasticsearch → report
 *
 * A config error throws (exit 2) before anything is contacted. Reachability problems do not throw
 * here: every dataset gets its checks, and the command exits 1 when any failed. Each service is
 * contacted once however many datasets use it; URLs are printed masked.
 */
import { openDatabase, type Sql } from "../adapters/postgres.ts";
import { engineName, openSearch } from "../adapters/elasticsearch.ts";
import { type Env, readEnv } from "../config/env.ts";
import { describeDataset } from "../config/describe.ts";
import { datasetNamed, loadConfiguration } from "../config/load.ts";
import type { Dataset, PostgresSourceConfig, RegistrySourceConfig } from "../config/types.ts";
import { SluiceError } from "../errors.ts";
import { maskUrl } from "../redact.ts";
import { openSyncSource } from "../sources/open.ts";
import { pageUrl, parseRegistryPage } from "../sources/registry.ts";
import type { Source } from "../sources/types.ts";
import { jsonKeysError, lackingColumnsError } from "./index/staging-rows.ts";
import { jsonKeysProblem, type TableColumn } from "../transforms/copy-row-reader.ts";
import { qualifiedName, stagingColumns, upstreamColumnTypes } from "./refresh/upstream.ts";

export interface Check {
  /** What was checked: "source", "deleted table", "elasticsearch". */
  what: string;
  ok: boolean;
  /** What was found, or what is wrong and how to fix it. */
  detail: string;
}

export interface DatasetCheck {
  name: string;
  /** "built-in" or the config file that declares it. */
  origin: string;
  /** The dataset as resolved, every default filled in (see src/config/describe.ts). */
  resolved: Record<string, unknown>;
  checks: Check[];
}

export interface ConfigCheckReport {
  /** The config file read; null when only the built-in datasets exist. */
  config: string | null;
  ok: boolean;
  datasets: DatasetCheck[];
}

/** How long one registry request may take. */
const REGISTRY_TIMEOUT_MS = 10_000;

/**
 * Checks the named dataset, else those of the config file, else (no file) the built-in ones:
 * a config of one's own is not failed for built-in datasets it does not use.
 */
export async function checkConfiguration(configPath?: string, datasetName?: string): Promise<ConfigCheckReport> {
  const env = readEnv();
  const loaded = await loadConfiguration(configPath);
  const chosen = datasetName
    ? [datasetNamed(loaded.datasets, datasetName)]
    : [...loaded.datasets.values()].filter((d) => !loaded.file || loaded.origins.get(d.name) === loaded.file);
  const services = new Services(env);
  try {
    const datasets: DatasetCheck[] = [];
    for (const dataset of chosen) {
      const checks = [await checkSource(dataset, services)];
      if (dataset.sync.source) checks.push(await checkSyncSource(dataset, services.env));
      if (dataset.table.deletedTable) checks.push(await checkModerationTable("deleted table", "deletedTable", dataset.table.deletedTable, services));
      if (dataset.table.matureTable) checks.push(await checkModerationTable("mature table", "matureTable", dataset.table.matureTable, services));
      if (dataset.index) checks.push(await services.elasticsearch());
      datasets.push({ name: dataset.name, origin: loaded.origins.get(dataset.name) ?? "built-in", resolved: describeDataset(dataset), checks });
    }
    return { config: loaded.file, ok: datasets.every((d) => d.checks.every((c) => c.ok)), datasets };
  } finally {
    await services.close();
  }
}

/** The problems of a report, each once: what the command's last line names. */
export function reportProblems(report: ConfigCheckReport): string[] {
  return [...new Set(report.datasets.flatMap((d) => d.checks.filter((c) => !c.ok).map((c) => c.detail)))];
}

async function checkSource(dataset: Dataset, services: Services): Promise<Check> {
  const source = dataset.source;
  try {
    if (source.kind === "registry") return { what: "source", ok: true, detail: await checkRegistry(source) };
    return { what: "source", ok: true, detail: await checkUpstream(dataset, source, await services.upstream(), services.env.upstreamDatabaseUrl!) };
  } catch (error) {
    return { what: "source", ok: false, detail: problemOf(error) };
  }
}

/** A dataset's own sync source (file, module or registry): loaded as `sluice sync` loads it, and its ping() called. */
async function checkSyncSource(dataset: Dataset, env: Env): Promise<Check> {
  let source: Source | null = null;
  try {
    source = await openSyncSource(dataset, env);
    await source.ping();
    const configured = dataset.sync.source!;
    return { what: "sync source", ok: true, detail: `${configured.kind} source ${configured.kind === "file" ? configured.path : configured.kind === "module" ? configured.module : configured.url} answers ping()` };
  } catch (error) {
    return { what: "sync source", ok: false, detail: problemOf(error) };
  } finally {
    await source?.close?.().catch(() => {});
  }
}

/** The table (with its key, removed and declared columns) or the query, in UPSTREAM_DATABASE_URL. */
async function checkUpstream(dataset: Dataset, source: PostgresSourceConfig, upstream: Sql, url: string): Promise<string> {
  const where = `in UPSTREAM_DATABASE_URL (${maskUrl(url)})`;
  if (source.query) {
    try {
      await upstream.unsafe(`SELECT * FROM (${source.query}) AS upstream_query LIMIT 0`);
    } catch (error) {
      throw new SluiceError(`the upstream query of dataset ${dataset.name} fails ${where}: ${(error as Error).message}`, { hint: "fix source.query" });
    }
    checkIndexColumns(dataset, stagingColumns(dataset, null), "the staging table (table.columns)");
    return `upstream query runs ${where}`;
  }
  const types = await upstreamColumnTypes(upstream, source);
  const columns = stagingColumns(dataset, types);
  for (const [column, role] of [[dataset.table.key, "table.key"], [source.removedColumn, "source.removedColumn"]] as const) {
    if (column && !types?.has(column)) {
      throw new SluiceError(`upstream table ${source.table} has no column ${column} (${role} of dataset ${dataset.name})`, { hint: `fix ${role}` });
    }
  }
  checkIndexColumns(dataset, columns, `the staging table (the columns of upstream table ${source.table})`);
  return `upstream table ${source.table} ${where}: ${columns.length} columns copied`;
}

/** index.columns and index.jsonKeys name only (json) columns the staging table will have; the index stage checks again against the table itself. */
function checkIndexColumns(dataset: Dataset, staged: TableColumn[], what: string): void {
  const chosen = dataset.index?.columns ?? null;
  const lacking = lackingColumnsError(chosen, staged.map((c) => c.name), `index.columns of dataset ${dataset.name}`, what);
  if (lacking) throw lacking;
  const keysProblem = jsonKeysProblem(chosen ? staged.filter((c) => chosen.includes(c.name)) : staged, dataset.index?.jsonKeys ?? null, what);
  if (keysProblem) throw jsonKeysError(`index.jsonKeys of dataset ${dataset.name}`, keysProblem);
}

/** One request for the first page of the listing. */
async function checkRegistry(source: RegistrySourceConfig): Promise<string> {
  const url = pageUrl(source.url, 1, 0);
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(REGISTRY_TIMEOUT_MS) });
  } catch (error) {
    throw new SluiceError(`cannot reach the registry at ${maskUrl(source.url)}: ${(error as Error).message}`, { hint: "check source.url (or IATI_REGISTRY_URL) and the network" });
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new SluiceError(`the registry at ${maskUrl(source.url)} answered HTTP ${res.status}`, { hint: "check source.url (or IATI_REGISTRY_URL)" });
  }
  const page = parseRegistryPage(await res.json().catch(() => null));
  return `registry ${maskUrl(source.url)} answers: ${page.count} documents listed`;
}

/** A moderation table is read only when it exists; its absence is shown, not an error (the API's migrations create it). */
async function checkModerationTable(what: string, key: string, table: string, services: Services): Promise<Check> {
  try {
    const sql = await services.api();
    const [row] = await sql`select to_regclass(${qualifiedName(table)}) is not null as ok`;
    if (!row?.ok) return { what, ok: true, detail: `table.${key} ${table} does not exist in DATABASE_URL yet: it is not read until it does (check the name if it should)` };
    return { what, ok: true, detail: `${table} exists in DATABASE_URL` };
  } catch (error) {
    return { what, ok: false, detail: problemOf(error) };
  }
}

function problemOf(error: unknown): string {
  return error instanceof SluiceError ? error.toLine() : ((error as Error)?.message ?? String(error));
}

/** Each outside system, opened on first use and only once. */
class Services {
  #upstream: Promise<Sql> | undefined;
  #api: Promise<Sql> | undefined;
  #elasticsearch: Promise<Check> | undefined;
  constructor(readonly env: Env) {}

  upstream(): Promise<Sql> {
    this.#upstream ??= this.#open(this.env.upstreamDatabaseUrl, "UPSTREAM_DATABASE_URL");
    return this.#upstream;
  }

  api(): Promise<Sql> {
    this.#api ??= this.#open(this.env.databaseUrl, "DATABASE_URL");
    return this.#api;
  }

  elasticsearch(): Promise<Check> {
    this.#elasticsearch ??= this.#pingSearch();
    return this.#elasticsearch;
  }

  async #open(url: string | undefined, variable: "DATABASE_URL" | "UPSTREAM_DATABASE_URL"): Promise<Sql> {
    if (!url) throw new SluiceError(`${variable} is not set`, { hint: "export it or put it in .env" });
    return openDatabase(url, { variable, maxConnections: 1 });
  }

  async #pingSearch(): Promise<Check> {
    const url = this.env.elasticsearchUrl;
    if (!url) return { what: "elasticsearch", ok: false, detail: "ELASTICSEARCH_URL is not set (export it or put it in .env)" };
    try {
      const client = await openSearch(url, this.env.elasticsearchAccess);
      const health = await client.cluster.health({}).finally(() => client.close());
      return { what: "elasticsearch", ok: true, detail: `ELASTICSEARCH_URL (${maskUrl(url)}) answers: ${engineName(client.engine)} cluster ${health.cluster_name} is ${health.status} (client: ${client.client})` };
    } catch (error) {
      return { what: "elasticsearch", ok: false, detail: problemOf(error) };
    }
  }

  async close(): Promise<void> {
    for (const pending of [this.#upstream, this.#api]) {
      const sql = await pending?.catch(() => undefined);
      await sql?.end({ timeout: 1 });
    }
  }
}
