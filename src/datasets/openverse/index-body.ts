/**
 * Index creation bodies (`{settings, mappings}`) for Openverse image and audio indices.
 *
 * Ported from WordPress/openverse ingestion_server/ingestion_server/es_mapping.py
 * (index_settings), with one forced change: Openverse's `custom_english` analyzer needs
 * the stemmer, stemmer_override and lowercase filters of Elasticsearch's analysis-common
 * module, which our Elasticsearch lacks. We define it with the built-in `standard`
 * analyzer type and English stop words (what of it the server core can do), so matching
 * loses stemming ("cats" no longer finds "cat") but keeps lowercasing and stop words.
 *
 * Likewise `rank_feature` lives in the mapper-extras module, also missing from our
 * Elasticsearch, so the boost fields are `float` unless `rankFeatureType: "rank_feature"`
 * is asked for (Openverse's choice, for clusters that have the module). With float fields,
 * boost with `function_score`/`field_value_factor` instead of `rank_feature` queries.
 */

/** Index creation options. */
export interface IndexBodyOptions {
  /** Primary shards. Openverse uses 18 for images and 1 for audio in production. Default 1. */
  shards?: number;
  /** Replicas; default 0 (Openverse creates with 0 and adds replicas after loading). */
  replicas?: number;
  /** Set e.g. "-1" while bulk loading, as Openverse does; left to the default when absent. */
  refreshInterval?: string;
  /** Mapping of the boost fields; default "float" (see the module comment). */
  rankFeatureType?: "float" | "rank_feature";
}

/** The analyzer name used for English text fields. */
export const TEXT_ANALYZER = "english_standard";

type Mapping = Record<string, unknown>;

const keywordSubfield = { keyword: { type: "keyword", ignore_above: 256 } };

function commonProperties(rankFeatureType: "float" | "rank_feature"): Record<string, Mapping> {
  const rankFeature = { type: rankFeatureType };
  // A penalty feature scores inversely; float has no such flag, the query must invert it.
  const penalty = rankFeatureType === "rank_feature" ? { type: "rank_feature", positive_score_impact: false } : rankFeature;
  return {
    id: { type: "keyword" },
    created_on: { type: "date" },
    mature: { type: "boolean" },
    // Keyword fields
    identifier: { type: "keyword" },
    extension: { type: "keyword" },
    license: { type: "keyword" },
    license_version: { type: "keyword" },
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
    standardized_popularity: rankFeature,
    authority_boost: rankFeature,
    authority_penalty: penalty,
    max_boost: rankFeature,
    min_boost: rankFeature,
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
    // url, thumbnail, foreign_landing_url, creator_url and license_url are kept in
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
    settings: {
      index,
      analysis: {
        analyzer: { [TEXT_ANALYZER]: { type: "standard", stopwords: "_english_" } },
      },
    },
    mappings: {
      // Fields not listed are stored in _source but not indexed.
      dynamic: false,
      properties: { ...commonProperties(options.rankFeatureType ?? "float"), ...mediaProperties },
    },
  };
}

/** The `{settings, mappings}` to create an image index with. */
export function imageIndexBody(options: IndexBodyOptions = {}): { settings: Mapping; mappings: Mapping } {
  return indexBody({ aspect_ratio: { type: "keyword" }, size: { type: "keyword" } }, options);
}

/** The `{settings, mappings}` to create an audio index with. */
export function audioIndexBody(options: IndexBodyOptions = {}): { settings: Mapping; mappings: Mapping } {
  return indexBody(
    {
      length: { type: "keyword" },
      duration: { type: "integer" },
      bit_rate: { type: "integer" },
      sample_rate: { type: "integer" },
      // As in Openverse's earlier audio mapping: searchable text with an exact keyword.
      genres: { type: "text", fields: { keyword: { type: "keyword" } } },
    },
    options,
  );
}
