/**
 * Scale-out of the index stage: `sluice index <dataset> --worker` joins the ranges of the generation
 * being indexed, from any machine with the same DATABASE_URL and ELASTICSEARCH_URL.
 */
import { SluiceError } from "../../errors.ts";
import { datasetFingerprint, shortFingerprint } from "../../generations/fingerprint.ts";
import { pendingGeneration } from "../../generations/store.ts";
import { sleep } from "../../retry.ts";
import { requireIndexConfig } from "../index/build-index.ts";
import type { SessionOptions } from "../session.ts";
import { openSearchFor } from "../steps.ts";
import { generationWithOpenRanges } from "./ranges.ts";
import { newHolderId, type WorkerReport, workRanges } from "./worker.ts";
import { openWorkerSession } from "./worker-session.ts";

export { buildIndexWithWorkers, SCALE_OUT_DEFAULTS, type ScaleOutOptions } from "./coordinator.ts";
export type { WorkerReport } from "./worker.ts";

export interface WorkerCommandOptions extends SessionOptions {
  leaseSeconds: number;
  /** How long to wait for a coordinator to cut ranges when none are open yet. @default 120 */
  waitSeconds?: number | undefined;
}

export async function runIndexWorker(datasetName: string | undefined, options: WorkerCommandOptions): Promise<WorkerReport> {
  const session = await openWorkerSession(datasetName, options);
  const { dataset, sql, log } = session;
  try {
    requireIndexConfig(dataset);
    const deadline = Date.now() + (options.waitSeconds ?? 120) * 1000;
    let generation = await generationWithOpenRanges(sql, dataset.name);
    while (generation === null && Date.now() < deadline && !(await rangesAllClosed(session))) {
      await sleep(1000, session.signal);
      generation = await generationWithOpenRanges(sql, dataset.name);
    }
    if (generation === null) {
      if (await rangesAllClosed(session)) return { holder: "", generation: 0, ranges: [], lost: [], rowsRead: 0, docsSent: 0 };
      throw new SluiceError(`dataset ${dataset.name} has no ranges to index`, {
        hint: `start the coordinator, which cuts them: \`sluice index ${dataset.name} --workers 0\` (or \`sluice run ${dataset.name} --workers 0\`)`,
      });
    }
    const pending = await pendingGeneration(sql, dataset.name);
    const fingerprint = datasetFingerprint(dataset);
    if (pending?.number === generation && pending.fingerprint !== null && pending.fingerprint !== fingerprint) {
      throw new SluiceError(`generation ${generation} of ${dataset.name} was refreshed from another configuration (fingerprint ${shortFingerprint(pending.fingerprint)}, this one ${shortFingerprint(fingerprint)})`, {
        hint: "give every worker the same config file as the coordinator (--config)",
      });
    }
    const es = await openSearchFor(session);
    try {
      const report = await workRanges(session, es!, generation, { holder: newHolderId(), leaseSeconds: options.leaseSeconds });
      log.info(`worker done: ranges ${report.ranges.join(", ") || "none"}, ${report.rowsRead} rows read, ${report.docsSent} documents sent`);
      return report;
    } finally {
      await es?.close().catch(() => {});
    }
  } finally {
    await session.close();
  }
}

/** Whether the generation being built has ranges and every one is closed (done or failed): nothing to wait for. */
async function rangesAllClosed(session: { sql: import("../../adapters/postgres.ts").Sql; dataset: { name: string } }): Promise<boolean> {
  const [row] = await session.sql`
    select count(*)::int as n, count(*) filter (where r.state in ('pending', 'leased'))::int as open
    from sluice.index_ranges r join sluice.generations g on g.dataset = r.dataset and g.number = r.generation
    where r.dataset = ${session.dataset.name} and g.state = 'building'`;
  return row!.n > 0 && row!.open === 0;
}
