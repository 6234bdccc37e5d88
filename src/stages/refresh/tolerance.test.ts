import { describe, expect, test } from "bun:test";
import { type Counters, emptyCounters } from "../../jobs/counters.ts";
import { SluiceError } from "../../errors.ts";
import { enforceRefreshTolerance, refreshToleranceBreach, topReasons } from "./tolerance.ts";

const counts = (read: number, written: number, failed: Record<string, number>, skipped: Record<string, number> = {}): Counters => ({ ...emptyCounters(), read, written, failed, skipped });
const dataset = (maxFailures: number | null = null, maxFailedFraction = 0.01) => ({ name: "photos", refresh: { maxFailures, maxFailedFraction } });

describe("refreshToleranceBreach", () => {
  test("within the default 1%: no breach", () => {
    expect(refreshToleranceBreach(dataset(), counts(1000, 990, { invalid_json: 10 }), 7)).toBeNull();
    expect(refreshToleranceBreach(dataset(), counts(0, 0, {}), 7)).toBeNull();
    expect(refreshToleranceBreach(dataset(), counts(1899, 1374, {}, { removed_from_source: 525 }), 7)).toBeNull();
  });

  test("past the fraction: names counts, share, top reasons, job and fix", () => {
    const breach = refreshToleranceBreach(dataset(), counts(1000, 989, { invalid_json: 8, null_key: 2, value_too_long: 1 }), 7);
    expect(breach).toEqual({
      message: "refresh of photos failed: 11 of 1,000 rows read failed (1.1%, more than refresh.maxFailedFraction 1%): invalid_json 8, null_key 2, value_too_long 1 (job 7)",
      hint: "see sluice job show 7 and sluice.row_failures; raise refresh.maxFailedFraction only if that loss is acceptable",
    });
  });

  test("maxFailures, when set, decides instead of the fraction", () => {
    expect(refreshToleranceBreach(dataset(50), counts(100, 60, { invalid_json: 40 }), 3)).toBeNull();
    const breach = refreshToleranceBreach(dataset(0), counts(100_000, 99_999, { invalid_uuid: 1 }), 3);
    expect(breach?.message).toBe("refresh of photos failed: 1 of 100,000 rows read failed, more than refresh.maxFailures 0: invalid_uuid 1 (job 3)");
    expect(breach?.hint).toContain("raise refresh.maxFailures only if that loss is acceptable");
  });

  test("read rows and wrote none fails whatever the tolerance", () => {
    const breach = refreshToleranceBreach(dataset(null, 1), counts(4, 0, { invalid_json: 3 }, { removed_from_source: 1 }), 9);
    expect(breach?.message).toBe("refresh of photos failed: it read 4 rows and wrote none: 3 failed (invalid_json 3), 1 skipped (removed_from_source 1) (job 9)");
    expect(breach?.hint).toBe("see sluice job show 9 and sluice.row_failures; a refresh that stores no row is never promoted");
    expect(refreshToleranceBreach(dataset(100), counts(4, 0, { invalid_json: 4 }), 9)).not.toBeNull();
  });

  test("enforceRefreshTolerance throws a SluiceError with exit code 1", () => {
    expect(() => enforceRefreshTolerance(dataset(), counts(10, 5, { invalid_json: 5 }), 1)).toThrow(SluiceError);
    try {
      enforceRefreshTolerance(dataset(), counts(10, 5, { invalid_json: 5 }), 1);
    } catch (error) {
      expect((error as SluiceError).exitCode).toBe(1);
    }
    expect(() => enforceRefreshTolerance(dataset(), counts(10, 10, {}), 1)).not.toThrow();
  });
});

test("topReasons: largest first, then by name, the rest counted", () => {
  expect(topReasons({ b: 2, a: 2, c: 5, d: 1, e: 0 })).toBe("c 5, a 2, b 2 and 1 more reason");
  expect(topReasons({ a: 1 })).toBe("a 1");
});
