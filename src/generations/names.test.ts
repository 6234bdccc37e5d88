import { expect, test } from "bun:test";
import { resolveDataset } from "../config/resolve.ts";
import { generationIndices, generationTable, indexStatement } from "./names.ts";

const dataset = resolveDataset("iati", {
  source: { kind: "registry", url: "http://x/api" },
  table: { key: "id", name: "iati_documents" },
  index: { children: [{ suffix: "budget", body: {}, toDocuments: () => [] }] },
});

test("generation names", () => {
  expect(generationTable(dataset, 3)).toBe("iati_documents__g3");
  expect(generationIndices(dataset, 3)).toEqual([
    { alias: "iati", index: "iati-g3" },
    { alias: "iati-budget", index: "iati-budget-g3" },
  ]);
});

test.each([
  ["CREATE UNIQUE INDEX ON {table} (url)", 'CREATE UNIQUE INDEX "image__g2_idx0" ON "image__g2" (url)'],
  ["create index on {table} using gin (tags)", 'CREATE INDEX "image__g2_idx0" ON "image__g2" using gin (tags)'],
  ["CREATE INDEX IF NOT EXISTS ON {table} (a)", 'CREATE INDEX "image__g2_idx0" ON "image__g2" (a)'],
])("index statement %s", (definition, expected) => {
  expect(indexStatement(definition, "image__g2", 0)).toBe(expected);
});
