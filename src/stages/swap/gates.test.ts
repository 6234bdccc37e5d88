import { expect, test } from "bun:test";
import { resolveDataset } from "../../config/resolve.ts";
import { swapRefusals } from "./gates.ts";

const dataset = resolveDataset("image", { source: { kind: "postgres", table: "image" }, table: { key: "identifier" }, index: {} });
const ok = { stagingRows: 95, liveRows: 100, indexDocuments: 95, liveDocuments: 100, indexFailures: 0, builtUnder: "a".repeat(64), swappingUnder: "a".repeat(64) };

test("a shrink within the limit passes", () => expect(swapRefusals(dataset, ok)).toEqual([]));
test("a first swap has nothing to compare with", () =>
  expect(swapRefusals(dataset, { ...ok, liveRows: null, liveDocuments: null })).toEqual([]));
test("staging shrunk beyond 10%", () =>
  expect(swapRefusals(dataset, { ...ok, stagingRows: 89 })).toEqual(["staging has 89 rows, 11.0% fewer than live's 100 (limit 10%)"]));
test("index shrunk beyond 10% and failures", () =>
  expect(swapRefusals(dataset, { ...ok, indexDocuments: 50, indexFailures: 2 })).toEqual([
    "the new index has 50 documents, 50.0% fewer than live's 100 (limit 10%)",
    "the new index had 2 failed documents",
  ]));
test("a generation built from another configuration", () =>
  expect(swapRefusals(dataset, { ...ok, builtUnder: null })).toEqual(["it was built from another configuration (fingerprint none, this one aaaaaaaaaaaa)"]));
