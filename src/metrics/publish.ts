/**
 * After every job (and when a command lets go of a dataset), the metrics go where the operator
 * asked: SLUICE_METRICS_FILE, written whole and renamed into place so that node_exporter's
 * textfile collector never reads half a file, and/or SLUICE_PUSHGATEWAY_URL. Neither may fail a
 * job: a problem is a warning.
 */
import { rename, rm, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";
import type { Sql } from "../adapters/postgres.ts";
import { logger } from "../log/logger.ts";
import { maskUrl, redact } from "../redact.ts";
import { readMetricsSnapshot } from "./snapshot.ts";

export interface MetricsTargets {
  file: string | null;
  pushgateway: string | null;
}

export function metricsTargets(source: Record<string, string | undefined> = process.env): MetricsTargets {
  return { file: source.SLUICE_METRICS_FILE?.trim() || null, pushgateway: source.SLUICE_PUSHGATEWAY_URL?.trim() || null };
}

const log = logger.withTag("metrics");

/** Writes `text` to `file` atomically: a temporary file beside it (not ending in .prom), then rename. */
export async function writeFileAtomically(file: string, text: string): Promise<void> {
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    await writeFile(temp, text);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

export async function publishMetrics(sql: Sql, targets = metricsTargets()): Promise<void> {
  if (!targets.file && !targets.pushgateway) return;
  try {
    // prom-client is loaded only when metrics are asked for: importing it costs every command ~0.1 CPU-s.
    const { metricsRegistry } = await import("./registry.ts");
    const registry = metricsRegistry(await readMetricsSnapshot(sql));
    if (targets.file) {
      try {
        await writeFileAtomically(targets.file, await registry.metrics());
      } catch (error) {
        log.warn(`could not write SLUICE_METRICS_FILE ${targets.file}: ${(error as Error).message}`);
      }
    }
    if (targets.pushgateway) {
      try {
        // PUT: the group holds exactly these metrics, as the file does.
        const { Pushgateway } = await import("prom-client");
        await new Pushgateway(targets.pushgateway, { timeout: 5000 }, registry).push({ jobName: "sluice", groupings: { instance: hostname() } });
      } catch (error) {
        log.warn(redact(`could not push metrics to SLUICE_PUSHGATEWAY_URL ${maskUrl(targets.pushgateway)}: ${(error as Error).message}`));
      }
    }
  } catch (error) {
    log.warn(redact(`could not read the metrics: ${(error as Error).message}`));
  }
}
