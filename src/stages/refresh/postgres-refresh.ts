/**
 * Full refresh from a Postgres upstream, as Openverse does it:
 *
 *   upstream table --COPY + clean--> staging __gN --deleted, duplicates--> indexes --> diff vs live
 *
 * Staging starts empty each time; live is never touched. Before a generation is started, the
 * upstream columns are checked against the dataset (declared columns, cleaning rules), so a
 * configuration that cannot work fails before any row is read. Afterwards the failed rows are held
 * to the dataset's tolerance (tolerance.ts): past it, the refresh fails and its generation goes.
 */
import { openDatabase, serverMajorVersion, type Sql } from "../../adapters/postgres.ts";
import { requireEnv } from "../../config/env.ts";
import type { Dataset, PostgresSourceConfig } from "../../config/types.ts";
import { countReason } from "../../jobs/counters.ts";
import { RowFailureLog } from "../../jobs/row-failures.ts";
import { startProgress } from "../../log/progress.ts";
import type { Generation } from "../../generations/store.ts";
import { mergeGenerationStats } from "../../generations/store.ts";
import type { JobHandle } from "../job-runner.ts";
import { throwIfAborted, type Session } from "../session.ts";
import { checkCleaningFits } from "./cleaning-fit.ts";
import { copyFormat, copyUpstreamToStaging } from "./copy-pipe.ts";
import { refreshLimitWarning } from "./refresh-limit.ts";
import { planRows, type StagingColumn } from "./row-transform.ts";
import { enforceRefreshTolerance } from "./tolerance.ts";
import {
  buildStagingIndexes,
  createStagingTableSql,
  diffAgainstLive,
  removeDeletedRows,
} from "./staging-sql.ts";
import { countUpstream, stagingColumns, upstreamColumnTypes, upstreamNeedsUtf8Check, upstreamSelect } from "./upstream.ts";

export interface PostgresRefreshResult {
  /** Said at the start and repeated in the command's summary: rows the refresh limit left out. */
  warnings: string[];
}

/**
 * The checks that need the upstream but no generation: the table exists, the declared columns are
 * there, and the cleaning rules fit their columns' types. Run before a generation is started.
 */
export async function checkPostgresRefresh(session: Pick<Session, "dataset" | "env">): Promise<void> {
  const upstream = await openDatabase(requireEnv(session.env, "upstreamDatabaseUrl", "UPSTREAM_DATABASE_URL"), {
    variable: "UPSTREAM_DATABASE_URL",
    maxConnections: 1,
  });
  try {
    await refreshColumns(upstream, session.dataset);
  } finally {
    await upstream.end({ timeout: 0 });
  }
}

/** The staging columns, with their upstream types, once they are known to fit the cleaning rules. */
export async function refreshColumns(upstream: Sql, dataset: Dataset): Promise<StagingColumn[]> {
  const columns = stagingColumns(dataset, await upstreamColumnTypes(upstream, dataset.source as PostgresSourceConfig));
  checkCleaningFits(dataset, columns);
  return columns;
}

export async function refreshFromPostgres(session: Session, job: JobHandle, generation: Generation): Promise<PostgresRefreshResult> {
  const { dataset, env, sql, signal, log } = session;
  const source = dataset.source as PostgresSourceConfig;
  const counters = job.counters;
  const staging = generation.tableName;
  const upstream = await openDatabase(requireEnv(env, "upstreamDatabaseUrl", "UPSTREAM_DATABASE_URL"), {
    variable: "UPSTREAM_DATABASE_URL",
    maxConnections: 2,
  });
  const failures = new RowFailureLog(sql, job.job.id);
  const warnings: string[] = [];
  try {
    job.setTask(`reading the upstream schema of ${source.table ?? "the source query"}`, 0);
    const columns = await refreshColumns(upstream, dataset);
    const limit = env.dataRefreshLimit;
    const { total, removed } = await countUpstream(upstream, source);
    const eligible = total - removed;
    const toCopy = limit === null ? eligible : Math.min(limit, eligible);
    counters.read = total;
    if (removed) countReason(counters, "skipped", "removed_from_source", removed);
    if (eligible > toCopy) countReason(counters, "skipped", "over_refresh_limit", eligible - toCopy);
    const limitWarning = limit === null ? null : refreshLimitWarning({ dataset: dataset.name, limit, eligible, byDefault: env.dataRefreshLimitByDefault, environment: env.environment });
    if (limitWarning) {
      log.warn(limitWarning);
      warnings.push(limitWarning);
    }

    throwIfAborted(signal);
    const [checkUtf8, upstreamMajor, apiMajor] = await Promise.all([
      upstreamNeedsUtf8Check(upstream),
      serverMajorVersion(upstream),
      serverMajorVersion(sql),
    ]);
    const binaryAllowed = upstreamMajor === apiMajor;
    const plan = planRows(dataset, columns);
    const format = copyFormat(plan, { checkUtf8, binaryAllowed });
    job.setTask(`copying ${toCopy.toLocaleString("en-US")} rows into ${staging} (COPY ${format}${limit === null ? "" : `, limit ${limit}`})`, 1);
    const progress = startProgress({ label: `refresh ${dataset.name}`, unit: "rows", total: toCopy });
    // A connection of its own for COPY TO: under Bun, postgres.js cannot reuse one afterwards.
    const copyConnection = await openDatabase(requireEnv(env, "upstreamDatabaseUrl", "UPSTREAM_DATABASE_URL"), {
      variable: "UPSTREAM_DATABASE_URL",
      maxConnections: 1,
      ...(checkUtf8 ? { clientEncoding: "SQL_ASCII" } : {}),
    });
    const copied = await copyUpstreamToStaging({
      upstream: copyConnection,
      api: sql,
      createStaging: createStagingTableSql(staging, columns, dataset.table.key),
      select: upstreamSelect(dataset, source, columns, limit),
      staging,
      columns: columns.map((c) => c.name),
      plan,
      checkUtf8,
      binaryAllowed,
      signal,
      onProgress(rows) {
        progress.tick(rows);
        job.setPercent(1 + (progress.done / Math.max(1, toCopy)) * 79);
      },
      onFailure(f) {
        failures.add({ key: f.key, reason: f.reason, detail: f.detail });
      },
    }).finally(() => copyConnection.end({ timeout: 0 }));
    progress.stop();
    for (const [reason, n] of Object.entries(copied.failed)) countReason(counters, "failed", reason, n);
    for (const [rule, n] of Object.entries(copied.cleaned)) countReason(counters, "cleaned", rule, n);
    await failures.flush();

    throwIfAborted(signal);
    job.setTask("removing moderated rows", 80);
    const moderated = await removeDeletedRows(sql, dataset, staging);
    if (moderated === null) log.info(`table.deletedTable ${dataset.table.deletedTable} does not exist in DATABASE_URL: no rows left out as deleted`);
    const deleted = moderated ?? 0;
    if (deleted) countReason(counters, "skipped", "deleted_by_moderator", deleted);

    throwIfAborted(signal);
    job.setTask(`building indexes on ${staging}`, 85);
    const duplicates = await buildStagingIndexes(sql, dataset, staging);
    if (duplicates.length) {
      countReason(counters, "failed", "duplicate_key", duplicates.length);
      for (const key of duplicates) failures.add({ key, reason: "duplicate_key" });
      await failures.flush();
    }
    counters.written = copied.written - deleted - duplicates.length;
    enforceRefreshTolerance(dataset, counters, job.job.id);

    job.setTask("comparing with live", 95);
    const diff = await diffAgainstLive(sql, dataset, staging);
    if (diff) counters.changes = { new: diff.new, changed: diff.changed, removed: diff.removed };
    await mergeGenerationStats(sql, dataset.name, generation.number, { rows: counters.written, refreshedByJob: job.job.id });
    return { warnings };
  } finally {
    await failures.flush().catch(() => {});
    // No grace period: a connection that streamed COPY TO never becomes idle again under Bun.
    await upstream.end({ timeout: 0 });
  }
}
