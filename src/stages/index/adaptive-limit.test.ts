import { describe, expect, test } from "bun:test";
import { AdaptiveLimit } from "./adaptive-limit.ts";

const MB = 1024 * 1024;

describe("AdaptiveLimit", () => {
  test("grows one slot per busy answer while latency holds, up to its maximum", () => {
    const limit = new AdaptiveLimit(6, 1);
    const seen = [limit.current];
    for (let i = 0; i < 8; i++) {
      limit.onAnswer(1000, 5 * MB, true);
      seen.push(limit.current);
    }
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 6, 6, 6]);
  });

  test("does not grow while slots are free (the producer, not the cluster, is the bottleneck)", () => {
    const limit = new AdaptiveLimit(6, 2);
    for (let i = 0; i < 5; i++) limit.onAnswer(1000, 5 * MB, false);
    expect(limit.current).toBe(2);
  });

  test("holds while answers are slower than 1.5× the recent best per megabyte", () => {
    const limit = new AdaptiveLimit(6, 3);
    limit.onAnswer(1000, 5 * MB, false);
    limit.onAnswer(2500, 5 * MB, true);
    limit.onAnswer(1600, 5 * MB, true);
    expect(limit.current).toBe(3);
    // A smaller request, in proportion no slower, counts as holding.
    limit.onAnswer(200, 1 * MB, true);
    expect(limit.current).toBe(4);
  });

  test("halves on a 429, never below one slot", () => {
    const limit = new AdaptiveLimit(8, 8);
    limit.onRejected();
    expect(limit.current).toBe(4);
    limit.onRejected();
    limit.onRejected();
    limit.onRejected();
    expect(limit.current).toBe(1);
  });

  test("never starts above its maximum", () => {
    expect(new AdaptiveLimit(1).current).toBe(1);
    expect(new AdaptiveLimit(3, 10).current).toBe(3);
  });
});
