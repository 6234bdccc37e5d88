import { describe, expect, test } from "bun:test";
import { backoffDelay, RETRY_DEFAULTS, sleep, untilAborted, withRetries } from "./retry.ts";

describe("backoffDelay", () => {
  const policy = { baseDelayMs: 100, maxDelayMs: 1000 };
  test("doubles the ceiling per retry up to the cap", () => {
    const top = () => 0.999999;
    expect([1, 2, 3, 4, 5, 6].map((n) => Math.round(backoffDelay(n, policy, top)))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
  test("equal jitter: anywhere from half the ceiling to all of it", () => {
    expect(backoffDelay(3, policy, () => 0)).toBe(200);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(300);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(4, policy);
      expect(d).toBeGreaterThanOrEqual(400);
      expect(d).toBeLessThan(800);
    }
  });
  test("a policy's retries outlast a short restart whatever the draws: bulk ≥ 3.5 s, search control ≥ 3.5 s", () => {
    const leastWait = (p: { attempts: number; baseDelayMs: number; maxDelayMs: number }) =>
      Array.from({ length: p.attempts - 1 }, (_, i) => backoffDelay(i + 1, p, () => 0)).reduce((a, b) => a + b, 0);
    // With full jitter both could be spent in a few milliseconds: a 1.5 s node restart ended 1 run in 8.
    expect(leastWait(RETRY_DEFAULTS.bulk)).toBeGreaterThanOrEqual(3_500);
    expect(leastWait(RETRY_DEFAULTS.searchControl)).toBeGreaterThanOrEqual(3_500);
    expect(leastWait(RETRY_DEFAULTS.recordOutcome)).toBeGreaterThanOrEqual(3_500);
  });
});

describe("withRetries", () => {
  test("retries until done, reporting each retry's reason and delay", async () => {
    const seen: [number, string, number][] = [];
    const result = await withRetries(async (n) => (n < 3 ? { retry: `HTTP 429 #${n}` } : { done: n }), {
      policy: { attempts: 5, baseDelayMs: 10, maxDelayMs: 10 },
      random: () => 0.5,
      onRetry: (n, reason, delay) => seen.push([n, reason, delay]),
    });
    expect(result).toEqual({ done: 3 });
    expect(seen).toEqual([
      [1, "HTTP 429 #1", 7.5],
      [2, "HTTP 429 #2", 7.5],
    ]);
  });
  test("gives up after the policy's attempts with the last reason", async () => {
    let tries = 0;
    const result = await withRetries(async () => (tries++, { retry: "connection reset" }), { policy: { attempts: 4, baseDelayMs: 1, maxDelayMs: 1 } });
    expect(result).toEqual({ exhausted: "connection reset", attempts: 4 });
    expect(tries).toBe(4);
  });
  test("a thrown error is not retried", async () => {
    let tries = 0;
    const run = withRetries(async () => {
      tries++;
      throw new Error("no");
    }, { policy: RETRY_DEFAULTS.bulk });
    await expect(run).rejects.toThrow("no");
    expect(tries).toBe(1);
  });
  test("an abort ends the wait at once", async () => {
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(new Error("stop")), 20);
    const run = withRetries(async () => ({ retry: "busy" }), { policy: { attempts: 3, baseDelayMs: 60_000, maxDelayMs: 60_000 }, signal: controller.signal, random: () => 1 });
    await expect(run).rejects.toThrow("stop");
    expect(performance.now() - started).toBeLessThan(5_000);
  });
  test("sleep without a signal just waits", async () => {
    const started = performance.now();
    await sleep(15);
    expect(performance.now() - started).toBeGreaterThanOrEqual(10);
  });
});

describe("untilAborted", () => {
  test("settles as the work does, or with the signal's reason as soon as it aborts", async () => {
    const controller = new AbortController();
    expect(await untilAborted(Promise.resolve(7), controller.signal)).toBe(7);
    await expect(untilAborted(Promise.reject(new Error("work failed")), controller.signal)).rejects.toThrow("work failed");
    const never = new Promise<never>(() => {});
    const pending = untilAborted(never, controller.signal);
    controller.abort(new Error("lock lost"));
    await expect(pending).rejects.toThrow("lock lost");
    await expect(untilAborted(Promise.resolve(1), controller.signal)).rejects.toThrow("lock lost");
  });
});
