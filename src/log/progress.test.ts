import { afterEach, beforeEach, expect, test } from "bun:test";
import { LOG_LEVELS } from "../config/env.ts";
import { logger } from "./logger.ts";
import { etaSeconds, formatProgressLine, startProgress, tenthsOfSecond } from "./progress.ts";

test.each([
  [120_000, 1_000_000, 2, "refresh image: 120,000/1,000,000 rows (12%), 60,000 rows/s, ETA 15s"],
  [5, null, 0, "refresh image: 5 rows, 0 rows/s"],
  [10, 10, 1, "refresh image: 10/10 rows (100%), 10 rows/s, ETA 0s"],
  [420, 1000, 42, "refresh image: 420/1,000 rows (42%), 10 rows/s, ETA 58s"],
  [1, 1000, 30, "refresh image: 1/1,000 rows (0%), 0 rows/s, ETA 8h19m"],
])("%p of %p after %ps", (done, total, seconds, expected) => {
  expect(formatProgressLine("refresh image", "rows", done, total, seconds)).toBe(expected);
});

test("start-up timings keep tenths of a second, which whole-second durations round away", () => {
  expect(tenthsOfSecond(0)).toBe("0.0 s");
  expect(tenthsOfSecond(349)).toBe("0.3 s");
  expect(tenthsOfSecond(11_260)).toBe("11.3 s");
});

test("the ETA is the time left at the average rate so far", () => {
  expect(etaSeconds(420, 1000, 42)).toBe(58);
  expect(etaSeconds(500, 1000, 10)).toBe(10);
  expect(etaSeconds(1000, 1000, 10)).toBe(0);
  expect(etaSeconds(0, 1000, 10)).toBeNull();
  expect(etaSeconds(10, 1000, 0)).toBeNull();
});

// Bars are drawn at the info level (other test files in the same process may have changed it).
let savedLevel = logger.level;
beforeEach(() => {
  savedLevel = logger.level;
  logger.level = LOG_LEVELS.info;
});
afterEach(() => {
  logger.level = savedLevel;
});

/** A terminal stand-in that records what is written to it, in order with stderr's writes. */
function fakeTerminal(out: string[]) {
  return { isTTY: true, columns: 200, write: (chunk: string) => out.push(String(chunk)) } as unknown as NodeJS.WriteStream;
}

test("the bar's ETA after a burst of ticks at 42% is the time left, not 0s", () => {
  const out: string[] = [];
  let now = 0;
  const progress = startProgress({ label: "reload image", unit: "rows", total: 1000, terminal: true, stream: fakeTerminal(out), clock: () => now });
  // 420 rows in 42 s, in bursts of 60 that take no time at all (a batch of validations finishing
  // together). cli-progress's own ETA spans its last 50 updates: 0 ms here, so it showed `ETA 0s`.
  for (let burst = 1; burst <= 7; burst++) {
    now = burst * 6000;
    for (let i = 0; i < 60; i++) progress.tick();
  }
  const last = () => out.filter((chunk) => chunk.includes("ETA")).at(-1) ?? "";
  progress.stop();
  expect(last()).toContain("420/1,000 rows (42%)");
  expect(last()).toContain("ETA 58s");
});

test("a log line printed while a bar is drawn takes the bar's row, and the bar is drawn again under it", () => {
  const out: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => out.push(`LOG:${chunk}`) > 0) as typeof process.stderr.write;
  try {
    const progress = startProgress({ label: "index image", unit: "docs", total: 10, terminal: true, stream: fakeTerminal(out), clock: () => 0 });
    progress.tick(3);
    out.length = 0;
    logger.warn("a line in the middle of the bar");
    progress.stop();
  } finally {
    process.stderr.write = write;
  }
  const logAt = out.findIndex((chunk) => chunk.startsWith("LOG:") && chunk.includes("a line in the middle of the bar"));
  expect(logAt).toBeGreaterThan(0);
  // Before it: the row is wiped (carriage return / cursor to column 0, then erase line).
  expect(out.slice(0, logAt).join("")).toContain("\x1b[2K");
  // After it: the bar again.
  expect(out.slice(logAt + 1).join("")).toContain("index image [");
});
