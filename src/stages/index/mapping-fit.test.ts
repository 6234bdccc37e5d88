import { describe, expect, test } from "bun:test";
import { audioIndexBody, imageIndexBody } from "../../datasets/openverse/index-body.ts";
import { degradeBody, modulesNeeded } from "./mapping-fit.ts";

describe("modulesNeeded", () => {
  test("Openverse's body needs mapper-extras (rank_feature) and analysis-common (its stemmers)", () => {
    expect(modulesNeeded(imageIndexBody())).toEqual([
      { module: "mapper-extras", uses: ["rank_feature"], degradation: "ranking" },
      { module: "analysis-common", uses: ["stemmer", "stemmer_override"], degradation: "stemming" },
    ]);
  });

  test("core types and core analysis need nothing", () => {
    const body = {
      settings: { analysis: { analyzer: { plain: { tokenizer: "standard", filter: ["lowercase", "stop"] }, std: { type: "standard", stopwords: "_english_" } } } },
      mappings: { properties: { a: { type: "keyword" }, b: { type: "text", analyzer: "plain", fields: { k: { type: "keyword" } } }, c: { properties: { d: { type: "float" } } } } },
    };
    expect(modulesNeeded(body)).toEqual([]);
  });

  test("built-in components named without a definition, nested fields, sub-fields and types with no way round", () => {
    const body = {
      settings: { index: { analysis: { analyzer: { a: { tokenizer: "edge_ngram", filter: ["asciifolding"] } } } } },
      mappings: { properties: { t: { type: "text", analyzer: "english" }, n: { properties: { s: { type: "text", fields: { len: { type: "token_count", analyzer: "standard" } } } } }, r: { type: "rank_feature" } } },
    };
    expect(modulesNeeded(body)).toEqual([
      { module: "mapper-extras", uses: ["rank_feature", "token_count"], degradation: null },
      { module: "analysis-common", uses: ["asciifolding", "edge_ngram", "english"], degradation: "stemming" },
    ]);
  });
});

describe("degradeBody", () => {
  test("ranking: rank features become floats; nothing else changes", () => {
    const body = degradeBody(imageIndexBody(), ["ranking"]) as { mappings: { properties: Record<string, unknown> }; settings: Record<string, unknown> };
    expect(body.mappings.properties.standardized_popularity).toEqual({ type: "float" });
    expect(body.mappings.properties.authority_penalty).toEqual({ type: "float" });
    expect(body.settings).toEqual(imageIndexBody().settings);
    expect(modulesNeeded(body).map((n) => n.module)).toEqual(["analysis-common"]);
  });

  test("stemming: custom_english keeps standard, lowercase and stop; the stemmers are gone", () => {
    const body = degradeBody(audioIndexBody(), ["stemming"]) as { settings: { analysis: unknown }; mappings: unknown };
    expect(body.settings.analysis).toEqual({
      filter: { english_stop: { type: "stop", stopwords: "_english_" } },
      analyzer: { custom_english: { tokenizer: "standard", filter: ["lowercase", "english_stop"] } },
    });
    expect(body.mappings).toEqual(audioIndexBody().mappings);
    expect(modulesNeeded(degradeBody(audioIndexBody(), ["stemming", "ranking"]))).toEqual([]);
  });

  test("stemming: built-in analysis-common analyzers become standard; the input is not changed", () => {
    const input = { settings: { analysis: { analyzer: { en: { type: "english", stopwords: "_english_" }, a: { tokenizer: "edge_ngram", filter: ["asciifolding", "lowercase"] } } } }, mappings: { properties: { t: { type: "text", analyzer: "english" } } } };
    const copy = structuredClone(input);
    expect(degradeBody(input, ["stemming"])).toEqual({
      settings: { analysis: { analyzer: { en: { type: "standard", stopwords: "_english_" }, a: { tokenizer: "standard", filter: ["lowercase"] } } } },
      mappings: { properties: { t: { type: "text", analyzer: "standard" } } },
    });
    expect(input).toEqual(copy);
  });
});
