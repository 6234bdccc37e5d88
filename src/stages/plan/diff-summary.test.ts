import { expect, test } from "bun:test";
import { diffSummaryLines, tableLines } from "./diff-summary.ts";

test("tableLines aligns columns under an upper-case header and trims the ends", () => {
  expect(tableLines([{ a: "x", b: "1" }, { a: "longer", b: "" }], ["a", "b"])).toEqual(["A       B", "x       1", "longer"]);
});

test("a diff reads as counts with signed changes, values by field, and keys with their sample", () => {
  const lines = diffSummaryLines({
    dataset: "image",
    generation: 3,
    live: 2,
    counts: [
      { name: "table", live: 1374, new: 1373, change: -1 },
      { name: "image", live: 1374, new: null, change: null },
    ],
    by: { field: "provider", values: [{ name: "flickr", live: 10, new: 12, change: 2 }] },
    keys: { new: 0, changed: 1, removed: 1, sample: { new: [], changed: ["k1"], removed: ["k2"] } },
  });
  expect(lines).toEqual([
    "image generation 3 against live generation 2",
    "COUNT  LIVE   NEW    CHANGE",
    "table  1,374  1,373  -1",
    "image  1,374  -      -",
    "",
    "PROVIDER  LIVE  NEW  CHANGE",
    "flickr    10    12   +2",
    "",
    "KEYS     COUNT  SAMPLE",
    "new      0",
    "changed  1      k1",
    "removed  1      k2",
  ]);
});
