/**
 * The migrations this binary ships, embedded at compile time. A test checks that every .sql file
 * in this folder is listed here, so a new file cannot be forgotten.
 */
import m0001 from "./0001_jobs_and_generations.sql" with { type: "text" };
import m0002 from "./0002_row_failures.sql" with { type: "text" };
import m0003 from "./0003_registry.sql" with { type: "text" };
import m0004 from "./0004_bundles.sql" with { type: "text" };
import m0005 from "./0005_database_identity.sql" with { type: "text" };
import m0006 from "./0006_swap_journal_and_fingerprints.sql" with { type: "text" };
import m0007 from "./0007_sync.sql" with { type: "text" };
import m0008 from "./0008_index_ranges.sql" with { type: "text" };
import m0009 from "./0009_sync_versions.sql" with { type: "text" };

export const migrationSources: readonly { file: string; text: string }[] = [
  { file: "0001_jobs_and_generations.sql", text: m0001 },
  { file: "0002_row_failures.sql", text: m0002 },
  { file: "0003_registry.sql", text: m0003 },
  { file: "0004_bundles.sql", text: m0004 },
  { file: "0005_database_identity.sql", text: m0005 },
  { file: "0006_swap_journal_and_fingerprints.sql", text: m0006 },
  { file: "0007_sync.sql", text: m0007 },
  { file: "0008_index_ranges.sql", text: m0008 },
  { file: "0009_sync_versions.sql", text: m0009 },
];
