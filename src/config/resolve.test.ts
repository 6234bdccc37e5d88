import { describe, expect, test } from "bun:test";
import { ConfigError } from "../errors.ts";
import { resolveDataset } from "./resolve.ts";
import type { DatasetConfig } from "./types.ts";

const minimal: DatasetConfig = { source: { kind: "postgres", table: "photos" }, table: { key: "id" } };

describe("resolveDataset", () => {
  test("fills every default", () => {
    const d = resolveDataset("photos", minimal);
    expect(d.table).toEqual({ name: "photos", key: "id", columns: null, indexes: [], deletedTable: null, matureTable: null });
    expect(d.swap).toEqual({ maxShrink: 0.1, keep: 1, diffBy: null, checks: [], replicaWaitSeconds: 600 });
    expect(d.index).toBeNull();
    expect(d.clean.tags).toBeNull();
  });
  test("index defaults and the default document", () => {
    const d = resolveDataset("photos", { ...minimal, index: {} });
    expect(d.index).toMatchObject({ alias: "photos", batchDocuments: 2000, concurrency: 6, maxFailures: 0, degrade: [] });
    const context = { readBlob: async () => new Uint8Array() };
    expect(d.index!.toDocument({ id: 7, title: "x" }, context)).toEqual({ id: "7", title: "x" });
  });
  test("an index prefix goes in front of the alias", () => {
    const d = resolveDataset("photos", { ...minimal, index: { alias: "pics" } }, "datasets.photos", { indexPrefix: "ci1-" });
    expect(d.index!.alias).toBe("ci1-pics");
  });
  test.each<[string, DatasetConfig, RegExp]>([
    ["no key", { source: minimal.source, table: {} as never }, /datasets.x.table.key is required/],
    ["both table and query", { ...minimal, source: { kind: "postgres", table: "a", query: "select 1" } }, /exactly one of `table` or `query`/],
    ["unknown kind", { ...minimal, source: { kind: "ftp" } as never }, /source.kind "ftp" is not a known kind/],
    ["bad shrink", { ...minimal, swap: { maxShrink: 2 } }, /swap.maxShrink must be a fraction/],
    ["bad index", { ...minimal, table: { key: "id", indexes: ["CREATE INDEX ON photos (a)"] } }, /table.indexes\[0\] must be SQL containing "\{table\}"/],
    ["key not a column", { ...minimal, table: { key: "id", columns: { url: "text" } } }, /"id" is not one of table.columns/],
    ["bad concurrency", { ...minimal, index: { concurrency: 0 } }, /index.concurrency must be a whole number/],
  ])("rejects %s", (_, config, message) => {
    expect(() => resolveDataset("x", config)).toThrow(message);
    expect(() => resolveDataset("x", config)).toThrow(ConfigError);
  });
});
