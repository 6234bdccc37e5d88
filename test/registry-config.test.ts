/** Registry datasets in the config: defaults, fixed columns, checks; the payload checks of validate. */
import { describe, expect, test } from "bun:test";
import { REGISTRY_COLUMNS, resolveDataset } from "../src/config/resolve.ts";
import type { DatasetConfig } from "../src/config/types.ts";
import { iatiDataset } from "../src/datasets/iati/dataset.ts";
import { ConfigError } from "../src/errors.ts";
import { checkPayload, compileJsonSchema } from "../src/stages/validate/check-payload.ts";
import { FloodWatch } from "../src/stages/validate/publishers.ts";

const registry: DatasetConfig = { source: { kind: "registry", url: "https://r.example/api/3/action" }, table: { key: "id" } };

describe("resolveDataset for a registry", () => {
  test("fills payload, validate and source defaults and the fixed columns", () => {
    const d = resolveDataset("docs", registry);
    expect(d.source).toEqual({ kind: "registry", url: "https://r.example/api/3/action", pageSize: 1000, minListedFraction: 0.5 });
    expect(d.payload).toEqual({ column: "url", format: "xml", concurrency: 8, perHost: 2, timeoutMs: 30000, maxRedirects: 5, maxBytes: 50 * 1024 * 1024 });
    expect(d.validate).toEqual({ flagThreshold: 100, flagWindowHours: 2, maxBytes: 50 * 1024 * 1024, maxDepth: 256, jsonSchema: null });
    expect(d.table.columns).toEqual(REGISTRY_COLUMNS);
  });
  test("table datasets have no payload", () => {
    const d = resolveDataset("t", { source: { kind: "postgres", table: "t" }, table: { key: "id" } });
    expect(d.payload).toBeNull();
    expect(d.validate).toBeNull();
  });
  test.each<[string, DatasetConfig, RegExp]>([
    ["a fraction over 1", { ...registry, source: { kind: "registry", url: "https://r", minListedFraction: 2 } }, /source.minListedFraction must be a fraction/],
    ["columns", { ...registry, table: { key: "id", columns: { id: "text" } } }, /table.columns cannot be set for a registry source/],
    ["another key", { ...registry, table: { key: "name" } }, /table.key must be "id"/],
    ["zero concurrency", { ...registry, payload: { concurrency: 0 } }, /payload.concurrency must be a whole number/],
    ["negative redirects", { ...registry, payload: { maxRedirects: -1 } }, /payload.maxRedirects must be a whole number ≥ 0/],
    ["json without a schema", { ...registry, payload: { format: "json" } }, /validate.jsonSchema is required/],
    ["a zero window", { ...registry, validate: { flagWindowHours: 0 } }, /validate.flagWindowHours must be/],
  ])("rejects %s", (_, config, message) => {
    expect(() => resolveDataset("x", config)).toThrow(message);
    expect(() => resolveDataset("x", config)).toThrow(ConfigError);
  });
  test("the built-in iati dataset reads IATI_REGISTRY_URL", () => {
    expect(iatiDataset({}).source).toMatchObject({ url: "https://iatiregistry.org/api/3/action" });
    const d = resolveDataset("iati", iatiDataset({ IATI_REGISTRY_URL: "http://127.0.0.1:9/api" }), "datasets.iati", { indexPrefix: "p-" });
    expect(d.source).toMatchObject({ url: "http://127.0.0.1:9/api" });
    expect(d.table.name).toBe("iati_documents");
    expect(d.index!.alias).toBe("p-iati");
    expect(d.index!.children.map((c) => c.suffix)).toEqual(["budget", "transaction"]);
  });
});

describe("checkPayload", () => {
  const json = { format: "json" as const, maxBytes: 1000, maxDepth: 10, jsonValidator: compileJsonSchema({ type: "object", required: ["id"], properties: { id: { type: "string" } } }) };
  test("JSON against its schema", () => {
    expect(checkPayload('{"id":"a"}', json)).toMatchObject({ valid: true, reason: null });
    expect(checkPayload('{"id":1}', json)).toMatchObject({ valid: false, reason: "schema_invalid", issues: [{ severity: "error", message: "/id must be string" }] });
    expect(checkPayload("{", json)).toMatchObject({ valid: false, reason: "not_json" });
    expect(checkPayload(`{"id":"${"x".repeat(2000)}"}`, json)).toMatchObject({ valid: false, reason: "unsafe_xml" });
  });
  const xml = { format: "xml" as const, maxBytes: 1_000_000, maxDepth: 256, jsonValidator: null };
  test("XML: not well-formed, hostile, too deep", () => {
    expect(checkPayload("<iati-activities><x></iati-activities>", xml)).toMatchObject({ valid: false, reason: "not_well_formed" });
    expect(checkPayload('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><iati-activities>&e;</iati-activities>', xml)).toMatchObject({ reason: "unsafe_xml" });
    expect(checkPayload(`${"<a>".repeat(300)}${"</a>".repeat(300)}`, xml)).toMatchObject({ reason: "unsafe_xml" });
  });
});

test("FloodWatch says once when a publisher crosses the threshold", () => {
  const watch = new FloodWatch(new Map([["a", 2], ["b", 9]]), 3);
  expect(watch.over()).toEqual([["b", 9]]);
  expect(watch.invalid("a")).toBeNull();
  expect(watch.invalid("a")).toBe(4);
  expect(watch.invalid("a")).toBeNull();
  expect(watch.invalid("c")).toBeNull();
});
