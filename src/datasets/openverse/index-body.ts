/**
 * Index creation bodies (`{settings, mappings}`) for Openverse image and audio indices: the body
 * Openverse's API expects, as WordPress/openverse catalog/dags/data_refresh/es_mapping.py
 * (`index_settings`) builds it (test/fixtures/openverse/api/*.index.json are copies; the test
 * beside this file compares them field by field). It needs two modules beyond the server core:
 * mapper-extras for the `rank_feature` boosts the API's default search queries, and
 * analysis-common for the stemmers of `custom_english`. On a cluster without them sluice refuses
 * the body unless the dataset may degrade (`index.degrade`, see src/stages/index/mapping-fit.ts).
 *
 * Deliberate differences from es_mapping.py:
 * - `id` is a keyword holding the identifier (uuid): the catalog has no numeric id, which
 *   Openverse's API database adds. The API reads `identifier`, never `id`.
 * - 1 primary shard by default (Openverse: 18 for images); `shards` sets it.
 * - `refresh_interval` is not in the body: sluice turns refresh off while loading and restores the
 *   body's setting (the default) afterwards, as Openverse's data refresh does.
 */

/** Index creation options. */
export interface IndexBodyOptions {
  /** Primary shards. Openverse uses 18 for images and 1 for audio in production. Default 1. */
  shards?: number;
  /** Replicas; default 0 (Openverse creates with 0 and adds replicas after loading). */
  replicas?: number;
  /** Set e.g. "-1" while bulk loading, as Openverse does; left to the default when absent. */
  refreshInterval?: string;
}

/** The analyzer of English text fields, Openverse's name for it. */
export const TEXT_ANALYZER = "custom_english";

type Mapping = Record<string, unknown>;

const keywordSubfield = { keyword: { type: "keyword", ignore_above: 256 } };

/** Openverse's `custom_english`: English stemming with a few overrides, possessives, lowercase, stop words. */
const analysis = {
  filter: {
    stem_overrides: {
      type: "stemmer_override",
      rules: ["animals => animal", "animal => animal", "anime => anime", "animate => animate", "animated => animate", "universe => universe"],
    },
    english_stop: { type: "stop", stopwords: "_english_" },
    english_stemmer: { type: "stemmer", language: "english" },
    english_possessive_stemmer: { type: "stemmer", language: "possessive_english" },
  },
  analyzer: {
    [TEXT_ANALYZER]: {
      tokenizer: "standard",
      filter: ["stem_overrides", "english_possessive_stemmer", "lowercase", "english_stop", "english_stemmer"],
    },
  },
};

function commonProperties(): Record<string, Mapping> {
  return {
    id: { type: "keyword" },
    created_on: { type: "date" },
    mature: { type: "boolean" },
    // Keyword fields
    identifier: { type: "keyword" },
    extension: { type: "keyword" },
    license: { type: "keyword" },
    provider: { type: "keyword" },
    source: { type: "keyword" },
    filetype: { type: "keyword" },
    category: { type: "keyword" },
    // Text fields
    title: {
      type: "text",
      analyzer: TEXT_ANALYZER,
      similarity: "boolean",
      fields: { ...keywordSubfield, raw: { type: "text", index: true } },
    },
    description: {
      type: "text",
      analyzer: TEXT_ANALYZER,
      similarity: "boolean",
      fields: { raw: { type: "text", index: true } },
    },
    creator: { type: "text", fields: keywordSubfield },
    // Rank features
    standardized_popularity: { type: "rank_feature" },
    authority_boost: { type: "rank_feature" },
    authority_penalty: { type: "rank_feature", positive_score_impact: false },
    max_boost: { type: "rank_feature" },
    min_boost: { type: "rank_feature" },
    // Nested fields
    tags: {
      properties: {
        accuracy: { type: "float" },
        name: {
          type: "text",
          analyzer: TEXT_ANALYZER,
          fields: { ...keywordSubfield, raw: { type: "text", index: true } },
        },
      },
    },
    // Every other document field (url, thumbnail, license_version, duration, genres, …) is kept in
    // _source only (dynamic: false), as in Openverse.
  };
}

function indexBody(mediaProperties: Record<string, Mapping>, options: IndexBodyOptions): { settings: Mapping; mappings: Mapping } {
  const index: Mapping = {
    number_of_shards: options.shards ?? 1,
    number_of_replicas: options.replicas ?? 0,
  };
  if (options.refreshInterval !== undefined) index.refresh_interval = options.refreshInterval;
  return {
    settings: { index, analysis: structuredClone(analysis) },
    mappings: {
      // Fields not listed are stored in _source but not indexed.
      dynamic: false,
      properties: { ...commonProperties(), ...mediaProperties },
    },
  };
}

/** The `{settings, mappings}` to create an image index with. */
export function imageIndexBody(options: IndexBodyOptions = {}): { settings: Mapping; mappings: Mapping } {
  return indexBody({ aspect_ratio: { type: "keyword" }, size: { type: "keyword" } }, options);
}

/** The `{settings, mappings}` to create an audio index with. */
export function audioIndexBody(options: IndexBodyOptions = {}): { settings: Mapping; mappings: Mapping } {
  return indexBody({ length: { type: "keyword" } }, options);
}
