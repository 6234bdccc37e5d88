/**
 * The sink side of indexing: documents in, `_bulk` requests out. It batches by document count and
 * bytes, keeps a number of requests in flight that adapts to the cluster (adaptive-limit.ts: grows
 * while answers keep their speed, halves on a 429, never above `concurrency`; the caller's `add`
 * waits when all are busy, which is the back-pressure that keeps memory flat), resends items Elasticsearch rejected as
 * overloaded, halves a request refused for its size (413) until the documents too large for the
 * cluster stand alone and fail as `too_large`, and counts every other item failure under its error
 * type. Nothing is dropped silently; every resend is counted by reason.
 *
 *   add(doc) → batch (N docs | B bytes) → sendBulk (≤ adaptive limit ≤ C in flight, retried) → counts per index
 *                                            └ 413: split in halves, down to one document
 */
import type { SearchClient } from "../../adapters/elasticsearch.ts";
import { type BulkItemResult, sendBulk } from "../../adapters/elasticsearch.ts";
import { SluiceError } from "../../errors.ts";
import { backoffDelay, RETRY_DEFAULTS, type RetryPolicy, sleep } from "../../retry.ts";
import { ByteBuilder } from "../../transforms/byte-builder.ts";
import { AdaptiveLimit } from "./adaptive-limit.ts";

export interface BulkSinkOptions {
  batchDocuments: number;
  batchBytes: number;
  /** The most requests in flight; how many are is adapted below it (adaptive-limit.ts). */
  concurrency: number;
  signal: AbortSignal;
  /** Whole requests answered 429/5xx or cut. @default RETRY_DEFAULTS.bulk */
  requestPolicy?: RetryPolicy;
  /** Items rejected with 429 are resent `attempts - 1` times before they count as failed. @default RETRY_DEFAULTS.bulkItems */
  itemPolicy?: RetryPolicy;
  /**
   * Called for every resend, with the reason it is counted under and how many documents it
   * carries again: `http_429`/`http_5xx`/`connection`/`timeout` (a whole request), `item_429`
   * (documents rejected one by one), `split_too_large` (a request halved after a 413).
   */
  onRetry?: (reason: string, documents: number) => void;
  onItemFailed?: (item: BulkItemResult) => void;
  onBatchDone?: (documents: number) => void;
  /** Documents go to an alias that must exist (`require_alias`): no write creates an index. */
  requireAlias?: boolean;
  /**
   * No request is sent before this settles (the target indices being created while the first
   * batches are read). If it rejects, nothing is sent, and its error is the sink's: the next `add`
   * or `close` throws it.
   */
  ready?: Promise<unknown>;
}

/** A batch being filled: the NDJSON body as bytes, where each document's two lines start, and its index. */
class PendingBatch {
  readonly body: ByteBuilder;
  starts: number[] = [];
  indices: string[] = [];

  /**
   * `capacity`: room for a whole batch at once, so that the body is not copied as it grows.
   * `reused`: how many sent bodies may be given back (`recycle`) to be filled again.
   */
  constructor(capacity = 256 * 1024, reused = 0) {
    this.body = new ByteBuilder(capacity, reused);
  }

  /** Gives a sent body back once nothing reads it (ByteBuilder.recycle). */
  recycle(sent: SentBatch): void {
    this.body.recycle(sent.body);
  }

  get documents(): number {
    return this.starts.length;
  }

  /** One document's lines, already encoded (a retry's). */
  add(lines: Uint8Array | string, index: string): void {
    this.#start(index);
    this.body.append(lines);
  }

  /** One document, encoded into the body at once. */
  addDocument(index: string, id: string, document: unknown): void {
    this.#start(index);
    appendBulkLines(this.body, index, id, document);
  }

  /** One document already in JSON (one line). */
  addSource(index: string, id: string, json: string | Uint8Array): void {
    this.#start(index);
    appendBulkSource(this.body, index, id, json);
  }

  #start(index: string): void {
    this.starts.push(this.body.length);
    this.indices.push(index);
  }

  /** Hands the batch over and starts the next in a fresh buffer of the same size. */
  take(): SentBatch {
    const sent = { body: this.body.take(), starts: this.starts, indices: this.indices };
    this.starts = [];
    this.indices = [];
    return sent;
  }
}

/** A batch handed to Elasticsearch; a document's lines can be cut out again for a resend. */
export interface SentBatch {
  body: Buffer;
  starts: number[];
  /** Each document's index, when known; else read from its action line. */
  indices?: string[];
  /** Set once the whole body was sent again (a retry): its buffer is then never reused. */
  resent?: boolean;
}

export interface IndexTally {
  sent: number;
  indexed: number;
  failed: number;
}

export class BulkSink {
  readonly failuresByType: Record<string, number> = {};
  readonly tallies = new Map<string, IndexTally>();
  #batch: PendingBatch;
  #inFlight = new Set<Promise<void>>();
  #fatal: unknown = null;
  readonly #limit: AdaptiveLimit;

  constructor(
    private readonly client: SearchClient,
    private readonly options: BulkSinkOptions,
  ) {
    this.#limit = new AdaptiveLimit(options.concurrency);
    // A batch closes at the first document past batchBytes: room for that plus a large document.
    // Bodies are reused once answered (one per request in flight, the one waiting for a slot, the one filling): a fresh
    // 5 MiB buffer per batch cost page faults and the allocator's returning pages to the kernel.
    this.#batch = new PendingBatch(Math.min(options.batchBytes + 256 * 1024, 64 * 1024 * 1024), options.concurrency + 2);
  }

  /** Requests allowed in flight now (adaptive-limit.ts). */
  get concurrency(): number {
    return this.#limit.current;
  }

  /** The fewest and most requests allowed in flight so far. */
  get concurrencyRange(): { lowest: number; highest: number } {
    return { lowest: this.#limit.lowest, highest: this.#limit.highest };
  }

  /** Queues one document; resolves when there is room for more. */
  async add(index: string, id: string, document: unknown): Promise<void> {
    await this.push(index, id, document);
  }

  /**
   * Queues one document as `add` does, but returns a promise only when the caller must wait for room
   * (a batch was dispatched), else undefined: for a loop over every document, where an `await` of
   * each async call cost ~0.4 µs a document (measured, tmp bench of the index loop's shape), ~4% of the stage's CPU.
   */
  push(index: string, id: string, document: unknown): Promise<void> | undefined {
    if (this.#fatal) throw this.#fatal;
    // Encoded into the batch's buffer at once: no per-document strings stay alive until the send.
    this.#batch.addDocument(index, id, document);
    return this.#added(index);
  }

  /** Queues one document given as its JSON text (one line, as copy-row-json.ts makes it); returns what to await as `push` does. */
  pushSource(index: string, id: string, json: string | Uint8Array): Promise<void> | undefined {
    if (this.#fatal) throw this.#fatal;
    this.#batch.addSource(index, id, json);
    return this.#added(index);
  }

  /** Counts a document queued; dispatches the batch once full, returning what to await then. */
  #added(index: string): Promise<void> | undefined {
    this.#tally(index).sent++;
    const full = this.#batch.documents >= this.options.batchDocuments || this.#batch.body.length >= this.options.batchBytes;
    return full ? this.#dispatch() : undefined;
  }

  /** Sends what is left and waits for every request. */
  async close(): Promise<void> {
    await this.#dispatch();
    await Promise.all(this.#inFlight);
    if (this.#fatal) throw this.#fatal;
  }

  /**
   * Resolves once every document added before the call has been answered (indexed, or counted
   * failed through onItemFailed): a checkpoint may then name them. Sends the part-filled batch.
   */
  async settled(): Promise<void> {
    await this.#dispatch();
    await Promise.all([...this.#inFlight]);
    if (this.#fatal) throw this.#fatal;
  }

  get failed(): number {
    return Object.values(this.failuresByType).reduce((a, b) => a + b, 0);
  }

  #tally(index: string): IndexTally {
    let t = this.tallies.get(index);
    if (!t) this.tallies.set(index, (t = { sent: 0, indexed: 0, failed: 0 }));
    return t;
  }

  async #dispatch(): Promise<void> {
    if (this.#batch.documents === 0) return;
    const batch = this.#batch.take();
    while (this.#inFlight.size >= this.#limit.current) await Promise.race(this.#inFlight);
    if (this.#fatal) throw this.#fatal;
    const ready = this.options.ready;
    const request = (ready ? ready.then(() => this.#send(batch, 0)) : this.#send(batch, 0))
      .then(() => {
        // A request resent whole may still have an abandoned attempt reading the body: not reused.
        if (!batch.resent) this.#batch.recycle(batch);
      })
      .catch((error) => {
        this.#fatal ??= error;
      })
      .finally(() => this.#inFlight.delete(request));
    this.#inFlight.add(request);
  }

  async #send(batch: SentBatch, resend: number): Promise<void> {
    const started = performance.now();
    let rejected = false;
    const outcome = await sendBulk(this.client, batch.body, {
      signal: this.options.signal,
      ...(this.options.requestPolicy ? { policy: this.options.requestPolicy } : {}),
      statusOnly: true,
      // Only appendBulkLines' and appendBulkSource's `index` actions are ever in a body.
      indexActionsOnly: true,
      requireAlias: this.options.requireAlias ?? false,
      onRetry: (reason) => {
        batch.resent = true;
        if (reason === "http_429") rejected = true;
        this.options.onRetry?.(reason, batch.starts.length);
      },
    });
    if ("tooLarge" in outcome) return this.#splitTooLarge(batch, resend);
    const retry = new PendingBatch();
    const itemPolicy = this.options.itemPolicy ?? RETRY_DEFAULTS.bulkItems;
    // An answer without errors is counted without its items; either way a 429 on the way (rejected) slows the sink.
    if ("allIndexed" in outcome) this.#allIndexed(batch);
    else this.#countItems(batch, outcome.items, resend < itemPolicy.attempts - 1, retry);
    if (rejected || retry.documents) this.#limit.onRejected();
    else this.#limit.onAnswer(performance.now() - started, batch.body.length, this.#inFlight.size);
    this.options.onBatchDone?.(batch.starts.length - retry.documents);
    if (retry.documents) {
      this.options.onRetry?.("item_429", retry.documents);
      await sleep(backoffDelay(resend + 1, itemPolicy), this.options.signal);
      await this.#send(retry.take(), resend + 1);
    }
  }

  /**
   * Elasticsearch refuses a whole body over its http.max_content_length with 413 and no reason. Halve
   * the batch until the documents that are too large on their own stand alone: those fail as
   * `too_large`, naming their key and size; the rest are indexed.
   */
  async #splitTooLarge(batch: SentBatch, resend: number): Promise<void> {
    if (batch.starts.length === 1) {
      const { index, id } = actionOf(batch.body);
      this.#fail({
        status: 413,
        id,
        index,
        error: { type: "too_large", reason: `the document alone makes a ${batch.body.length}-byte _bulk request, over what the cluster accepts (HTTP 413, http.max_content_length)` },
      });
      this.options.onBatchDone?.(1);
      return;
    }
    const half = Math.ceil(batch.starts.length / 2);
    this.options.onRetry?.("split_too_large", batch.starts.length);
    await this.#send(sliceBatch(batch, 0, half), resend);
    await this.#send(sliceBatch(batch, half, batch.starts.length), resend);
  }

  /** Each item of an answer counted under its document's index: indexed, kept in `retry` (a 429 while `resendsLeft`), or failed. */
  #countItems(batch: SentBatch, items: BulkItemResult[], resendsLeft: boolean, retry: PendingBatch): void {
    const blocked = items.findIndex((item) => item.error?.type === "cluster_block_exception");
    if (blocked !== -1) throw writesBlocked(actionOf(documentLines(batch, blocked)).index, items[blocked]!);
    items.forEach((item, i) => {
      if (item.status < 300) {
        this.#tally(indexOfDocument(batch, i)).indexed++;
        return;
      }
      const { index, id } = actionOf(documentLines(batch, i));
      if (item.status === 429 && resendsLeft) {
        retry.add(documentLines(batch, i), index);
        return;
      }
      this.#fail({ ...item, index, id });
    });
  }

  /** Every document of the batch counted indexed, under its index. */
  #allIndexed(batch: SentBatch): void {
    for (let i = 0; i < batch.starts.length; i++) this.#tally(indexOfDocument(batch, i)).indexed++;
  }

  #fail(item: BulkItemResult): void {
    const type = item.error?.type ?? `http_${item.status}`;
    this.failuresByType[type] = (this.failuresByType[type] ?? 0) + 1;
    this.#tally(item.index).failed++;
    this.options.onItemFailed?.(item);
  }
}

/**
 * Appends a document's two NDJSON lines for `_bulk`, its action and its source. Each line is
 * encoded on its own: one template string of both cost a copy of the document's JSON per document
 * (the concatenation flattened for encoding), about 0.9 ms CPU per 1,000 Openverse documents.
 */
export function appendBulkLines(body: ByteBuilder, index: string, id: string, document: unknown): void {
  appendBulkSource(body, index, id, JSON.stringify(document));
}

/** A document's two NDJSON lines, its source given as JSON of one line (text, or its UTF-8 bytes). */
export function appendBulkSource(body: ByteBuilder, index: string, id: string, json: string | Uint8Array): void {
  body.appendBytes(actionStart(index)).appendText(JSON.stringify(id)).appendBytes(ACTION_END);
  body.appendLine(json);
}

const ACTION_END = Buffer.from("}}\n");
/** `{"index":{"_index":…,"_id":` per index, encoded once (a process writes to a handful of indices). */
const actionStarts = new Map<string, Buffer>();
function actionStart(index: string): Buffer {
  let start = actionStarts.get(index);
  if (!start) {
    if (actionStarts.size >= 64) actionStarts.clear();
    actionStarts.set(index, (start = Buffer.from(`{"index":{"_index":${JSON.stringify(index)},"_id":`)));
  }
  return start;
}

/**
 * A block on the index refuses every write alike, so the stage ends at the first one instead of
 * resending each batch (a 429 at flood stage: about 15 s of resends per batch, for every batch of
 * the run) or counting every document failed. The one line says what holds the block.
 */
function writesBlocked(index: string, item: BulkItemResult): SluiceError {
  const reason = item.error?.reason ?? `HTTP ${item.status}`;
  const flood = /flood-stage|read-only-allow-delete/i.test(reason);
  return new SluiceError(`Elasticsearch refuses writes to ${index}: ${reason.replace(/; for more information, see \S+\]/, "]").replace(/;$/, "")}`, {
    hint: flood
      ? "free disk space on the cluster's nodes (Elasticsearch lifts the block itself once usage falls below the high watermark), then run again"
      : `find who set the block on ${index} (its index.blocks.* settings) and lift it, then run again`,
  });
}

/** Document `i`'s two lines (action and source) of a sent batch. */
function documentLines(batch: SentBatch, i: number): Buffer {
  return batch.body.subarray(batch.starts[i], batch.starts[i + 1] ?? batch.body.length);
}

/** The index document `i` of a sent batch goes to: as recorded, else from its action line. */
function indexOfDocument(batch: SentBatch, i: number): string {
  return batch.indices?.[i] ?? actionOf(documentLines(batch, i)).index;
}

/** Documents `from` to `to` (exclusive) of a batch, sharing its buffer. */
export function sliceBatch(batch: SentBatch, from: number, to: number): SentBatch {
  const start = batch.starts[from]!;
  const end = batch.starts[to] ?? batch.body.length;
  return {
    body: batch.body.subarray(start, end),
    starts: batch.starts.slice(from, to).map((s) => s - start),
    ...(batch.indices ? { indices: batch.indices.slice(from, to) } : {}),
  };
}

/** The target index and id from a document's action line (the first line of `body`). */
function actionOf(body: Buffer): { index: string; id: string } {
  const newline = body.indexOf(10);
  const action = JSON.parse(body.subarray(0, newline).toString("utf8")) as Record<string, { _index: string; _id: string }>;
  const op = Object.values(action)[0]!;
  return { index: op._index, id: op._id };
}
