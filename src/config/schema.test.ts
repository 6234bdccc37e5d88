import { describe, expect, test } from "bun:test";
import { ConfigError } from "../errors.ts";
import { closestKey, describeValue } from "./issues.ts";
import { resolveConfig, resolveDataset } from "./resolve.ts";
import { configJsonSchema, datasetSchema } from "./schema.ts";
import { builtinDatasets } from "../datasets/builtin.ts";

const minimal = { source: { kind: "postgres", table: "photos" }, table: { key: "id" } };

/** The one line a config error prints, for a dataset named photos in sluice.config.ts. */
function problem(dataset: Record<string, unknown>): string {
  try {
    resolveConfig({ datasets: { photos: dataset as never } }, "sluice.config.ts");
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).toLine();
  }
  throw new Error("expected a config error");
}

describe("unknown keys name the path and the closest known key", () => {
  test.each<[string, Record<string, unknown>, string]>([
    ["swap.maxShrinkage", { ...minimal, swap: { maxShrinkage: 0.2 } }, "sluice.config.ts: datasets.photos.swap.maxShrinkage is not a known key; did you mean maxShrink?"],
    ["table.indxes", { ...minimal, table: { key: "id", indxes: [] } }, "sluice.config.ts: datasets.photos.table.indxes is not a known key; did you mean indexes?"],
    ["a top-level dataset key", { ...minimal, indx: {} }, "sluice.config.ts: datasets.photos.indx is not a known key; did you mean index?"],
    ["inside a source", { ...minimal, source: { kind: "postgres", tabel: "p" } }, "sluice.config.ts: datasets.photos.source.tabel is not a known key; did you mean table?"],
    ["inside index (false or an object)", { ...minimal, index: { concurency: 2 } }, "sluice.config.ts: datasets.photos.index.concurency is not a known key; did you mean concurrency?"],
    ["inside clean.tags", { ...minimal, clean: { tags: { minAcuracy: 0.5 } } }, "sluice.config.ts: datasets.photos.clean.tags.minAcuracy is not a known key; did you mean minAccuracy?"],
    ["inside a child index", { ...minimal, index: { children: [{ suffix: "c", body: {}, toDocuments: () => [], bdy: {} }] } }, "sluice.config.ts: datasets.photos.index.children[0].bdy is not a known key; did you mean body?"],
    ["inside index.body", { ...minimal, index: { body: { mapping: {} } } }, "sluice.config.ts: datasets.photos.index.body.mapping is not a known key; did you mean mappings?"],
    ["inside refresh", { ...minimal, refresh: { maxFailure: 1 } }, "sluice.config.ts: datasets.photos.refresh.maxFailure is not a known key; did you mean maxFailures?"],
    ["nothing close", { ...minimal, swap: { zzz: 1 } }, "sluice.config.ts: datasets.photos.swap.zzz is not a known key (known keys: maxShrink, keep, diffBy, checks, replicaWaitSeconds)"],
    ["before a required key it hides", { source: minimal.source, tabel: { key: "id" } }, "sluice.config.ts: datasets.photos.tabel is not a known key; did you mean table?"],
  ])("%s", (_, dataset, line) => {
    expect(problem(dataset)).toBe(line);
  });
  test("at the top level of the file", () => {
    expect(() => resolveConfig({ dataset: {} } as never, "sluice.config.ts")).toThrow("sluice.config.ts: dataset is not a known key; did you mean datasets?");
  });
});

describe("a value of the wrong type names the expected type and what it got", () => {
  test.each<[string, Record<string, unknown>, string]>([
    ["a string for a whole number", { ...minimal, index: { concurrency: "3" } }, 'sluice.config.ts: datasets.photos.index.concurrency must be a whole number ≥ 1, got "3"'],
    ["a fraction", { ...minimal, index: { batchDocuments: 1.5 } }, "sluice.config.ts: datasets.photos.index.batchDocuments must be a whole number ≥ 1, got 1.5"],
    ["a number for a fraction", { ...minimal, swap: { maxShrink: "10%" } }, 'sluice.config.ts: datasets.photos.swap.maxShrink must be a fraction between 0 and 1, got "10%"'],
    ["a list for an object", { ...minimal, swap: [] }, "sluice.config.ts: datasets.photos.swap must be an object, got a list"],
    ["an object for a list", { ...minimal, table: { key: "id", indexes: "CREATE INDEX ON {table} (a)" } }, 'sluice.config.ts: datasets.photos.table.indexes must be a list of SQL strings, got "CREATE INDEX ON {table} (a)"'],
    ["a non-function document builder", { ...minimal, index: { toDocument: "row" } }, 'sluice.config.ts: datasets.photos.index.toDocument must be a function (row, context) => document, got "row"'],
    ["an empty column list", { ...minimal, index: { columns: [] } }, "sluice.config.ts: datasets.photos.index.columns must name at least one column (leave it out to read every column), got a list"],
    ["a column that is no identifier", { ...minimal, index: { columns: ["title", "Title"] } }, 'sluice.config.ts: datasets.photos.index.columns[1] must be a plain lowercase identifier, got "Title"'],
    ["index neither false nor an object", { ...minimal, index: true }, "sluice.config.ts: datasets.photos.index must be false or an object, got true"],
    ["a bad payload format", { source: { kind: "registry", url: "https://r" }, table: { key: "id" }, payload: { format: "csv" } }, 'sluice.config.ts: datasets.photos.payload.format must be "xml" or "json", got "csv"'],
    ["a refresh fraction over 1", { ...minimal, refresh: { maxFailedFraction: 5 } }, "sluice.config.ts: datasets.photos.refresh.maxFailedFraction must be a fraction between 0 and 1, got 5"],
    ["negative refresh failures", { ...minimal, refresh: { maxFailures: -1 } }, "sluice.config.ts: datasets.photos.refresh.maxFailures must be a whole number ≥ 0, got -1"],
    ["a missing kind", { ...minimal, source: { table: "p" } }, "sluice.config.ts: datasets.photos.source.kind is required (use postgres or registry)"],
    ["a search check with no expectation", { ...minimal, swap: { checks: [{ query: "cat" }] } }, "sluice.config.ts: datasets.photos.swap.checks[0] must name an expectation (minHits, expectId or minShareOfLive), got an object"],
    ["a search check's share over 1", { ...minimal, swap: { checks: [{ query: "cat", minShareOfLive: 90 }] } }, "sluice.config.ts: datasets.photos.swap.checks[0].minShareOfLive must be a fraction between 0 and 1, got 90"],
    ["a search check with neither query nor rankEval", { ...minimal, swap: { checks: [{ minHits: 1 }] } }, "sluice.config.ts: datasets.photos.swap.checks[0] must give query or rankEval (one of them), got an object"],
    ["a rankEval check with no expectation", { ...minimal, swap: { checks: [{ rankEval: "j.json" }] } }, "sluice.config.ts: datasets.photos.swap.checks[0] must name an expectation for rankEval (minScore or maxDropFromLive), got an object"],
    ["a rankEval check with a query's expectation", { ...minimal, swap: { checks: [{ rankEval: "j.json", minScore: 0.5, minHits: 3 }] } }, "sluice.config.ts: datasets.photos.swap.checks[0] mixes a query's expectations (minHits, expectId, withinTop, minShareOfLive) with rankEval's (minScore, maxDropFromLive), got an object"],
    ["a bad column name", { ...minimal, table: { key: "id", columns: { id: "text", "Bad Name": "text" } } }, 'sluice.config.ts: datasets.photos.table.columns["Bad Name"] is not a plain lowercase identifier'],
  ])("%s", (_, dataset, line) => {
    expect(problem(dataset)).toBe(line);
  });
});

describe("defaults and function-valued keys", () => {
  test("refresh tolerance defaults: no failure count, 1% of the rows", () => {
    expect(resolveDataset("photos", minimal as never).refresh).toEqual({ maxFailures: null, maxFailedFraction: 0.01 });
    expect(resolveDataset("photos", { ...minimal, refresh: { maxFailures: 5 } } as never).refresh).toEqual({ maxFailures: 5, maxFailedFraction: 0.01 });
  });
  test("document builders are kept as given", () => {
    const toDocument = (row: Record<string, unknown>) => ({ id: String(row.id) });
    const toDocuments = () => [];
    const d = resolveDataset("photos", { ...minimal, index: { toDocument, children: [{ suffix: "c", body: {}, toDocuments }] } } as never);
    expect(d.index!.toDocument).toBe(toDocument);
    expect(d.index!.children[0]!.toDocuments).toBe(toDocuments);
  });
});

test("closestKey prefers what was meant", () => {
  expect(closestKey("maxShrinkage", ["maxShrink", "keep"])).toBe("maxShrink");
  expect(closestKey("indxes", ["name", "key", "columns", "indexes", "deletedTable"])).toBe("indexes");
  expect(closestKey("KEY", ["name", "key"])).toBe("key");
  expect(closestKey("zzz", ["maxShrink", "keep"])).toBeUndefined();
  expect(describeValue({})).toBe("an object");
  expect(describeValue("x".repeat(100))).toHaveLength(62);
});

test("the JSON Schema is strict and describes every key", () => {
  const schema = configJsonSchema() as { additionalProperties: boolean; properties: { datasets: { additionalProperties: { properties: Record<string, { additionalProperties?: boolean }>; additionalProperties: boolean } } } };
  expect(schema.additionalProperties).toBe(false);
  const dataset = schema.properties.datasets.additionalProperties;
  expect(dataset.additionalProperties).toBe(false);
  expect(Object.keys(dataset.properties)).toEqual(["source", "table", "clean", "index", "swap", "refresh", "payload", "validate", "status", "sync"]);
  expect(dataset.properties.swap!.additionalProperties).toBe(false);
});

test("the built-in datasets pass the same schema", () => {
  for (const [name, config] of Object.entries(builtinDatasets())) {
    expect(datasetSchema.safeParse(config).success).toBe(true);
    expect(resolveDataset(name, config).name).toBe(name);
  }
  // A built-in is not exempt: a misspelled key in one is the same error as in a user's file.
  const image = builtinDatasets().image!;
  expect(() => resolveDataset("image", { ...image, swap: { maxShrinkage: 1 } } as never)).toThrow("datasets.image.swap.maxShrinkage is not a known key; did you mean maxShrink?");
});
