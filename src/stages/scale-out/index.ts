/**
 * Scale-out of the index stage: `sluice index <dataset> --worker` joins the ranges of the generation
 * being indexed, from any machine with the same DATABASE_URL and ELASTICSEARCH_URL.
 */
import { SluiceError } from "../../errors.ts";
import { datasetLockHeld } from "../../jobs/lock.ts";
import { datasetFingerprint, shortFingerprint } from "../../generations/fingerprint.ts";
import { pendingGeneration } from "../../generations/store.ts";
import { sleep } from "../../retry.ts";
import { requireIndexConfig } from "../index/build-index.ts";
import type { SessionOptions } from "../session.ts";
import { openSearchFor } from "../steps.ts";
import { generationWithOpenRanges, runningJobRangesClosed } from "./ranges.ts";
import { newHolderId, type WorkerReport, workRanges } from "./worker.ts";
import { openWorkerSession } from "./worker-session.ts";

export { buildIndexWithWorkers, SCALE_OUT_DEFAULTS, type ScaleOutOptions } from "./coordinator.ts";
export type { WorkerReport } from "./worker.ts";

export interface WorkerCommandOptions extends SessionOptions {
  leaseSeconds: number;
  /** The most `_bulk` requests in flight. @default index.concurrency (a local worker is given its share, shares.ts) */
  concurrency?: number | undefined;
  /** How long to wait, while a job holds the dataset's lock, for a coordinator to cut ranges. @default 120 */
  waitSeconds?: number | undefined;
}

export async function runIndexWorker(datasetName: string | undefined, options: WorkerCommandOptions): Promise<WorkerReport> {
  const session = await openWorkerSession(datasetName, options);
  const { dataset, sql, log } = session;
  try {
    requireIndexConfig(dataset);
    // A worker may start before the coordinator has cut ranges (while the run refreshes): it waits
    // as long as a job holds the dataset's lock, up to --wait. With nothing running, there is nothing to join.
    const deadline = Date.now() + (options.waitSeconds ?? 120) * 1000;
    let generation = await generationWithOpenRanges(sql, dataset.name);
    while (generation === null) {
      if (!(await datasetLockHeld(sql, dataset.name)) || (await runningJobRangesClosed(sql, dataset.name)) || Date.now() >= deadline) {
        log.info(`no index job of ${dataset.name} has ranges to work on; nothing to do (the coordinator is \`sluice index ${dataset.name} --workers N\` or \`sluice run ${dataset.name} --workers N\`)`);
        return { holder: "", generation: 0, ranges: [], lost: [], rowsRead: 0, docsSent: 0 };
      }
      // Local workers start before their coordinator has cut the ranges: a short poll joins them soon after.
      await sleep(200, session.signal);
      generation = await generationWithOpenRanges(sql, dataset.name);
    }
    // The search client first: it fits the index body to the cluster (degrading it where allowed),
    // as the refresh that recorded the generation's fingerprint did.
    const es = await openSearchFor(session);
    try {
      const pending = await pendingGeneration(sql, dataset.name);
      const fingerprint = datasetFingerprint(dataset);
      if (pending?.number === generation && pending.fingerprint !== null && pending.fingerprint !== fingerprint) {
        throw new SluiceError(`generation ${generation} of ${dataset.name} was refreshed from another configuration (fingerprint ${shortFingerprint(pending.fingerprint)}, this one ${shortFingerprint(fingerprint)})`, {
          hint: "give every worker the same config file as the coordinator (--config)",
        });
      }
      const report = await workRanges(session, es!, generation, { holder: newHolderId(), leaseSeconds: options.leaseSeconds, concurrency: options.concurrency });
      log.info(`worker done: ranges ${report.ranges.join(", ") || "none"}, ${report.rowsRead} rows read, ${report.docsSent} documents sent`);
      return report;
    } finally {
      await es?.close().catch(() => {});
    }
  } finally {
    await session.close();
  }
}
