import { describe, expect, test } from "bun:test";
import { AdaptiveLimit } from "./adaptive-limit.ts";

const MB = 1024 * 1024;

/** A cluster that works on `parallel` requests at once, each taking `ms` per 5 MB, and queues the rest. */
function settle(limit: AdaptiveLimit, parallel: number, ms = 1000, answers = 40): number[] {
  const seen: number[] = [];
  for (let i = 0; i < answers; i++) {
    const inFlight = limit.current;
    limit.onAnswer(ms * Math.max(1, inFlight / parallel), 5 * MB, inFlight);
    seen.push(limit.current);
  }
  return seen;
}

describe("AdaptiveLimit", () => {
  test("grows one slot per busy answer while latency holds, up to its maximum", () => {
    const limit = new AdaptiveLimit(6, 1);
    const seen = [limit.current];
    for (let i = 0; i < 8; i++) {
      limit.onAnswer(1000, 5 * MB, limit.current);
      seen.push(limit.current);
    }
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 6, 6, 6]);
  });

  test("does not grow while slots are free (the producer, not the cluster, is the bottleneck)", () => {
    const limit = new AdaptiveLimit(6, 2);
    for (let i = 0; i < 5; i++) limit.onAnswer(1000, 5 * MB, 1);
    expect(limit.current).toBe(2);
  });

  test("settles at what the cluster works on at once plus one waiting, and follows it down when it has less room", () => {
    expect(settle(new AdaptiveLimit(8, 1), 2).slice(-10)).toEqual(Array(10).fill(3));
    const limit = new AdaptiveLimit(16, 1);
    expect(settle(limit, 4).slice(-10)).toEqual(Array(10).fill(5));
    // Other work takes half the cluster's room: two requests at once, then the queue.
    expect(settle(limit, 2).slice(-10)).toEqual(Array(10).fill(3));
    // A cluster with room for all of them: the ceiling.
    expect(settle(new AdaptiveLimit(6, 2), 64).at(-1)).toBe(6);
  });

  test("other work slowing every answer alike keeps a request waiting: the limit stays above 1", () => {
    const limit = new AdaptiveLimit(6, 2);
    limit.onAnswer(1000, 5 * MB, 2);
    for (let i = 0; i < 10; i++) limit.onAnswer(3000, 5 * MB, limit.current);
    expect(limit.current).toBe(2);
  });

  test("a smaller request, in proportion no slower, counts as holding; below 64 KiB as 64 KiB", () => {
    const limit = new AdaptiveLimit(6, 2);
    limit.onAnswer(1000, 5 * MB, 2);
    limit.onAnswer(200, 1 * MB, 2);
    expect(limit.current).toBe(3);
    limit.onAnswer(12.5, 1024, 3);
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
