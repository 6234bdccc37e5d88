import { expect, test } from "bun:test";
import { isTextType, rangeClause, rangeQuery, rangesFromBoundaries, samplePercent, SPLIT_SAMPLE_ROWS } from "./key-ranges.ts";

test("ranges from boundaries are half-open, unbounded at both ends, and drop repeated cuts", () => {
  expect(rangesFromBoundaries([])).toEqual([{ number: 1, lower: null, upper: null }]);
  expect(rangesFromBoundaries(["10", "20", "20", "30"])).toEqual([
    { number: 1, lower: null, upper: "10" },
    { number: 2, lower: "10", upper: "20" },
    { number: 3, lower: "20", upper: "30" },
    { number: 4, lower: "30", upper: null },
  ]);
});

test("text keys are compared byte-wise, other keys in their own type", () => {
  expect(isTextType("character varying(40)")).toBe(true);
  expect(isTextType("text")).toBe(true);
  expect(isTextType("uuid")).toBe(false);
  expect(isTextType("bigint")).toBe(false);
  expect(rangeClause({ key: "id", type: "text", lower: "a'b", upper: null })).toBe(`WHERE "id" COLLATE "C" >= 'a''b' COLLATE "C" ORDER BY "id" COLLATE "C"`);
  expect(rangeClause({ key: "id", type: "integer", lower: "5", upper: "9", after: "6" })).toBe(
    `WHERE "id" >= '5'::integer AND "id" < '9'::integer AND "id" > '6'::integer ORDER BY "id"`,
  );
  expect(rangeClause({ key: "id", type: "uuid", lower: null, upper: null })).toBe(`ORDER BY "id"`);
});

test("a range becomes a range query on the key field", () => {
  expect(rangeQuery("id", { lower: "5", upper: "9223372036854775807" })).toEqual({ range: { id: { gte: "5", lt: "9223372036854775807" } } });
  expect(rangeQuery("id", { lower: null, upper: "b" })).toEqual({ range: { id: { lt: "b" } } });
  expect(rangeQuery("id", { lower: null, upper: null })).toEqual({ match_all: {} });
});

test("a split reads every key of a small or never analyzed table, and a sample of a large one", () => {
  expect(samplePercent(-1, 16)).toBeNull();
  expect(samplePercent(0, 16)).toBeNull();
  expect(samplePercent(2 * SPLIT_SAMPLE_ROWS - 1, 16)).toBeNull();
  expect(samplePercent(200_000, 16)).toBe(10);
  expect(samplePercent(600_000_000, 16)).toBeCloseTo((100 * SPLIT_SAMPLE_ROWS) / 600_000_000);
  // Many ranges want more keys: 500 per range.
  expect(samplePercent(1_000_000, 100)).toBe(5);
  expect(samplePercent(99_999, 100)).toBeNull();
});
