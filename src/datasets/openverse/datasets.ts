/**
 * The built-in `image` and `audio` datasets: Openverse's catalog tables copied from the upstream
 * database, cleaned with Openverse's rules, and indexed with its computed fields.
 */
import type { DatasetConfig } from "../../config/types.ts";
import { parseTermsFile } from "../../transforms/sensitive-terms.ts";
import sensitiveTerms from "./sensitive-terms.txt" with { type: "text" };
import { defaultTagRules, URL_FIELDS } from "./clean.ts";
import { audioDocument, audioIndexBody, IMAGE_DOCUMENT_COLUMNS, imageDocument, META_DATA_DOCUMENT_KEYS, imageIndexBody, type OpenverseAudioRow, type OpenverseImageRow } from "./documents.ts";

const tagCleaning = {
  column: "tags",
  denylist: [...defaultTagRules.denylist],
  denylistFragments: [...defaultTagRules.denylistFragments],
  minAccuracy: defaultTagRules.minAccuracy,
  deniedProviders: [...(defaultTagRules.deniedProviders ?? [])],
};

/** The unique indexes Openverse's catalog has on both media tables, plus lookups the API does. */
const mediaIndexes = [
  "CREATE UNIQUE INDEX ON {table} (provider, md5(foreign_identifier))",
  "CREATE UNIQUE INDEX ON {table} (url)",
  "CREATE INDEX ON {table} (provider)",
];

function openverseMedia(table: "image" | "audio"): DatasetConfig {
  return {
    source: { kind: "postgres", table, removedColumn: "removed_from_source" },
    // Moderation as Openverse's API database records it, read when those tables exist.
    table: { name: table, key: "identifier", indexes: mediaIndexes, deletedTable: `api_deleted${table}`, matureTable: `api_mature${table}` },
    clean: { tags: tagCleaning, urlColumns: [...URL_FIELDS], urlScheme: "https" },
    index: {
      alias: table,
      body: table === "image" ? imageIndexBody() : audioIndexBody(),
      toDocument: (row) => (table === "image" ? imageDocument(row as unknown as OpenverseImageRow) : audioDocument(row as unknown as OpenverseAudioRow)) as never,
      // Only what imageDocument reads (documents.test.ts checks it): the catalog's bookkeeping
      // columns (updated_on, last_synced_with_source, ingestion_type…) stay in PostgreSQL. Audio
      // reads every column: its builder takes alt_files or, in older catalogs, alt_audio_files.
      ...(table === "image" ? { columns: [...IMAGE_DOCUMENT_COLUMNS] } : {}),
      // Of meta_data, only the keys the builders read (documents.test.ts checks it).
      jsonKeys: { meta_data: [...META_DATA_DOCUMENT_KEYS] },
      // `image-filtered` / `audio-filtered`, as Openverse serves them, built in the same pass.
      filtered: { terms: parseTermsFile(sensitiveTerms) },
    },
  };
}

export const openverseDatasets = {
  image: openverseMedia("image"),
  audio: openverseMedia("audio"),
};
