import { expect, test } from "bun:test";
import { formatProgressLine } from "./progress.ts";

test.each([
  [120_000, 1_000_000, 2, "refresh image: 120,000/1,000,000 rows (12%), 60,000 rows/s, ETA 15s"],
  [5, null, 0, "refresh image: 5 rows, 0 rows/s"],
  [10, 10, 1, "refresh image: 10/10 rows (100%), 10 rows/s, ETA 0s"],
])("%p of %p after %ps", (done, total, seconds, expected) => {
  expect(formatProgressLine("refresh image", "rows", done, total, seconds)).toBe(expected);
});
