/** `sluice status`: what an on-call engineer asks first — is everything reachable, and what is live. */
import { readEnv } from "../config/env.ts";
import { loadDatasets } from "../config/load.ts";
import { listJobs } from "../jobs/jobs.ts";
import { EXPECTED_SCHEMA_VERSION, migrationStatus } from "../migrate/index.ts";
import { maskUrl } from "../redact.ts";
import { openApiDatabase } from "./session.ts";

export interface DatasetStatus {
  name: string;
  source: string;
  liveGeneration: number | null;
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
      if (schemaReady) {
        const [live] = await sql`select number from sluice.generations where dataset = ${dataset.name} and state = 'live'`;
        liveGeneration = live?.number ?? null;
        const [job] = await listJobs(sql, { dataset: dataset.name, limit: 1 });
        if (job) lastJob = { id: job.id, stage: job.stage, state: job.state, finishedAt: job.finishedAt };
      }
      rows.push({ name: dataset.name, source: dataset.source.kind, liveGeneration, lastJob });
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
