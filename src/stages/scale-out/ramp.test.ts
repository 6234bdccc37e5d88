import { describe, expect, test } from "bun:test";
import { type RampStep, WorkerRamp } from "./ramp.ts";

const options = { max: 4, settleMs: 1000, windowMs: 2000, minGain: 0.05, busyCpu: 90 };

/** Feeds a ramp one observation per 500 ms at `rates[k − 1]` docs/s with k workers; returns the steps that were not holds. */
function drive(rates: number[], o: { max?: number; remaining?: number; sendingAfterMs?: number; cpu?: number[] } = {}): RampStep[] {
  const ramp = new WorkerRamp({ ...options, max: o.max ?? options.max });
  ramp.added();
  let now = 0;
  let indexed = 0;
  let startedAt = 0;
  const steps: RampStep[] = [];
  for (let i = 0; i < 200; i++) {
    now += 500;
    indexed += ((rates[ramp.running - 1] ?? 0) * 500) / 1000;
    const clusterCpu = o.cpu ? (o.cpu[ramp.running - 1] ?? null) : null;
    const step = ramp.observe({ now, indexed, newestSending: now - startedAt >= (o.sendingAfterMs ?? 0), remaining: o.remaining ?? 1e9, clusterCpu });
    if (step.action === "hold") continue;
    steps.push(step);
    if (step.action !== "add") break;
    ramp.added();
    startedAt = now;
  }
  return steps;
}

describe("WorkerRamp", () => {
  test("adds workers while each raises the rate, up to the ceiling", () => {
    const steps = drive([1000, 1800, 2500, 3100]);
    expect(steps.map((s) => s.action)).toEqual(["add", "add", "add", "stay"]);
    expect(steps.at(-1)).toMatchObject({ reason: "ceiling" });
    expect((steps[0] as { rate: number }).rate).toBeCloseTo(1000, 0);
  });

  test("retires a worker that lowered the rate, and adds no more", () => {
    const steps = drive([14_000, 12_300, 9_000]);
    expect(steps.map((s) => s.action)).toEqual(["add", "retire"]);
    expect(steps[1]).toMatchObject({ before: 14_000 });
    expect((steps[1] as { rate: number }).rate).toBeCloseTo(12_300, 0);
  });

  test("a rise smaller than minGain does not keep the worker", () => {
    expect(drive([10_000, 10_400]).map((s) => s.action)).toEqual(["add", "retire"]);
    expect(drive([10_000, 10_600]).map((s) => s.action)).toEqual(["add", "add", "retire"]);
  });

  test("a cluster whose busiest machine has no CPU to spare gets no more workers, not even a trial", () => {
    expect(drive([10_000, 12_000], { cpu: [95, 95] })).toEqual([{ action: "stay", rate: expect.any(Number), reason: "cluster busy", cpu: 95 }]);
    // Busy only once the second worker runs: that one is judged by its rate, and kept.
    expect(drive([10_000, 12_000, 12_100], { cpu: [60, 95] }).map((s) => s.action)).toEqual(["add", "stay"]);
    // A rise still comes first: a worker that lowered the rate is stopped even on a busy cluster.
    expect(drive([10_000, 9_000], { cpu: [60, 95] }).map((s) => s.action)).toEqual(["add", "retire"]);
  });

  test("one worker at most: nothing is added", () => {
    expect(drive([1000], { max: 1 }).map((s) => s.action)).toEqual(["stay"]);
  });

  test("too little work left to measure another worker: stays", () => {
    const steps = drive([1000, 2000], { remaining: 3000 });
    expect(steps).toEqual([{ action: "stay", rate: expect.any(Number), reason: "little work left" }]);
  });

  test("start-up is not measured: the window opens only once the newest worker sends, and settles", () => {
    // Each new worker sends 3 s after it was started; a rate taken before would count its start-up.
    const late = drive([1000, 2000, 1500], { sendingAfterMs: 3000 });
    expect(late.map((s) => s.action)).toEqual(["add", "add", "retire"]);
    const ramp = new WorkerRamp(options);
    ramp.added();
    expect(ramp.observe({ now: 500, indexed: 0, newestSending: false, remaining: 1e9, clusterCpu: null })).toEqual({ action: "hold" });
    expect(ramp.observe({ now: 1000, indexed: 0, newestSending: true, remaining: 1e9, clusterCpu: null })).toEqual({ action: "hold" });
    // Settled at 2000, window from 2000 to 4000: 4,000 documents in 2 s.
    expect(ramp.observe({ now: 2000, indexed: 100, newestSending: true, remaining: 1e9, clusterCpu: null })).toEqual({ action: "hold" });
    expect(ramp.observe({ now: 4000, indexed: 4100, newestSending: true, remaining: 1e9, clusterCpu: null })).toEqual({ action: "add", rate: 2000 });
  });
});
