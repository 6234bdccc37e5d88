/**
 * The built-in bodies against Openverse's own (es_mapping.py, copied in
 * test/fixtures/openverse/api/*.index.json), field by field, and against the fields the API's
 * queries read (queries.json).
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { audioDocument, imageDocument } from "./documents.ts";
import { audioIndexBody, imageIndexBody } from "./index-body.ts";

const fixtures = new URL("../../../test/fixtures/openverse/api/", import.meta.url).pathname;
type Body = { settings: Record<string, any>; mappings: Record<string, any> };
const openverse = (media: "image" | "audio"): Body => JSON.parse(readFileSync(`${fixtures}${media}.index.json`, "utf8"));
const ours = { image: imageIndexBody() as Body, audio: audioIndexBody() as Body };

/** `a.b.c` → mapping, for every field and sub-field. */
function flatFields(properties: Record<string, any>, prefix = ""): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const [name, field] of Object.entries(properties)) {
    const { properties: children, fields, ...own } = field;
    out.set(prefix + name, own);
    if (children) for (const [k, v] of flatFields(children, `${prefix}${name}.`)) out.set(k, v);
    if (fields) for (const [k, v] of flatFields(fields, `${prefix}${name}.`)) out.set(k, v);
  }
  return out;
}

/** Every field a query body names: `field`, `fields`, and the keys of term/terms/match/range/rank_feature/sort. */
function fieldsRead(node: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(node)) for (const n of node) fieldsRead(n, into);
  else if (node && typeof node === "object") {
    for (const [key, value] of Object.entries(node)) {
      if (key === "field" && typeof value === "string") into.add(value);
      else if (key === "fields" && Array.isArray(value)) for (const f of value) into.add(String(f).replace(/\^.*$/, ""));
      else if (key === "fields" && value && typeof value === "object" && !Array.isArray(value)) for (const f of Object.keys(value)) into.add(f);
      // (`terms` with a `field` is the sources aggregation, caught by the first branch below it.)
      else if (["term", "terms", "match", "range"].includes(key) && value && typeof value === "object" && !("field" in value)) {
        for (const f of Object.keys(value)) if (!["boost"].includes(f)) into.add(f);
      } else if (key === "sort" && Array.isArray(value)) for (const s of value) for (const f of Object.keys(s)) into.add(f);
      fieldsRead(value, into);
    }
  }
  return into;
}

describe("the built-in index bodies are Openverse's", () => {
  for (const media of ["image", "audio"] as const) {
    test(`${media}: analysis settings are es_mapping.py's custom_english`, () => {
      expect(ours[media].settings.analysis).toEqual(openverse(media).settings.analysis);
    });

    test(`${media}: every field and sub-field has es_mapping.py's type and options, except id (a keyword: the identifier)`, () => {
      const theirs = flatFields(openverse(media).mappings.properties);
      const mine = flatFields(ours[media].mappings.properties);
      expect([...mine.keys()].sort()).toEqual([...theirs.keys()].sort());
      for (const [name, field] of theirs) {
        const expected = name === "id" ? { type: "keyword" } : field;
        expect({ name, field: mine.get(name) }).toEqual({ name, field: expected });
      }
      expect(ours[media].mappings.dynamic).toBe(openverse(media).mappings.dynamic);
    });

    test(`${media}: the index settings differ only in the documented shard count and load-time refresh`, () => {
      const { number_of_shards, refresh_interval, ...rest } = openverse(media).settings.index;
      expect(refresh_interval).toBe("-1");
      expect(number_of_shards).toBe(media === "image" ? 18 : 1);
      expect(ours[media].settings.index).toEqual({ ...rest, number_of_shards: 1 });
      expect((imageIndexBody({ shards: 18 }) as Body).settings.index.number_of_shards).toBe(18);
    });
  }

  test("every field the API's queries read is mapped, with the type the query needs", () => {
    const { queries } = JSON.parse(readFileSync(`${fixtures}queries.json`, "utf8")) as { queries: { media: "image" | "audio"; body: unknown }[] };
    for (const query of queries) {
      const mapped = flatFields(ours[query.media].mappings.properties);
      for (const field of fieldsRead(query.body)) expect({ media: query.media, field, mapped: mapped.has(field) }).toEqual({ media: query.media, field, mapped: true });
    }
    expect(flatFields(ours.image.mappings.properties).get("standardized_popularity")).toEqual({ type: "rank_feature" });
  });

  test("every mapped field is one the documents carry", () => {
    const docs: [media: "image" | "audio", doc: object][] = [["image", imageDocument({ identifier: "x", url: "y" })], ["audio", audioDocument({ identifier: "x", url: "y" })]];
    for (const [media, doc] of docs) {
      for (const field of Object.keys(ours[media].mappings.properties)) {
        // authority_penalty is mapped by Openverse and filled by nothing there either.
        if (field !== "authority_penalty") expect({ media, field, carried: field in doc }).toEqual({ media, field, carried: true });
      }
    }
  });
});
