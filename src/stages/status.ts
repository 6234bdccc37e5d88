/** `sluice status`: what an on-call engineer asks first — is everything reachable, and what is live. */
import { readEnv, requireEnv, type SearchAccess } from "../config/env.ts";
import { searchFetchInit } from "../adapters/elasticsearch.ts";
import { SluiceError } from "../errors.ts";
import { loadDatasets } from "../config/load.ts";
import { listJobs } from "../jobs/jobs.ts";
import { EXPECTED_SCHEMA_VERSION, migrationStatus } from "../migrate/index.ts";
import { maskUrl, redact } from "../redact.ts";
import type { Sql } from "../adapters/postgres.ts";
import type { Dataset } from "../config/types.ts";
import { generationIndices } from "../generations/names.ts";
import { openSwap } from "../generations/swap-journal.ts";
import { type Health, assessHealth } from "./health.ts";
import { openApiDatabase } from "./session.ts";

export interface DatasetStatus {
  name: string;
  source: string;
  /** Whether the dataset has a search index (`index: false` keeps only the table). */
  indexed: boolean;
  liveGeneration: number | null;
  /**
   * Whether table, alias and sluice.generations agree: "split" while a swap is unfinished (its
   * journal row is open) or the alias is off the live generation; "unknown" when Elasticsearch
   * cannot be asked and nothing says split. `repair` names the command that converges it.
   */
  swap: { state: "agreed" | "split" | "unknown"; detail: string | null; repair: string | null };
  lastJob: { id: number; stage: string; state: string; finishedAt: Date | null } | null;
  /** The last finished top-level job (a `run`, or a stage run alone): what `--exit-code` judges. */
  lastRun: { id: number; stage: string; state: string; finishedAt: Date | null } | null;
  /** When the last top-level job succeeded, and the dataset's `status.maxAgeHours`. */
  lastSuccessAt: Date | null;
  maxAgeHours: number | null;
}

export interface StatusReport {
  database: { url: string; reachable: boolean; error: string | null; migration: number; expected: number; pending: number; drifted: number };
  elasticsearch: { url: string | null; status: string; reachable: boolean };
  datasets: DatasetStatus[];
  /** What `sluice status --exit-code` exits with, and why. */
  health: Health;
}

export async function collectStatus(configPath?: string, now = new Date()): Promise<StatusReport> {
  const env = readEnv();
  const datasets = await loadDatasets(configPath);
  const url = maskUrl(requireDatabaseUrl(env));
  const elasticsearch = await elasticsearchHealth(env.elasticsearchUrl, env.elasticsearchAccess);
  const blank = (dataset: Dataset, detail: string): DatasetStatus => ({
    name: dataset.name,
    source: dataset.source.kind,
    indexed: Boolean(dataset.index),
    liveGeneration: null,
    swap: { state: "unknown", detail, repair: null },
    lastJob: null,
    lastRun: null,
    lastSuccessAt: null,
    maxAgeHours: dataset.status.maxAgeHours,
  });
  let sql: Sql;
  try {
    sql = await openApiDatabase(env);
  } catch (error) {
    // Unreachable is an answer here, not a failure: status reports it (and --exit-code exits on it).
    if (!(error instanceof SluiceError)) throw error;
    const database = { url, reachable: false, error: error.toLine(), migration: 0, expected: EXPECTED_SCHEMA_VERSION, pending: 0, drifted: 0 };
    const rows = [...datasets.values()].map((d) => blank(d, "the database is unreachable"));
    return { database, elasticsearch, datasets: rows, health: assessHealth({ database, elasticsearch, datasets: rows }, now) };
  }
  try {
    const migrations = await migrationStatus(sql);
    const applied = migrations.filter((m) => m.state !== "pending");
    const schemaReady = migrations.every((m) => m.state === "applied");
    const rows: DatasetStatus[] = [];
    for (const dataset of datasets.values()) {
      const row = blank(dataset, "the database is not at the expected migration");
      if (schemaReady) {
        const [live] = await sql`select number from sluice.generations where dataset = ${dataset.name} and state = 'live'`;
        row.liveGeneration = live?.number ?? null;
        const [job] = await listJobs(sql, { dataset: dataset.name, limit: 1 });
        if (job) row.lastJob = { id: job.id, stage: job.stage, state: job.state, finishedAt: job.finishedAt };
        const [run] = await sql`
          select id::int, stage, state, finished_at from sluice.jobs
          where dataset = ${dataset.name} and parent_id is null and finished_at is not null
          order by id desc limit 1`;
        if (run) row.lastRun = { id: run.id, stage: run.stage, state: run.state, finishedAt: run.finished_at };
        const [success] = await sql`
          select max(finished_at) as at from sluice.jobs
          where dataset = ${dataset.name} and parent_id is null and state = 'succeeded'`;
        row.lastSuccessAt = success?.at ?? null;
        row.swap = await swapAgreement(sql, dataset, row.liveGeneration, env.elasticsearchUrl, env.elasticsearchAccess);
      }
      rows.push(row);
    }
    const database = {
      url,
      reachable: true,
      error: null,
      migration: applied.length ? Math.max(...applied.map((m) => m.version)) : 0,
      expected: EXPECTED_SCHEMA_VERSION,
      pending: migrations.filter((m) => m.state === "pending").length,
      drifted: migrations.filter((m) => m.state === "drifted").length,
    };
    return { database, elasticsearch, datasets: rows, health: assessHealth({ database, elasticsearch, datasets: rows }, now) };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

function requireDatabaseUrl(env: ReturnType<typeof readEnv>): string {
  return requireEnv(env, "databaseUrl", "DATABASE_URL");
}

async function elasticsearchHealth(url: string | undefined, access: SearchAccess): Promise<StatusReport["elasticsearch"]> {
  if (!url) return { url: null, status: "not configured (ELASTICSEARCH_URL)", reachable: false };
  try {
    const res = await fetch(new URL("/_cluster/health", url), { ...searchFetchInit(url, access), signal: AbortSignal.timeout(3000) } as RequestInit);
    const body = (await res.json()) as { status?: string };
    return { url: maskUrl(url), status: body.status ?? `HTTP ${res.status}`, reachable: body.status !== undefined };
  } catch (error) {
    return { url: maskUrl(url), status: `unreachable (${redact((error as Error).message)})`, reachable: false };
  }
}

async function swapAgreement(sql: Sql, dataset: Dataset, live: number | null, esUrl: string | undefined, access: SearchAccess): Promise<DatasetStatus["swap"]> {
  const repair = `sluice swap ${dataset.name} --repair`;
  const open = await openSwap(sql, dataset.name);
  if (open) {
    const since = open.startedAt.toISOString();
    return { state: "split", detail: `a swap to generation ${open.incoming} (started ${since}) moved the table; the alias move is unconfirmed`, repair };
  }
  if (live === null || !dataset.index || !esUrl) return { state: "agreed", detail: null, repair: null };
  for (const target of generationIndices(dataset, live)) {
    const indices = await aliasIndices(esUrl, target.alias, access);
    if (indices === null) return { state: "unknown", detail: "Elasticsearch did not answer", repair: null };
    if (indices.length !== 1 || indices[0] !== target.index) {
      return { state: "split", detail: `the table is on generation ${live} but alias ${target.alias} points at ${indices.join(", ") || "nothing"}`, repair };
    }
  }
  return { state: "agreed", detail: null, repair: null };
}

/** The indices an alias points at ([] when there is none), or null when Elasticsearch does not answer. */
async function aliasIndices(url: string, alias: string, access: SearchAccess): Promise<string[] | null> {
  try {
    const res = await fetch(new URL(`/_alias/${encodeURIComponent(alias)}`, url), { ...searchFetchInit(url, access), signal: AbortSignal.timeout(3000) } as RequestInit);
    if (res.status === 404) return [];
    if (!res.ok) return null;
    return Object.keys((await res.json()) as object);
  } catch {
    return null;
  }
}
