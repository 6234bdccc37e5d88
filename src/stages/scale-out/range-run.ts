/**
 * One leased range, sent through its worker's BulkSink (shared by every range the worker takes):
 *
 *   staging rows of [lower, upper) after the checkpoint, in key order → toDocument → sink.push
 *   → per segment (a run of rows): once every document added so far is settled → checkpoint
 *
 * `read()` returns as soon as the range's last row is in the sink, so that the worker claims its
 * next range while this one's last requests are still in flight; `finish()` resolves once they are
 * answered and the range is checkpointed done. Counters are written only with a checkpoint and
 * cover exactly the rows up to it, so a worker that takes a range over from a lost one resumes from
 * exact figures: what the lost worker sent beyond the checkpoint is sent again under the same _id
 * (Elasticsearch overwrites it) and counted once. A failed document is counted in the checkpoint
 * of the segment its row belongs to, however late its answer comes (`Segment`, found by _id).
 */
import type { BulkItemResult } from "../../adapters/elasticsearch.ts";
import type { Document } from "../../config/types.ts";
import { SluiceError } from "../../errors.ts";
import { generationTable } from "../../generations/names.ts";
import { RowFailureLog } from "../../jobs/row-failures.ts";
import type { BulkSink } from "../index/bulk-sink.ts";
import { isPromiseLike, matureJoin, requireIndexConfig } from "../index/build-index.ts";
import { stagingDocuments, stagingRows } from "../index/staging-rows.ts";
import { isProjection } from "../../config/projection.ts";
import type { Session } from "../session.ts";
import { rangeClause } from "./key-ranges.ts";
import { checkpointRange, failRange, type IndexRange, type RangeCounts, releaseRange, renewLease } from "./ranges.ts";

export class LeaseLostError extends SluiceError {
  constructor(range: IndexRange) {
    super(`range ${range.number} of generation ${range.generation} passed to another worker (this worker's lease lapsed)`, {
      hint: "nothing to do: the other worker resumes it from its last checkpoint",
    });
  }
}

/** The failures of one segment's documents, by type, until its checkpoint counts them. */
export class Segment {
  readonly failedByType: Record<string, number> = {};
  failed = 0;
  constructor(private readonly log: RowFailureLog | null) {}

  fail(item: BulkItemResult): void {
    const type = item.error?.type ?? `http_${item.status}`;
    this.failedByType[type] = (this.failedByType[type] ?? 0) + 1;
    this.failed++;
    this.log?.add({ key: item.id, reason: type, detail: item.error?.reason });
  }
}

/** What a worker shares among its ranges. */
export interface RangeWorkerContext {
  session: Session;
  sink: BulkSink;
  /** Where each document not yet under a checkpoint belongs, by _id: the sink reports failures by _id. */
  owners: Map<string, Segment>;
  /** The index's write alias (workersAlias). */
  target: string;
  holder: string;
  leaseSeconds: number;
  /** Rows between checkpoints. */
  checkpointRows: number;
  /** Aborted when the worker stops (a signal, or an error in any of its ranges). */
  stop: AbortSignal;
  /**
   * The worker's garbage collection (memory.ts rowStreamCollector), one across its ranges: a range
   * of fewer rows than the full collection's period would otherwise never get one (16 ranges of
   * 12k rows: worker peak 295 MB against 260 MB with 4 ranges).
   */
  collect: (rows: number) => void;
}

export interface RangeOutcome {
  lost: boolean;
  counts: RangeCounts;
}

export class RangeRun {
  /** Set when the lease passed to another worker: this worker writes no more of the range. */
  lost = false;
  readonly #committed: RangeCounts;
  readonly #live: { rowsRead: number; rowsSkipped: number; docsSent: number };
  readonly #reader = new AbortController();
  readonly #failures: RowFailureLog | null;
  readonly #renewal: ReturnType<typeof setInterval>;
  #segment: Segment;
  #segmentIds: string[] = [];
  #lastKey: string | null;
  #checkpoints: Promise<void> = Promise.resolve();
  #onStop = () => this.#abortReader(this.ctx.stop.reason);

  constructor(
    private readonly ctx: RangeWorkerContext,
    readonly range: IndexRange,
  ) {
    this.#committed = { rowsRead: range.rowsRead, rowsSkipped: range.rowsSkipped, docsSent: range.docsSent, docsFailed: range.docsFailed, failedByType: { ...range.failedByType } };
    this.#live = { rowsRead: range.rowsRead, rowsSkipped: range.rowsSkipped, docsSent: range.docsSent };
    this.#lastKey = range.checkpoint;
    this.#failures = range.jobId === null ? null : new RowFailureLog(ctx.session.sql, range.jobId);
    this.#segment = new Segment(this.#failures);
    ctx.stop.addEventListener("abort", this.#onStop, { once: true });
    this.#renewal = setInterval(() => {
      // A database hiccup is not a lost lease: the next renewal tries again before the lease lapses.
      renewLease(ctx.session.sql, range, ctx.holder, ctx.leaseSeconds).then((ok) => ok || this.#loseLease(), () => {});
    }, (ctx.leaseSeconds * 1000) / 3);
  }

  /** Reads every row of the range into the sink; returns once the last is added (not yet answered), or at once when the lease is lost. */
  async read(): Promise<void> {
    const { session, sink, owners, target } = this.ctx;
    const { dataset, sql } = session;
    const config = requireIndexConfig(dataset);
    const key = dataset.table.key;
    const range = this.range;
    const sent = (id: string) => {
      owners.set(id, this.#segment);
      this.#segmentIds.push(id);
      this.#live.docsSent++;
    };
    /** Returns what to await before the next document (sink.push), if anything: no await per document. */
    const add = (id: string, document: Document): Promise<void> | undefined => {
      sent(id);
      return sink.push(target, id, document);
    };
    let rowsInSegment = 0;
    /** A row read, with the documents it made; a checkpoint every checkpointRows rows. */
    const rowDone = (rowKey: string, count: number) => {
      this.#live.rowsRead++;
      if (count === 0) this.#live.rowsSkipped++;
      this.#lastKey = rowKey;
      // Per row: a batch read from staging holds whatever one socket read brought, thousands of small rows.
      if (++rowsInSegment >= this.ctx.checkpointRows) {
        this.#closeSegment(false);
        rowsInSegment = 0;
      }
    };
    try {
      const where = rangeClause({ key, type: range.keyType, lower: range.lower, upper: range.upper, after: range.checkpoint });
      const table = generationTable(dataset, range.generation);
      const mature = await matureJoin(session);
      // A projection (no toDocument): JSON text straight from COPY text, its id the key's text as below.
      const projection = isProjection(config.toDocument);
      if (projection) {
        for await (const documents of stagingDocuments(sql, session.env.databaseUrl!, table, this.#reader.signal, { key, columns: config.columns, mature, where })) {
          for (const { id, json } of documents) {
            sent(id);
            const room = sink.pushSource(target, id, json);
            if (room) await room;
            rowDone(id, 1);
          }
          this.ctx.collect(documents.length);
          if (this.#reader.signal.aborted) throw this.#reader.signal.reason;
        }
      } else {
        const reads = stagingRows(sql, session.env.databaseUrl!, table, this.#reader.signal, { key, columns: config.columns, mature, where, jsonKeys: config.jsonKeys });
        for await (const rows of reads) {
          for (const row of rows) {
            let produced = config.toDocument(row, indexContext);
            if (isPromiseLike(produced)) produced = await produced;
            let count = 0;
            if (produced !== null && Symbol.asyncIterator in produced) {
              for await (const document of produced as AsyncIterable<Document>) {
                count++;
                await add(String(document.id ?? row[key]), document);
              }
            } else {
              for (const document of produced === null ? [] : Array.isArray(produced) ? produced : [produced as Document]) {
                count++;
                const room = add(String(document.id ?? row[key]), document);
                if (room) await room;
              }
            }
            rowDone(String(row[key]), count);
          }
          this.ctx.collect(rows.length);
          if (this.#reader.signal.aborted) throw this.#reader.signal.reason;
        }
      }
      this.#closeSegment(true);
    } catch (error) {
      if (this.lost) return;
      throw error;
    }
  }

  /** Waits until the range's documents are answered and its last checkpoint (done) is written. */
  async finish(): Promise<RangeOutcome> {
    try {
      await this.#checkpoints;
    } catch (error) {
      if (!this.lost) throw error;
    } finally {
      this.#release();
    }
    if (!this.lost) {
      const c = this.#committed;
      this.ctx.session.log.info(`range ${this.range.number} done: ${c.rowsRead} rows read, ${c.docsSent} documents sent, ${c.docsFailed} failed`);
    }
    return { lost: this.lost, counts: this.#committed };
  }

  /** The worker stopped before the range was done: hand it back at its checkpoint (a signal) or mark it failed (an error). */
  async abandon(error: unknown): Promise<void> {
    this.#release();
    this.#abortReader(error);
    if (this.lost) return;
    const { sql, signal } = this.ctx.session;
    if (signal.aborted) return releaseRange(sql, this.range, this.ctx.holder);
    await failRange(sql, this.range, this.ctx.holder, error instanceof SluiceError ? error.toLine() : (error as Error).message);
  }

  /**
   * Ends a segment: once every document added so far is settled (the sink's `settled()` waits for
   * the requests in flight now, not for later ones), its rows are checkpointed.
   */
  #closeSegment(done: boolean): void {
    const { sink, owners, session, holder, leaseSeconds } = this.ctx;
    const mark = { ...this.#live, key: this.#lastKey, segment: this.#segment, ids: this.#segmentIds };
    this.#segment = new Segment(this.#failures);
    this.#segmentIds = [];
    const settled = sink.settled();
    this.#checkpoints = this.#checkpoints.then(async () => {
      await settled;
      for (const id of mark.ids) if (owners.get(id) === mark.segment) owners.delete(id);
      const committed = this.#committed;
      for (const [type, n] of Object.entries(mark.segment.failedByType)) committed.failedByType[type] = (committed.failedByType[type] ?? 0) + n;
      committed.docsFailed += mark.segment.failed;
      Object.assign(committed, { rowsRead: mark.rowsRead, rowsSkipped: mark.rowsSkipped, docsSent: mark.docsSent });
      await this.#failures?.flush();
      if (this.lost) return;
      if (!(await checkpointRange(session.sql, this.range, holder, leaseSeconds, mark.key, committed, done))) this.#loseLease();
    });
    this.#checkpoints.catch(() => {});
  }

  #loseLease(): void {
    if (this.lost) return;
    this.lost = true;
    this.ctx.session.log.warn(`range ${this.range.number}: lease lost to another worker; stopped reading it`);
    this.#abortReader(new LeaseLostError(this.range));
  }

  #abortReader(reason: unknown): void {
    if (!this.#reader.signal.aborted) this.#reader.abort(reason);
  }

  #release(): void {
    clearInterval(this.#renewal);
    this.ctx.stop.removeEventListener("abort", this.#onStop);
  }
}

/** Table datasets read no payloads (registry datasets, which do, are indexed by one process). */
const indexContext = {
  readBlob: async (sha256: string): Promise<Uint8Array> => {
    throw new Error(`this dataset has no blob store to read payload ${sha256} from`);
  },
};
