import { expect, test } from "bun:test";
import { datasetLines, describeDataset } from "./describe.ts";
import { resolveDataset } from "./resolve.ts";

const registry = resolveDataset("docs", {
  source: { kind: "registry", url: "https://user:hunter2secret@registry.example/api" },
  table: { key: "id", indexes: ["CREATE INDEX ON {table} (publisher)"] },
  index: { alias: "docs", toDocument: function docsDocument() { return null; }, body: { settings: { "mapping.total_fields.limit": 10_000 }, mappings: { properties: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`f${i}`, { type: "keyword" }])) } } },
});

test("a resolved dataset as plain data: functions by name, no password", () => {
  const described = describeDataset(registry) as { source: { url: string }; index: { toDocument: string }; refresh: unknown };
  expect(described.source.url).toBe("https://user:***@registry.example/api");
  expect(described.index.toDocument).toBe("function docsDocument");
  expect(described.refresh).toEqual({ maxFailures: null, maxFailedFraction: 0.01 });
  expect(JSON.stringify(described)).not.toContain("hunter2secret");
});

test("one aligned line per setting; long bodies summarized, columns inline", () => {
  const lines = datasetLines(describeDataset(registry));
  const line = (key: string) => lines.find((l) => l.startsWith(`${key} `));
  expect(line("swap.maxShrink")).toMatch(/^swap\.maxShrink +0\.1$/);
  expect(line("refresh.maxFailures")).toMatch(/ -$/);
  expect(line("table.indexes")).toMatch(/ CREATE INDEX ON \{table\} \(publisher\)$/);
  expect(line("table.columns")).toMatch(/ id text, name text, publisher text, /);
  expect(line("index.body")).toMatch(/… \(2 keys; --json shows all\)$/);
  expect(line("index.children")).toMatch(/ \(none\)$/);
  // Every value starts in the same column.
  expect(new Set(lines.map((l) => l.match(/^\S+ +/)![0].length)).size).toBe(1);
});

test("a long list (a filtered twin's terms) is cut, with its length", () => {
  const terms = Array.from({ length: 500 }, (_, i) => `term${i}`);
  const dataset = resolveDataset("photos", { source: { kind: "postgres", table: "photos" }, table: { key: "id" }, index: { filtered: { terms } } });
  const line = datasetLines(describeDataset(dataset)).find((l) => l.includes("index.filtered.terms"))!;
  expect(line).toContain("term0, term1");
  expect(line).toEndWith("… (500 items; --json shows all)");
  expect(line.length).toBeLessThan(160);
});
