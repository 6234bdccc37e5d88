/**
 * What an index body needs from the cluster, and the body without it. Field types and analysis
 * components that Elasticsearch and OpenSearch ship in modules rather than in the server core:
 * a cluster without the module refuses the whole body (Elasticsearch's integ-test zip has neither
 * mapper-extras nor analysis-common). Pure: the cluster's module list comes from the caller.
 */
import type { Degradation, IndexBody } from "../../config/types.ts";

/** One module an index body needs, what in the body needs it, and what is lost without it (null: no way round). */
export interface ModuleNeed {
  module: string;
  uses: string[];
  degradation: Degradation | null;
}

/** Field types of mapper-extras; rank features degrade to plain numbers (ranking is lost). */
const MAPPER_EXTRAS_TYPES: Record<string, Degradation | null> = {
  rank_feature: "ranking",
  rank_features: "ranking",
  scaled_float: null,
  search_as_you_type: null,
  token_count: null,
  match_only_text: null,
};

/** Analysis components of analysis-common (the server core has standard, lowercase, stop, keyword, whitespace, shingle, …). */
const ANALYSIS_COMMON = {
  filter: new Set([
    "stemmer", "stemmer_override", "snowball", "porter_stem", "kstem", "asciifolding", "word_delimiter", "word_delimiter_graph",
    "synonym", "synonym_graph", "ngram", "edge_ngram", "elision", "keyword_marker", "trim", "truncate", "unique", "length",
    "pattern_replace", "pattern_capture", "reverse", "decimal_digit", "limit", "common_grams", "apostrophe", "classic",
    "cjk_bigram", "cjk_width", "uppercase", "dictionary_decompounder", "hyphenation_decompounder", "condition", "predicate_token_filter",
    "fingerprint", "min_hash", "multiplexer", "remove_duplicates", "delimited_payload", "keep", "keep_types",
  ]),
  tokenizer: new Set(["ngram", "edge_ngram", "pattern", "simple_pattern", "simple_pattern_split", "char_group", "classic", "letter", "lowercase", "uax_url_email", "path_hierarchy", "thai"]),
  char_filter: new Set(["html_strip", "mapping", "pattern_replace"]),
  analyzer: new Set([
    "english", "french", "german", "spanish", "italian", "portuguese", "dutch", "russian", "arabic", "brazilian", "catalan",
    "cjk", "czech", "danish", "finnish", "greek", "hindi", "hungarian", "indonesian", "irish", "latvian", "lithuanian",
    "norwegian", "persian", "romanian", "sorani", "swedish", "turkish", "thai", "snowball", "pattern", "fingerprint",
  ]),
};

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

function analysisOf(body: IndexBody): Json {
  const settings = body.settings ?? {};
  const index = isObject(settings.index) ? settings.index : {};
  const analysis = settings.analysis ?? index.analysis;
  return isObject(analysis) ? analysis : {};
}

/** Calls visit on every field mapping, sub-fields included. */
function eachField(properties: unknown, visit: (field: Json) => void): void {
  if (!isObject(properties)) return;
  for (const field of Object.values(properties)) {
    if (!isObject(field)) continue;
    visit(field);
    eachField(field.properties, visit);
    eachField(field.fields, visit);
  }
}

/** The modules the body needs beyond the server core, each with what uses it. */
export function modulesNeeded(body: IndexBody): ModuleNeed[] {
  const extras = new Map<string, Degradation | null>();
  eachField(body.mappings?.properties, (field) => {
    const type = String(field.type ?? "");
    if (Object.hasOwn(MAPPER_EXTRAS_TYPES, type)) extras.set(type, MAPPER_EXTRAS_TYPES[type]!);
  });
  const common = new Set<string>();
  const analysis = analysisOf(body);
  for (const kind of ["filter", "tokenizer", "char_filter", "analyzer"] as const) {
    const defined = isObject(analysis[kind]) ? analysis[kind] : {};
    for (const definition of Object.values(defined)) {
      const type = isObject(definition) ? String(definition.type ?? "") : "";
      if (ANALYSIS_COMMON[kind].has(type)) common.add(type);
      if (kind === "analyzer" && isObject(definition)) {
        // A custom analyzer may name a built-in component instead of defining one.
        for (const name of [definition.tokenizer].flat()) if (typeof name === "string" && ANALYSIS_COMMON.tokenizer.has(name) && !(name in (isObject(analysis.tokenizer) ? analysis.tokenizer : {}))) common.add(name);
        for (const name of [definition.filter ?? []].flat()) if (typeof name === "string" && ANALYSIS_COMMON.filter.has(name) && !(name in (isObject(analysis.filter) ? analysis.filter : {}))) common.add(name);
      }
    }
  }
  eachField(body.mappings?.properties, (field) => {
    for (const key of ["analyzer", "search_analyzer"]) {
      const name = field[key];
      if (typeof name === "string" && ANALYSIS_COMMON.analyzer.has(name) && !(name in (isObject(analysis.analyzer) ? analysis.analyzer : {}))) common.add(name);
    }
  });
  const needs: ModuleNeed[] = [];
  if (extras.size) {
    const lossless = [...extras.values()].some((d) => d === null);
    needs.push({ module: "mapper-extras", uses: [...extras.keys()].sort(), degradation: lossless ? null : "ranking" });
  }
  if (common.size) needs.push({ module: "analysis-common", uses: [...common].sort(), degradation: "stemming" });
  return needs;
}

/**
 * The body without what the given degradations give up: "ranking" maps rank features as plain
 * numbers (`float`; `rank_features` kept in _source only), "stemming" drops analysis-common
 * components from the analyzers (a custom analyzer keeps its core tokenizer and filters, e.g.
 * standard + lowercase + stop), and replaces built-in analysis-common analyzers with `standard`.
 */
export function degradeBody(body: IndexBody, degradations: readonly Degradation[]): IndexBody {
  const out = structuredClone(body) as IndexBody;
  if (degradations.includes("ranking")) {
    eachField(out.mappings?.properties, (field) => {
      if (field.type === "rank_feature") {
        field.type = "float";
        delete field.positive_score_impact;
      } else if (field.type === "rank_features") {
        field.type = "object";
        field.enabled = false;
      }
    });
  }
  if (degradations.includes("stemming")) {
    const analysis = analysisOf(out);
    const dropped = new Set<string>();
    for (const kind of ["filter", "tokenizer", "char_filter"] as const) {
      const defined = analysis[kind];
      if (!isObject(defined)) continue;
      for (const [name, definition] of Object.entries(defined)) {
        if (isObject(definition) && ANALYSIS_COMMON[kind].has(String(definition.type ?? ""))) {
          delete defined[name];
          dropped.add(`${kind}:${name}`);
        }
      }
    }
    const analyzers = isObject(analysis.analyzer) ? analysis.analyzer : {};
    const gone = (kind: "filter" | "tokenizer" | "char_filter", name: unknown) => typeof name === "string" && (dropped.has(`${kind}:${name}`) || (ANALYSIS_COMMON[kind].has(name) && !(isObject(analysis[kind]) && name in (analysis[kind] as Json))));
    for (const [name, definition] of Object.entries(analyzers)) {
      if (!isObject(definition)) continue;
      if (ANALYSIS_COMMON.analyzer.has(String(definition.type ?? ""))) {
        analyzers[name] = { type: "standard", ...(definition.stopwords ? { stopwords: definition.stopwords } : {}) };
        continue;
      }
      if (gone("tokenizer", definition.tokenizer)) definition.tokenizer = "standard";
      if (Array.isArray(definition.filter)) definition.filter = definition.filter.filter((f) => !gone("filter", f));
      if (Array.isArray(definition.char_filter)) definition.char_filter = definition.char_filter.filter((f) => !gone("char_filter", f));
    }
    eachField(out.mappings?.properties, (field) => {
      for (const key of ["analyzer", "search_analyzer"]) {
        const name = field[key];
        if (typeof name === "string" && ANALYSIS_COMMON.analyzer.has(name) && !(name in analyzers)) field[key] = "standard";
      }
    });
  }
  return out;
}
