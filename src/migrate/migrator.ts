/**
 * Applies and reverts migrations. A session-level advisory lock makes concurrent migrators wait
 * for each other instead of racing; each migration runs in its own transaction together with the
 * row that records it, so a failed migration leaves nothing half-applied.
 */
import { migrationSources } from "../../migrations/index.ts";
import { ExitCode, SchemaAheadError, SchemaBehindError, SluiceError, UsageError } from "../errors.ts";
import type { ReservedSql, Sql } from "../adapters/postgres.ts";
import { logger } from "../log/logger.ts";
import { VERSION } from "../version.ts";
import { type Migration, parseMigrations } from "./parse.ts";

export const migrations: readonly Migration[] = parseMigrations(migrationSources);
/** The migration version this binary expects the database to be at. */
export const EXPECTED_SCHEMA_VERSION = migrations.length;

const MIGRATE_LOCK_KEY = "sluice:migrate";

export interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
  appliedAt: Date;
  appliedBy: string | null;
}

export type MigrationState = "applied" | "pending" | "drifted" | "unknown";

export interface MigrationStatus {
  version: number;
  name: string;
  state: MigrationState;
  checksum: string;
  appliedChecksum: string | null;
  appliedAt: Date | null;
}

const log = logger.withTag("migrate");

async function ensureBookkeeping(sql: Sql | ReservedSql): Promise<void> {
  await sql.unsafe(`
    CREATE SCHEMA IF NOT EXISTS sluice;
    CREATE TABLE IF NOT EXISTS sluice.schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      applied_by text
    );`);
}

export async function readApplied(sql: Sql | ReservedSql): Promise<AppliedMigration[]> {
  const exists = await sql`select to_regclass('sluice.schema_migrations') is not null as ok`;
  if (!exists[0]?.ok) return [];
  const rows = await sql`
    select version, name, checksum, applied_at, applied_by from sluice.schema_migrations order by version`;
  return rows.map((r) => ({
    version: r.version,
    name: r.name,
    checksum: r.checksum,
    appliedAt: r.applied_at,
    appliedBy: r.applied_by,
  }));
}

/** Every migration this binary knows, and any the database has that it does not. */
export async function migrationStatus(sql: Sql): Promise<MigrationStatus[]> {
  return statusFrom(await readApplied(sql));
}

function statusFrom(applied: AppliedMigration[]): MigrationStatus[] {
  const byVersion = new Map(applied.map((a) => [a.version, a]));
  const rows: MigrationStatus[] = migrations.map((m) => {
    const a = byVersion.get(m.version);
    return {
      version: m.version,
      name: m.name,
      state: !a ? "pending" : a.checksum === m.checksum ? "applied" : "drifted",
      checksum: m.checksum,
      appliedChecksum: a?.checksum ?? null,
      appliedAt: a?.appliedAt ?? null,
    };
  });
  for (const a of applied) {
    if (a.version > migrations.length) {
      rows.push({ version: a.version, name: a.name, state: "unknown", checksum: "", appliedChecksum: a.checksum, appliedAt: a.appliedAt });
    }
  }
  return rows;
}

async function withMigrateLock<T>(sql: Sql, work: (conn: ReservedSql) => Promise<T>): Promise<T> {
  const conn = await sql.reserve();
  try {
    const got = await conn`select pg_try_advisory_lock(hashtext(${MIGRATE_LOCK_KEY})) as ok`;
    if (!got[0]?.ok) {
      log.info("another migrator is running; waiting for it");
      await conn`select pg_advisory_lock(hashtext(${MIGRATE_LOCK_KEY}))`;
    }
    try {
      return await work(conn);
    } finally {
      await conn`select pg_advisory_unlock(hashtext(${MIGRATE_LOCK_KEY}))`.catch(() => {});
    }
  } finally {
    conn.release();
  }
}

/** Applies pending migrations up to `to` (default: all). Returns the versions applied. */
export async function migrateUp(sql: Sql, to: number = migrations.length): Promise<number[]> {
  if (to > migrations.length || to < 0) {
    throw new UsageError(`--to ${to} is out of range`, `this binary knows migrations 0 to ${migrations.length}`);
  }
  return withMigrateLock(sql, async (conn) => {
    await ensureBookkeeping(conn);
    const status = statusFrom(await readApplied(conn));
    const drifted = status.find((s) => s.state === "drifted");
    if (drifted) throw driftError(drifted);
    const done: number[] = [];
    for (const m of migrations) {
      if (m.version > to) break;
      if (status.find((s) => s.version === m.version)?.state === "applied") continue;
      const started = performance.now();
      await conn.unsafe("begin");
      try {
        await conn.unsafe(m.up);
        await conn`insert into sluice.schema_migrations (version, name, checksum, applied_by)
                   values (${m.version}, ${m.name}, ${m.checksum}, ${VERSION})`;
        await conn.unsafe("commit");
      } catch (error) {
        await conn.unsafe("rollback").catch(() => {});
        throw migrationFailed(m, "up", error);
      }
      log.success(`Applied ${m.file} in ${(performance.now() - started).toFixed(0)} ms`);
      done.push(m.version);
    }
    return done;
  });
}

/** Reverts applied migrations down to `to` (default: one step). `to = 0` removes everything sluice created. */
export async function migrateDown(sql: Sql, to?: number): Promise<number[]> {
  return withMigrateLock(sql, async (conn) => {
    const applied = await readApplied(conn);
    const current = applied.at(-1)?.version ?? 0;
    const target = to ?? Math.max(0, current - 1);
    if (target < 0 || target > current) {
      throw new UsageError(`--to ${target} is out of range`, `the database is at migration ${current}`);
    }
    const unknown = applied.find((a) => a.version > migrations.length);
    if (unknown) throw new SchemaAheadError(unknown.version, migrations.length, unknown.appliedBy);
    const done: number[] = [];
    for (const a of [...applied].reverse()) {
      if (a.version <= target) break;
      const m = migrations[a.version - 1]!;
      const started = performance.now();
      await conn.unsafe("begin");
      try {
        await conn.unsafe(m.down);
        await conn`delete from sluice.schema_migrations where version = ${m.version}`;
        await conn.unsafe("commit");
      } catch (error) {
        await conn.unsafe("rollback").catch(() => {});
        throw migrationFailed(m, "down", error);
      }
      log.success(`Reverted ${m.file} in ${(performance.now() - started).toFixed(0)} ms`);
      done.push(m.version);
    }
    if (target === 0) {
      // RESTRICT on purpose: if a down left something behind, this fails and says so.
      await conn.unsafe("DROP TABLE IF EXISTS sluice.schema_migrations; DROP SCHEMA IF EXISTS sluice RESTRICT;");
    }
    return done;
  });
}

/** Refuses to go on unless the database is exactly at the version this binary expects. */
export async function assertSchemaCurrent(sql: Sql): Promise<void> {
  const applied = await readApplied(sql);
  const have = applied.at(-1)?.version ?? 0;
  if (have > EXPECTED_SCHEMA_VERSION) {
    throw new SchemaAheadError(have, EXPECTED_SCHEMA_VERSION, applied.at(-1)?.appliedBy ?? null);
  }
  if (have < EXPECTED_SCHEMA_VERSION) throw new SchemaBehindError(have, EXPECTED_SCHEMA_VERSION);
  const drifted = statusFrom(applied).find((s) => s.state === "drifted");
  if (drifted) throw driftError(drifted);
}

function driftError(s: MigrationStatus): SluiceError {
  return new SluiceError(
    `migration ${String(s.version).padStart(4, "0")}_${s.name} has drifted: recorded checksum ${s.appliedChecksum?.slice(0, 12)} differs from this binary's ${s.checksum.slice(0, 12)}`,
    { exitCode: ExitCode.schema, hint: "restore the migration file, or fix the database by hand and update sluice.schema_migrations" },
  );
}

function migrationFailed(m: Migration, direction: "up" | "down", error: unknown): SluiceError {
  const pg = error as { message?: string; position?: string };
  return new SluiceError(`migration ${m.file} (${direction}) failed and was rolled back: ${pg.message ?? String(error)}`, {
    hint: "fix the migration or the database, then run the command again",
    cause: error,
  });
}
