/**
 * A scale-out worker: claims ranges of a generation's staging key space one after another and sends
 * each through a BulkSink into the generation's index, until no range is left to claim.
 *
 *   claim (SKIP LOCKED, or a lapsed lease) → staging rows of [lower, upper) after the checkpoint, in
 *   key order → toDocument → BulkSink → checkpoint once every earlier document is settled → done
 *
 * Counters are written only with a checkpoint and cover exactly the rows up to it, so a worker that
 * takes a range over from a lost one resumes from exact figures: what the lost worker sent beyond
 * the checkpoint is sent again under the same _id (Elasticsearch overwrites it) and counted once.
 * A failed document is counted in the checkpoint that covers its row, however late its answer comes.
 */
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import type { SearchClient } from "../../adapters/elasticsearch.ts";
import type { Document } from "../../config/types.ts";
import { SluiceError } from "../../errors.ts";
import { generationIndices, generationTable } from "../../generations/names.ts";
import { RowFailureLog } from "../../jobs/row-failures.ts";
import { BulkSink } from "../index/bulk-sink.ts";
import { matureJoin, requireIndexConfig } from "../index/build-index.ts";
import { stagingRows } from "../index/staging-rows.ts";
import type { Session } from "../session.ts";
import { rangeClause } from "./key-ranges.ts";
import { checkpointRange, claimRange, failRange, type IndexRange, type RangeCounts, releaseRange, renewLease } from "./ranges.ts";

export interface WorkerOptions {
  /** Who holds a lease: host, pid and a random part, so two workers never share one. */
  holder: string;
  /** A lease lapses this long after its last renewal; renewed every third of it. */
  leaseSeconds: number;
}

export interface WorkerReport {
  holder: string;
  generation: number;
  /** Ranges this worker finished. */
  ranges: number[];
  /** Ranges it lost to another worker (its lease lapsed). */
  lost: number[];
  rowsRead: number;
  docsSent: number;
}

export class LeaseLostError extends SluiceError {
  constructor(range: IndexRange) {
    super(`range ${range.number} of generation ${range.generation} passed to another worker (this worker's lease lapsed)`, {
      hint: "nothing to do: the other worker resumes it from its last checkpoint",
    });
  }
}

export function newHolderId(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/** Claims and sends ranges of `generation` until none is left to claim. */
export async function workRanges(session: Session, es: SearchClient, generation: number, options: WorkerOptions): Promise<WorkerReport> {
  const report: WorkerReport = { holder: options.holder, generation, ranges: [], lost: [], rowsRead: 0, docsSent: 0 };
  for (;;) {
    if (session.signal.aborted) throw session.signal.reason;
    const range = await claimRange(session.sql, session.dataset.name, generation, options.holder, options.leaseSeconds);
    if (!range) return report;
    const resumed = range.checkpoint !== null ? ` from checkpoint ${range.checkpoint}` : "";
    session.log.info(`range ${range.number} [${range.lower ?? "-∞"}, ${range.upper ?? "+∞"}) leased${resumed} (attempt ${range.attempts})`);
    const before = { rows: range.rowsRead, docs: range.docsSent };
    const outcome = await sendRange(session, es, range, options);
    if (outcome.lost) {
      report.lost.push(range.number);
      session.log.warn(`range ${range.number}: lease lost to another worker; stopped writing it`);
      continue;
    }
    report.ranges.push(range.number);
    report.rowsRead += outcome.counts.rowsRead - before.rows;
    report.docsSent += outcome.counts.docsSent - before.docs;
  }
}

async function sendRange(session: Session, es: SearchClient, range: IndexRange, options: WorkerOptions): Promise<{ lost: boolean; counts: RangeCounts }> {
  const { dataset, sql, log } = session;
  const config = requireIndexConfig(dataset);
  const key = dataset.table.key;
  const parent = generationIndices(dataset, range.generation)[0]!.index;
  const { holder, leaseSeconds } = options;
  // Aborted by the session (a signal) or by a lost lease: the reader and the sink stop at once.
  const controller = new AbortController();
  const stop = (reason: unknown) => controller.signal.aborted || controller.abort(reason);
  const onSession = () => stop(session.signal.reason);
  session.signal.addEventListener("abort", onSession, { once: true });
  let lost = false;
  const loseLease = () => {
    lost = true;
    stop(new LeaseLostError(range));
  };
  const renewal = setInterval(() => {
    // A database hiccup is not a lost lease: the next renewal tries again before the lease lapses.
    renewLease(sql, range, holder, leaseSeconds).then((ok) => ok || loseLease(), () => {});
  }, (leaseSeconds * 1000) / 3);

  const committed: RangeCounts = { ...pick(range), failedByType: { ...range.failedByType } };
  const failures = range.jobId === null ? null : new RowFailureLog(sql, range.jobId);
  // Documents not yet under a checkpoint, by the segment (run of rows between checkpoints) they came from.
  const segmentOf = new Map<string, number>();
  const failedIn = new Map<number, Record<string, number>>();
  let segment = 0;
  let segmentIds: string[] = [];
  const sink = new BulkSink(es, {
    batchDocuments: config.batchDocuments,
    batchBytes: config.batchBytes,
    concurrency: config.concurrency,
    signal: controller.signal,
    onItemFailed: (item) => {
      const type = item.error?.type ?? `http_${item.status}`;
      const from = segmentOf.get(item.id) ?? segment;
      const types = failedIn.get(from) ?? {};
      types[type] = (types[type] ?? 0) + 1;
      failedIn.set(from, types);
      failures?.add({ key: item.id, reason: type, detail: item.error?.reason });
    },
  });
  const live = { rowsRead: committed.rowsRead, rowsSkipped: committed.rowsSkipped, docsSent: committed.docsSent };
  let lastKey = range.checkpoint;
  let rowsInSegment = 0;
  const checkpointRows = Math.max(config.batchDocuments * config.concurrency * 4, 1);
  let checkpoints: Promise<void> = Promise.resolve();
  /** Ends a segment: once every document added so far is settled, its rows are checkpointed. */
  const closeSegment = (done: boolean) => {
    const mark = { ...live, key: lastKey, segment, ids: segmentIds };
    segment++;
    segmentIds = [];
    rowsInSegment = 0;
    const settled = sink.settled();
    checkpoints = checkpoints.then(async () => {
      await settled;
      for (const id of mark.ids) segmentOf.delete(id);
      for (const [type, n] of Object.entries(failedIn.get(mark.segment) ?? {})) {
        committed.failedByType[type] = (committed.failedByType[type] ?? 0) + n;
        committed.docsFailed += n;
      }
      failedIn.delete(mark.segment);
      Object.assign(committed, { rowsRead: mark.rowsRead, rowsSkipped: mark.rowsSkipped, docsSent: mark.docsSent });
      await failures?.flush();
      if (!(await checkpointRange(sql, range, holder, leaseSeconds, mark.key, committed, done))) loseLease();
    });
    checkpoints.catch(() => {});
  };
  const add = async (id: string, document: Document) => {
    segmentOf.set(id, segment);
    segmentIds.push(id);
    live.docsSent++;
    await sink.add(parent, id, document);
  };

  try {
    const reads = stagingRows(sql, session.env.databaseUrl!, generationTable(dataset, range.generation), controller.signal, await matureJoin(session), rangeClause({ key, type: range.keyType, lower: range.lower, upper: range.upper, after: range.checkpoint }));
    for await (const rows of reads) {
      for (const row of rows) {
        const produced = await config.toDocument(row, indexContextFor());
        let count = 0;
        if (produced !== null && Symbol.asyncIterator in produced) {
          for await (const document of produced as AsyncIterable<Document>) {
            count++;
            await add(String(document.id ?? row[key]), document);
          }
        } else {
          for (const document of produced === null ? [] : Array.isArray(produced) ? produced : [produced as Document]) {
            count++;
            await add(String(document.id ?? row[key]), document);
          }
        }
        live.rowsRead++;
        if (count === 0) live.rowsSkipped++;
        lastKey = String(row[key]);
        rowsInSegment++;
      }
      if (rowsInSegment >= checkpointRows) closeSegment(false);
      if (controller.signal.aborted) throw controller.signal.reason;
    }
    closeSegment(true);
    await sink.close();
    await checkpoints;
    if (lost) return { lost, counts: committed };
    log.info(`range ${range.number} done: ${committed.rowsRead} rows read, ${committed.docsSent} documents sent, ${committed.docsFailed} failed`);
    return { lost: false, counts: committed };
  } catch (error) {
    if (lost) return { lost: true, counts: committed };
    if (session.signal.aborted) {
      // Stopped by a signal: hand the range back at its checkpoint for the next worker.
      await releaseRange(sql, range, holder).catch(() => {});
      throw session.signal.reason instanceof Error ? session.signal.reason : error;
    }
    const message = error instanceof SluiceError ? error.toLine() : (error as Error).message;
    await failRange(sql, range, holder, message).catch(() => {});
    throw error;
  } finally {
    clearInterval(renewal);
    session.signal.removeEventListener("abort", onSession);
  }
}

function pick(range: IndexRange): Omit<RangeCounts, "failedByType"> {
  return { rowsRead: range.rowsRead, rowsSkipped: range.rowsSkipped, docsSent: range.docsSent, docsFailed: range.docsFailed };
}

/** Table datasets read no payloads (registry datasets, which do, are indexed by one process). */
function indexContextFor() {
  return {
    readBlob: async (sha256: string): Promise<Uint8Array> => {
      throw new Error(`this dataset has no blob store to read payload ${sha256} from`);
    },
  };
}
