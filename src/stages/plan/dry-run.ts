/**
 * `refresh --dry-run` and `run --dry-run`: the refresh read as the real command reads it (same
 * columns, SELECT, row transform, moderation, duplicate keys, configured indexes), into a temporary
 * table inside one transaction that is rolled back, then compared with live. Nothing is left
 * behind: no staging table, no generation number, no job row, no index; the dataset's lock is held
 * only while the plan is made.
 *
 *   upstream --COPY + clean--> pg_temp table (one transaction) --keys vs live--> plan --ROLLBACK
 */
import { aliasTargets, countDocuments, type SearchClient } from "../../adapters/elasticsearch.ts";
import { ident, openDatabase, serverMajorVersion, type Sql } from "../../adapters/postgres.ts";
import { requireEnv } from "../../config/env.ts";
import type { PostgresSourceConfig } from "../../config/types.ts";
import { UsageError } from "../../errors.ts";
import { datasetFingerprint } from "../../generations/fingerprint.ts";
import { generationsIn, liveGeneration, tableExists } from "../../generations/store.ts";
import { indexStatement } from "../../generations/names.ts";
import { countReason, type Counters, emptyCounters } from "../../jobs/counters.ts";
import type { Session } from "../session.ts";
import { copyFormat, streamRows } from "../refresh/copy-pipe.ts";
import { refreshColumns } from "../refresh/postgres-refresh.ts";
import { refreshLimitWarning } from "../refresh/refresh-limit.ts";
import { planRows } from "../refresh/row-transform.ts";
import { createStagingTableSql, removeDeletedRows, removeDuplicateKeys } from "../refresh/staging-sql.ts";
import { refreshToleranceBreach } from "../refresh/tolerance.ts";
import { countUpstream, upstreamNeedsUtf8Check, upstreamSelect } from "../refresh/upstream.ts";
import { swapRefusals } from "../swap/gates.ts";
import { allNew, type KeyDiff, keyDiff } from "./key-diff.ts";

export interface DryRunPlan {
  dryRun: true;
  command: "refresh" | "run";
  dataset: string;
  /** The generation live now, if any. */
  live: number | null;
  /** Rows as the refresh would count them: read, written, skipped and failed by reason, cleaned by rule. */
  counters: Counters;
  /** Keys against the live table; null when nothing is live yet and the table does not exist. */
  changes: KeyDiff;
  liveRows: number | null;
  liveDocuments: number | null;
  /** Each gate that would refuse, by name, with the reason it would give. */
  refusals: { gate: string; reason: string }[];
  /** What the real command would end in. */
  outcome: "would fail" | "would be refused" | "unchanged" | "would promote" | "would refresh";
  /** Pending generations the real command would discard first. */
  wouldDiscard: number[];
  warnings: string[];
}

/** Rolls the plan's transaction back while carrying the plan out of it. */
class Rollback extends Error {
  constructor(readonly plan: DryRunPlan) {
    super("dry run: rolled back");
  }
}

const DRY_RUN_TABLE = "sluice_dry_run";

export async function planDryRun(session: Session, es: SearchClient | null, command: "refresh" | "run", options: { rebuild?: boolean; sample?: number } = {}): Promise<DryRunPlan> {
  const sample = options.sample ?? 10;
  const { dataset, env, sql, signal } = session;
  if (dataset.source.kind !== "postgres") {
    throw new UsageError(`--dry-run reads Postgres upstreams only; ${dataset.name} is a ${dataset.source.kind} dataset`, `run \`sluice ${command} ${dataset.name}\` without --dry-run`);
  }
  const source = dataset.source as PostgresSourceConfig;
  const url = requireEnv(env, "upstreamDatabaseUrl", "UPSTREAM_DATABASE_URL");
  const upstream = await openDatabase(url, { variable: "UPSTREAM_DATABASE_URL", maxConnections: 1 });
  const counters = emptyCounters();
  const warnings: string[] = [];
  let columns, checkUtf8: boolean, binaryAllowed: boolean, limit: number | null;
  try {
    columns = await refreshColumns(upstream, dataset);
    limit = env.dataRefreshLimit;
    const { total, removed } = await countUpstream(upstream, source);
    const eligible = total - removed;
    counters.read = total;
    if (removed) countReason(counters, "skipped", "removed_from_source", removed);
    if (limit !== null && eligible > limit) countReason(counters, "skipped", "over_refresh_limit", eligible - limit);
    const limitWarning = limit === null ? null : refreshLimitWarning({ dataset: dataset.name, limit, eligible, byDefault: env.dataRefreshLimitByDefault, environment: env.environment });
    if (limitWarning) warnings.push(limitWarning);
    checkUtf8 = await upstreamNeedsUtf8Check(upstream);
    binaryAllowed = (await serverMajorVersion(upstream)) === (await serverMajorVersion(sql));
  } finally {
    await upstream.end({ timeout: 0 });
  }
  const plan = planRows(dataset, columns);
  const live = await liveGeneration(sql, dataset.name);
  const wouldDiscard = (await generationsIn(sql, dataset.name, ["building", "ready"])).map((g) => g.number);
  const liveTable = (await tableExists(sql, dataset.table.name)) ? dataset.table.name : null;
  const parent = dataset.index && es ? dataset.index.alias : null;
  const liveIndex = parent ? (await aliasTargets(es!, parent))[0] : undefined;
  const liveDocuments = liveIndex ? await countDocuments(es!, liveIndex) : null;
  const copyConnection = await openDatabase(url, { variable: "UPSTREAM_DATABASE_URL", maxConnections: 1, ...(checkUtf8 ? { clientEncoding: "SQL_ASCII" } : {}) });
  try {
    await sql.begin(async (tx) => {
      const t = tx as unknown as Sql;
      await t.unsafe(createStagingTableSql(DRY_RUN_TABLE, columns, dataset.table.key, { temporary: true }));
      const copied = await streamRows(t, {
        upstream: copyConnection,
        api: t,
        createStaging: "",
        select: upstreamSelect(dataset, source, columns, limit),
        staging: DRY_RUN_TABLE,
        columns: columns.map((c) => c.name),
        plan,
        checkUtf8,
        binaryAllowed,
        signal,
        onProgress() {},
        onFailure() {},
      });
      for (const [reason, n] of Object.entries(copied.failed)) countReason(counters, "failed", reason, n);
      for (const [rule, n] of Object.entries(copied.cleaned)) countReason(counters, "cleaned", rule, n);
      // null: the moderation table does not exist (yet), so nothing is left out by it.
      const deleted = (await removeDeletedRows(t, dataset, DRY_RUN_TABLE)) ?? 0;
      if (deleted) countReason(counters, "skipped", "deleted_by_moderator", deleted);
      const duplicates = await removeDuplicateKeys(t, dataset, DRY_RUN_TABLE);
      if (duplicates.length) countReason(counters, "failed", "duplicate_key", duplicates.length);
      counters.written = copied.written - deleted - duplicates.length;
      const refusals: DryRunPlan["refusals"] = [];
      await t.unsafe(`CREATE UNIQUE INDEX ON ${ident(DRY_RUN_TABLE)} (${ident(dataset.table.key)})`);
      // Each configured index in a savepoint of its own: one that cannot be built fails the refresh.
      for (const [i, definition] of dataset.table.indexes.entries()) {
        await tx.savepoint((s) => s.unsafe(indexStatement(definition, DRY_RUN_TABLE, i))).catch((error: Error) => {
          refusals.push({ gate: "refresh.indexes", reason: `table.indexes[${i}] cannot be built: ${error.message}` });
        });
      }
      const breach = refreshToleranceBreach(dataset, counters, null);
      if (breach) refusals.push({ gate: "refresh.tolerance", reason: breach.message });
      const changes = liveTable
        ? await keyDiff(t, { key: dataset.table.key, from: liveTable, to: DRY_RUN_TABLE, toIsTemporary: true }, sample)
        : await allNew(t, DRY_RUN_TABLE, dataset.table.key, true, sample);
      counters.changes = { new: changes.new, changed: changes.changed, removed: changes.removed };
      const liveRows = liveTable ? Number((await t.unsafe(`SELECT count(*)::bigint AS n FROM public.${ident(liveTable)}`))[0]?.n ?? 0) : null;
      const fingerprint = datasetFingerprint(dataset);
      // As `run` decides it: nothing new, changed or removed, same configuration, and no --rebuild.
      const unchanged = !options.rebuild && live !== null && live.fingerprint === fingerprint && changes.new + changes.changed + changes.removed === 0;
      if (command === "run" && !unchanged && !refusals.length) {
        // The index is not built: every row written is taken to become a document, as a clean index does.
        for (const reason of swapRefusals(dataset, {
          stagingRows: counters.written,
          liveRows,
          indexDocuments: dataset.index ? counters.written : null,
          liveDocuments,
          indexFailures: 0,
          builtUnder: fingerprint,
          swappingUnder: fingerprint,
        })) refusals.push({ gate: "swap.maxShrink", reason });
      }
      const failedGate = refusals.some((r) => r.gate.startsWith("refresh."));
      const outcome: DryRunPlan["outcome"] = failedGate ? "would fail" : refusals.length ? "would be refused" : command === "refresh" ? "would refresh" : unchanged ? "unchanged" : "would promote";
      throw new Rollback({ dryRun: true, command, dataset: dataset.name, live: live?.number ?? null, counters, changes, liveRows, liveDocuments, refusals, outcome, wouldDiscard, warnings });
    });
  } catch (error) {
    if (error instanceof Rollback) return error.plan;
    throw error;
  } finally {
    await copyConnection.end({ timeout: 0 });
  }
  throw new Error("unreachable: the dry run's transaction always rolls back");
}
