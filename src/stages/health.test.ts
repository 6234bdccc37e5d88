import { expect, test } from "bun:test";
import { assessHealth } from "./health.ts";
import type { DatasetStatus, StatusReport } from "./status.ts";

const now = new Date("2026-11-30T12:00:00Z");
const dataset = (over: Partial<DatasetStatus> = {}): DatasetStatus => ({
  name: "image",
  source: "postgres",
  indexed: true,
  liveGeneration: 3,
  swap: { state: "agreed", detail: null, repair: null },
  lastJob: null,
  lastRun: { id: 9, stage: "run", state: "succeeded", finishedAt: new Date("2026-11-30T06:00:00Z") },
  lastSuccessAt: new Date("2026-11-30T06:00:00Z"),
  maxAgeHours: null,
  ...over,
});
const report = (over: Partial<Omit<StatusReport, "health">> = {}): Omit<StatusReport, "health"> => ({
  database: { url: "postgres://x", reachable: true, error: null, migration: 6, expected: 6, pending: 0, drifted: 0 },
  elasticsearch: { url: "http://es", status: "green", reachable: true },
  datasets: [dataset()],
  ...over,
});

test("healthy: exit 0, no problems", () => {
  expect(assessHealth(report(), now)).toEqual({ exitCode: 0, problems: [] });
});

test("an unset ELASTICSEARCH_URL counts only when a dataset has a live index", () => {
  const unset = { url: null, status: "not configured (ELASTICSEARCH_URL)", reachable: false };
  expect(assessHealth(report({ elasticsearch: unset, datasets: [dataset({ indexed: false, liveGeneration: 2 })] }), now)).toEqual({ exitCode: 0, problems: [] });
  expect(assessHealth(report({ elasticsearch: unset, datasets: [dataset({ liveGeneration: null, lastRun: null, lastSuccessAt: null })] }), now)).toEqual({ exitCode: 0, problems: [] });
  expect(assessHealth(report({ elasticsearch: unset, datasets: [] }), now)).toEqual({ exitCode: 0, problems: [] });
  const indexed = assessHealth(report({ elasticsearch: unset, datasets: [dataset({ indexed: false }), dataset({ name: "audio" })] }), now);
  expect(indexed.exitCode).toBe(5);
  expect(indexed.problems.map((p) => p.message)).toEqual(["Elasticsearch (ELASTICSEARCH_URL) is not configured (ELASTICSEARCH_URL)"]);
  // Set but not answering counts whatever the datasets are.
  const down = { url: "http://127.0.0.1:1/", status: "unreachable (connection refused)", reachable: false };
  expect(assessHealth(report({ elasticsearch: down, datasets: [dataset({ indexed: false })] }), now).exitCode).toBe(5);
});

test.each([
  ["a split swap", { datasets: [dataset({ swap: { state: "split", detail: "alias on g2", repair: "sluice swap image --repair" } })] }, 6, "image: swap split: alias on g2 (run `sluice swap image --repair`)"],
  ["a failed last run", { datasets: [dataset({ lastRun: { id: 12, stage: "run", state: "failed", finishedAt: now } })] }, 6, "image: last run (job 12) failed (see `sluice job show 12`)"],
  ["older than maxAge", { datasets: [dataset({ maxAgeHours: 5 })] }, 6, "image: last successful run finished 6.0 h ago, over status.maxAgeHours 5"],
  ["never succeeded, with a maxAge", { datasets: [dataset({ maxAgeHours: 5, lastSuccessAt: null, lastRun: null })] }, 6, "image: no successful run yet (status.maxAgeHours is 5)"],
  ["a red cluster", { elasticsearch: { url: "http://es", status: "red", reachable: true } }, 5, "Elasticsearch is red (a primary shard is unassigned)"],
  ["a drifted migration", { database: { url: "p", reachable: true, error: null, migration: 6, expected: 6, pending: 0, drifted: 1 } }, 3, "1 migration(s) drifted from the files this binary carries (see `sluice migrate status`)"],
] as const)("%s", (_, over, code, message) => {
  const health = assessHealth(report(over as never), now);
  expect(health.exitCode).toBe(code);
  expect(health.problems.map((p) => p.message)).toEqual([message]);
});

test("within maxAge is healthy", () => {
  expect(assessHealth(report({ datasets: [dataset({ maxAgeHours: 7 })] }), now).exitCode).toBe(0);
});

test("the most serious problem decides the code: unreachable, then schema, then a dataset", () => {
  const all = report({
    database: { url: "p", reachable: true, error: null, migration: 5, expected: 6, pending: 1, drifted: 0 },
    elasticsearch: { url: "http://es", status: "unreachable (ECONNREFUSED)", reachable: false },
    datasets: [dataset({ swap: { state: "split", detail: "x", repair: "y" } })],
  });
  const health = assessHealth(all, now);
  expect(health.exitCode).toBe(5);
  expect(health.problems.map((p) => p.exitCode)).toEqual([5, 3, 6]);
  expect(assessHealth({ ...all, elasticsearch: { url: "e", status: "green", reachable: true } }, now).exitCode).toBe(3);
});
