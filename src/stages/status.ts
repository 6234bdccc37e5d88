/** `sluice status`: what an on-call engineer asks first — is everything reachable, and what is live. */
import { readEnv } from "../config/env.ts";
import { loadDatasets } from "../config/load.ts";
import { listJobs } from "../jobs/jobs.ts";
import { EXPECTED_SCHEMA_VERSION, migrationStatus } from "../migrate/index.ts";
import { maskUrl } from "../redact.ts";
import type { Sql } from "../adapters/postgres.ts";
import type { Dataset } from "../config/types.ts";
import { generationIndices } from "../generations/names.ts";
import { openSwap } from "../generations/swap-journal.ts";
import { openApiDatabase } from "./session.ts";

export interface DatasetStatus {
  name: string;
  source: string;
  liveGeneration: number | null;
  /**
   * Whether table, alias and sluice.generations agree: "split" while a swap is unfinished (its
   * journal row is open) or the alias is off the live generation; "unknown" when Elasticsearch
   * cannot be asked and nothing says split. `repair` names the command that converges it.
   */
  swap: { state: "agreed" | "split" | "unknown"; detail: string | null; repair: string | null };
  lastJob: { id: number; stage: string; state: string; finishedAt: Date | null } | null;
}

export interface StatusReport {
  database: { url: string; migration: number; expected: number; pending: number; drifted: number };
  elasticsearch: { url: string | null; status: string };
  datasets: DatasetStatus[];
}

export async function collectStatus(configPath?: string): Promise<StatusReport> {
  const env = readEnv();
  const datasets = await loadDatasets(configPath);
  const sql = await openApiDatabase(env);
  try {
    const migrations = await migrationStatus(sql);
    const applied = migrations.filter((m) => m.state !== "pending");
    const schemaReady = migrations.every((m) => m.state === "applied");
    const rows: DatasetStatus[] = [];
    for (const dataset of datasets.values()) {
      let liveGeneration: number | null = null;
      let lastJob: DatasetStatus["lastJob"] = null;
      let swap: DatasetStatus["swap"] = { state: "unknown", detail: "the database is not at the expected migration", repair: null };
      if (schemaReady) {
        const [live] = await sql`select number from sluice.generations where dataset = ${dataset.name} and state = 'live'`;
        liveGeneration = live?.number ?? null;
        const [job] = await listJobs(sql, { dataset: dataset.name, limit: 1 });
        if (job) lastJob = { id: job.id, stage: job.stage, state: job.state, finishedAt: job.finishedAt };
        swap = await swapAgreement(sql, dataset, liveGeneration, env.elasticsearchUrl);
      }
      rows.push({ name: dataset.name, source: dataset.source.kind, liveGeneration, swap, lastJob });
    }
    return {
      database: {
        url: maskUrl(env.databaseUrl!),
        migration: applied.length ? Math.max(...applied.map((m) => m.version)) : 0,
        expected: EXPECTED_SCHEMA_VERSION,
        pending: migrations.filter((m) => m.state === "pending").length,
        drifted: migrations.filter((m) => m.state === "drifted").length,
      },
      elasticsearch: await elasticsearchHealth(env.elasticsearchUrl),
      datasets: rows,
    };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function elasticsearchHealth(url: string | undefined): Promise<StatusReport["elasticsearch"]> {
  if (!url) return { url: null, status: "not configured (ELASTICSEARCH_URL)" };
  try {
    const res = await fetch(new URL("/_cluster/health", url), { signal: AbortSignal.timeout(3000) });
    const body = (await res.json()) as { status?: string };
    return { url: maskUrl(url), status: body.status ?? `HTTP ${res.status}` };
  } catch (error) {
    return { url: maskUrl(url), status: `unreachable (${(error as Error).message})` };
  }
}

async function swapAgreement(sql: Sql, dataset: Dataset, live: number | null, esUrl: string | undefined): Promise<DatasetStatus["swap"]> {
  const repair = `sluice swap ${dataset.name} --repair`;
  const open = await openSwap(sql, dataset.name);
  if (open) {
    const since = open.startedAt.toISOString();
    return { state: "split", detail: `a swap to generation ${open.incoming} (started ${since}) moved the table; the alias move is unconfirmed`, repair };
  }
  if (live === null || !dataset.index || !esUrl) return { state: "agreed", detail: null, repair: null };
  for (const target of generationIndices(dataset, live)) {
    const indices = await aliasIndices(esUrl, target.alias);
    if (indices === null) return { state: "unknown", detail: "Elasticsearch did not answer", repair: null };
    if (indices.length !== 1 || indices[0] !== target.index) {
      return { state: "split", detail: `the table is on generation ${live} but alias ${target.alias} points at ${indices.join(", ") || "nothing"}`, repair };
    }
  }
  return { state: "agreed", detail: null, repair: null };
}

/** The indices an alias points at ([] when there is none), or null when Elasticsearch does not answer. */
async function aliasIndices(url: string, alias: string): Promise<string[] | null> {
  try {
    const res = await fetch(new URL(`/_alias/${encodeURIComponent(alias)}`, url), { signal: AbortSignal.timeout(3000) });
    if (res.status === 404) return [];
    if (!res.ok) return null;
    return Object.keys((await res.json()) as object);
  } catch {
    return null;
  }
}
