/**
 * The `migrate` stage: opens DATABASE_URL and applies, reverts or reports migrations.
 * Unlike every other command it does not require the schema to be current.
 */
import { ExitCode } from "../errors.ts";
import { migrateDown, migrateUp, migrationStatus, type MigrationStatus } from "../migrate/index.ts";
import { openApiDatabase } from "./session.ts";

export async function applyMigrations(to?: number): Promise<number[]> {
  const sql = await openApiDatabase();
  try {
    return await migrateUp(sql, to);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export async function revertMigrations(to?: number): Promise<number[]> {
  const sql = await openApiDatabase();
  try {
    return await migrateDown(sql, to);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export interface MigrationReport {
  migrations: MigrationStatus[];
  /** ExitCode.schema when something is pending, drifted or unknown to this binary. */
  exitCode: number;
}

export async function reportMigrations(): Promise<MigrationReport> {
  const sql = await openApiDatabase();
  try {
    const migrations = await migrationStatus(sql);
    const clean = migrations.every((m) => m.state === "applied");
    return { migrations, exitCode: clean ? ExitCode.ok : ExitCode.schema };
  } finally {
    await sql.end({ timeout: 5 });
  }
}
