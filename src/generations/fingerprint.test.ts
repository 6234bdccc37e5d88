import { expect, test } from "bun:test";
import { resolveDataset } from "../config/resolve.ts";
import type { DatasetConfig } from "../config/types.ts";
import { canonicalDataset, datasetFingerprint } from "./fingerprint.ts";

const base: DatasetConfig = {
  source: { kind: "postgres", table: "photos" },
  table: { key: "id", indexes: ["CREATE INDEX ON {table} (url)"] },
  clean: { tags: { denylist: ["no person"] }, urlColumns: ["url"] },
  index: { body: { mappings: { properties: { title: { type: "text" } } } }, toDocument: (row) => ({ id: String(row.id) }) },
};
const print = (config: DatasetConfig) => datasetFingerprint(resolveDataset("photos", config));

test("the same configuration gives the same fingerprint, whatever the key order", () => {
  const reordered: DatasetConfig = { index: base.index, clean: base.clean, table: base.table, source: base.source };
  expect(print(reordered)).toBe(print(base));
  expect(print(base)).toMatch(/^[0-9a-f]{64}$/);
});

test.each<[string, DatasetConfig]>([
  ["a cleaning rule", { ...base, clean: { ...base.clean, tags: { denylist: ["no person", "by"] } } }],
  ["a mapping", { ...base, index: { ...base.index, body: { mappings: { properties: { title: { type: "keyword" } } } } } }],
  ["a table index", { ...base, table: { ...base.table, indexes: [] } }],
  ["the key", { ...base, table: { ...base.table, key: "uid" } }],
  ["the source", { ...base, source: { kind: "postgres", table: "photos_v2" } }],
  ["the document builder", { ...base, index: { ...base.index, toDocument: (row) => ({ id: String(row.id), extra: 1 }) } }],
  ["the columns read", { ...base, index: { ...base.index, columns: ["title"] } }],
])("changing %s changes the fingerprint", (_what, changed) => {
  expect(print(changed)).not.toBe(print(base));
});

test.each<[string, DatasetConfig]>([
  ["batch sizes and concurrency", { ...base, index: { ...base.index, batchDocuments: 10, batchBytes: 1000, concurrency: 9, maxFailures: 5 } }],
  ["the swap gates", { ...base, swap: { maxShrink: 0.5, keep: 3 } }],
])("changing %s leaves it alone", (_what, changed) => {
  expect(print(changed)).toBe(print(base));
});

test("document builders count by their source text", () => {
  expect(canonicalDataset(resolveDataset("photos", base))).toContain("String(row.id)");
});

test("a dataset without index.columns keeps the fingerprint it had before the key existed", () => {
  const resolved = resolveDataset("photos", base);
  expect(resolved.index!.columns).toBeNull();
  const { columns: _columns, ...before } = resolved.index!;
  expect(datasetFingerprint({ ...resolved, index: before } as typeof resolved)).toBe(datasetFingerprint(resolved));
  expect(canonicalDataset(resolveDataset("photos", { ...base, index: { ...base.index, columns: ["title"] } }))).toContain('"columns":["title"]');
});
