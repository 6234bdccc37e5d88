/**
 * A scale-out worker: claims ranges of a generation's staging key space one after another and sends
 * them through one BulkSink for its whole life, until no range is left to claim.
 *
 *   claim (SKIP LOCKED, or a lapsed lease) → RangeRun.read (rows → sink) → claim the next at once
 *                                              └ RangeRun.finish: its last requests answered → checkpoint done
 *
 * The sink is not drained between ranges: the next range is read while the last requests of the
 * one before are in flight, and each range is marked done (with its counts) only once all of its
 * own documents are answered (range-run.ts). Documents go to the index's write alias with
 * `require_alias`, so a worker that outlives its index (its coordinator killed, the index deleted)
 * gets refusals instead of creating an unmarked index, and stops.
 */
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import type { SearchClient } from "../../adapters/elasticsearch.ts";
import { SluiceError } from "../../errors.ts";
import { generationIndices, workersAlias } from "../../generations/names.ts";
import { BulkSink } from "../index/bulk-sink.ts";
import { requireIndexConfig } from "../index/build-index.ts";
import { type Session, throwIfAborted } from "../session.ts";
import { rowStreamCollector } from "../memory.ts";
import { claimRange } from "./ranges.ts";
import { type RangeOutcome, RangeRun, type RangeWorkerContext, type Segment } from "./range-run.ts";

export { LeaseLostError } from "./range-run.ts";

export interface WorkerOptions {
  /** Who holds a lease: host, pid and a random part, so two workers never share one. */
  holder: string;
  /** A lease lapses this long after its last renewal; renewed every third of it. */
  leaseSeconds: number;
  /** The most `_bulk` requests in flight. @default index.concurrency (shares.ts: local workers get a share) */
  concurrency?: number | undefined;
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

/** The index's write alias is gone: the index was deleted (its job ended), and this worker stops. */
export class IndexGoneError extends SluiceError {
  constructor(alias: string) {
    super(`the index behind ${alias} is gone (deleted when its index job ended); this worker stops writing`, {
      hint: "nothing to do here: start the index stage again (`sluice index <dataset> --workers N`) and workers join it",
    });
  }
}

export function newHolderId(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/** Claims and sends ranges of `generation` until none is left to claim. */
export async function workRanges(session: Session, es: SearchClient, generation: number, options: WorkerOptions): Promise<WorkerReport> {
  const { dataset } = session;
  const config = requireIndexConfig(dataset);
  const report: WorkerReport = { holder: options.holder, generation, ranges: [], lost: [], rowsRead: 0, docsSent: 0 };
  const target = workersAlias(generationIndices(dataset, generation)[0]!.index);
  // Stops the sink and every range's reader: a signal, or an error in any range of this worker.
  const stopping = new AbortController();
  const stop = (reason: unknown) => stopping.signal.aborted || stopping.abort(reason);
  const onSession = () => stop(session.signal.reason);
  session.signal.addEventListener("abort", onSession, { once: true });
  const owners = new Map<string, Segment>();
  const concurrency = options.concurrency ?? config.concurrency;
  const sink = new BulkSink(es, {
    batchDocuments: config.batchDocuments,
    batchBytes: config.batchBytes,
    concurrency,
    signal: stopping.signal,
    requireAlias: true,
    onItemFailed: (item) => {
      if (item.error?.type === "index_not_found_exception") stop(new IndexGoneError(target));
      const segment = owners.get(item.id);
      if (segment) segment.fail(item);
      // Not reachable while every _id is listed until its segment settles; the coordinator's count check would catch it.
      else session.log.warn(`document ${item.id} failed (${item.error?.type ?? item.status}) outside any open range`);
    },
  });
  const ctx: RangeWorkerContext = {
    session,
    sink,
    owners,
    target,
    holder: options.holder,
    leaseSeconds: options.leaseSeconds,
    checkpointRows: Math.max(config.batchDocuments * concurrency * 4, 1),
    stop: stopping.signal,
    collect: rowStreamCollector(),
  };
  const open = new Set<RangeRun>();
  const finishing: Promise<void>[] = [];
  let failure: unknown = null;
  const record = (run: RangeRun, outcome: RangeOutcome) => {
    open.delete(run);
    if (outcome.lost) return void report.lost.push(run.range.number);
    report.ranges.push(run.range.number);
    report.rowsRead += outcome.counts.rowsRead - run.range.rowsRead;
    report.docsSent += outcome.counts.docsSent - run.range.docsSent;
  };
  try {
    for (;;) {
      if (failure) throw failure;
      if (stopping.signal.aborted) throw stopping.signal.reason;
      throwIfAborted(session.signal);
      const range = await claimRange(session.sql, dataset.name, generation, options.holder, options.leaseSeconds);
      if (!range) break;
      const resumed = range.checkpoint !== null ? ` from checkpoint ${range.checkpoint}` : "";
      session.log.info(`range ${range.number} [${range.lower ?? "-∞"}, ${range.upper ?? "+∞"}) leased${resumed} (attempt ${range.attempts})`);
      const run = new RangeRun(ctx, range);
      open.add(run);
      await run.read();
      // Not awaited: the next range is claimed and read while this one's last requests are answered.
      finishing.push(
        run.finish().then(
          (outcome) => record(run, outcome),
          (error) => {
            failure ??= error;
            stop(error);
          },
        ),
      );
    }
    await Promise.all(finishing);
    if (failure) throw failure;
    await sink.close();
    return report;
  } catch (error) {
    const cause = stopping.signal.aborted && stopping.signal.reason instanceof IndexGoneError ? stopping.signal.reason : error;
    stop(cause);
    await Promise.allSettled(finishing);
    for (const run of open) await run.abandon(cause).catch(() => {});
    if (session.signal.aborted) throw session.signal.reason instanceof Error ? session.signal.reason : cause;
    throw cause;
  } finally {
    session.signal.removeEventListener("abort", onSession);
  }
}
