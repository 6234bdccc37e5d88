export { assertSchemaCurrent, EXPECTED_SCHEMA_VERSION, migrateDown, migrateUp, migrationStatus, migrations } from "./migrator.ts";
export type { MigrationState, MigrationStatus } from "./migrator.ts";
