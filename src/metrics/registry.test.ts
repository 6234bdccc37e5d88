import { expect, test } from "bun:test";
import { metricsRegistry } from "./registry.ts";

test("failed and skipped rows are labelled by reason; absent times and generations are left out", async () => {
  const text = await metricsRegistry(
    {
      stages: [
        {
          dataset: "photos",
          stage: "refresh",
          lastSuccess: new Date("2026-11-30T00:00:00Z"),
          lastFailure: null,
          lastDurationSeconds: 1.5,
          lastCounters: { read: 9, written: 2, skipped: { removed_from_source: 1 }, failed: { invalid_json: 1, 'a "quoted"\nreason': 2 } },
          runningSince: null,
        },
      ],
      datasets: [{ dataset: "photos", liveGeneration: null, lockHeld: false }],
    },
    new Date("2026-11-30T01:00:00Z"),
  ).metrics();
  expect(text).toContain('sluice_job_rows_failed{dataset="photos",stage="refresh",reason="invalid_json"} 1\n');
  expect(text).toContain('sluice_job_rows_failed{dataset="photos",stage="refresh",reason="a \\"quoted\\"\\nreason"} 2\n');
  expect(text).toContain('sluice_job_rows_skipped{dataset="photos",stage="refresh",reason="removed_from_source"} 1\n');
  expect(text).toContain('sluice_job_last_success_timestamp_seconds{dataset="photos",stage="refresh"} 1795996800\n');
  expect(text).not.toContain("sluice_job_last_failure_timestamp_seconds{");
  expect(text).not.toContain("sluice_live_generation{");
  expect(text).toContain('sluice_lock_held{dataset="photos"} 0\n');
  expect(text).toContain("sluice_metrics_timestamp_seconds 1796000400\n");
});
