/**
 * A metrics snapshot as Prometheus metrics (prom-client writes the text format). Gauges only: each
 * value is the state after the last job, which is what a textfile collector or a Pushgateway holds.
 */
import { Gauge, Registry } from "prom-client";
import type { MetricsSnapshot } from "./snapshot.ts";

const seconds = (date: Date | null) => (date ? date.getTime() / 1000 : null);

export function metricsRegistry(snapshot: MetricsSnapshot, now = new Date()): Registry {
  const registry = new Registry();
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Gauge<L>({ name, help, labelNames, registers: [registry] });
  const stage = ["dataset", "stage"] as const;
  const lastSuccess = gauge("sluice_job_last_success_timestamp_seconds", "When a job of this dataset and stage last succeeded (Unix time).", stage);
  const lastFailure = gauge("sluice_job_last_failure_timestamp_seconds", "When a job of this dataset and stage last failed (Unix time).", stage);
  const duration = gauge("sluice_job_last_duration_seconds", "How long the last finished job of this dataset and stage took.", stage);
  const running = gauge("sluice_job_running", "1 while a job of this dataset and stage runs, else 0.", stage);
  const runningSince = gauge("sluice_job_running_since_timestamp_seconds", "When the job of this dataset and stage running now started (Unix time); absent when none runs.", stage);
  const read = gauge("sluice_job_rows_read", "Rows the last finished job of this dataset and stage read.", stage);
  const written = gauge("sluice_job_rows_written", "Rows the last finished job of this dataset and stage wrote.", stage);
  const skipped = gauge("sluice_job_rows_skipped", "Rows the last finished job of this dataset and stage skipped, by reason.", [...stage, "reason"]);
  const failed = gauge("sluice_job_rows_failed", "Rows the last finished job of this dataset and stage failed, by reason.", [...stage, "reason"]);
  const indexed = gauge("sluice_documents_indexed", "Documents the last finished index job of this dataset indexed.", ["dataset"]);
  const live = gauge("sluice_live_generation", "The dataset's live generation number (absent before its first swap).", ["dataset"]);
  const lock = gauge("sluice_lock_held", "1 while a process holds the dataset's lock (a run is in progress), else 0.", ["dataset"]);
  const writtenAt = gauge("sluice_metrics_timestamp_seconds", "When sluice wrote these metrics (Unix time).", []);

  for (const s of snapshot.stages) {
    const labels = { dataset: s.dataset, stage: s.stage };
    const success = seconds(s.lastSuccess);
    if (success !== null) lastSuccess.set(labels, success);
    const failure = seconds(s.lastFailure);
    if (failure !== null) lastFailure.set(labels, failure);
    if (s.lastDurationSeconds !== null) duration.set(labels, s.lastDurationSeconds);
    running.set(labels, s.runningSince ? 1 : 0);
    if (s.runningSince) runningSince.set(labels, seconds(s.runningSince)!);
    const c = s.lastCounters;
    if (!c) continue;
    read.set(labels, c.read ?? 0);
    written.set(labels, c.written ?? 0);
    for (const [reason, n] of Object.entries(c.skipped ?? {})) skipped.set({ ...labels, reason }, n);
    for (const [reason, n] of Object.entries(c.failed ?? {})) failed.set({ ...labels, reason }, n);
    if (s.stage === "index") indexed.set({ dataset: s.dataset }, c.written ?? 0);
  }
  for (const d of snapshot.datasets) {
    if (d.liveGeneration !== null) live.set({ dataset: d.dataset }, d.liveGeneration);
    lock.set({ dataset: d.dataset }, d.lockHeld ? 1 : 0);
  }
  writtenAt.set(now.getTime() / 1000);
  return registry;
}
