/**
 * The sink side of indexing: documents in, `_bulk` requests out. It batches by document count and
 * bytes, keeps a bounded number of requests in flight (the caller's `add` waits when all are busy,
 * which is the back-pressure that keeps memory flat), resends items Elasticsearch rejected as
 * overloaded, and counts every other item failure under its error type. Nothing is dropped silently.
 *
 *   add(doc) → batch (N docs | B bytes) → sendBulk (≤ C in flight, retried) → counts per index
 */
import type { SearchClient } from "../../adapters/elasticsearch.ts";
import { type BulkItemResult, sendBulk } from "../../adapters/elasticsearch.ts";
import { ByteBuilder } from "../../transforms/byte-builder.ts";

export interface BulkSinkOptions {
  batchDocuments: number;
  batchBytes: number;
  concurrency: number;
  signal: AbortSignal;
  /** Resends of items rejected with 429 before they count as failed. @default 5 */
  itemRetries?: number;
  onRetry?: (reason: string) => void;
  onItemFailed?: (item: BulkItemResult) => void;
  onBatchDone?: (documents: number) => void;
}

/** A batch being filled: the NDJSON body as bytes, and where each document's two lines start. */
class PendingBatch {
  readonly body = new ByteBuilder(256 * 1024);
  readonly starts: number[] = [];

  get documents(): number {
    return this.starts.length;
  }

  add(lines: Uint8Array | string): void {
    this.starts.push(this.body.length);
    this.body.append(lines);
  }
}

/** A batch handed to Elasticsearch; a document's lines can be cut out again for a resend. */
interface SentBatch {
  body: Buffer;
  starts: number[];
}

export interface IndexTally {
  sent: number;
  indexed: number;
  failed: number;
}

export class BulkSink {
  readonly failuresByType: Record<string, number> = {};
  readonly tallies = new Map<string, IndexTally>();
  #batch = new PendingBatch();
  #inFlight = new Set<Promise<void>>();
  #fatal: unknown = null;

  constructor(
    private readonly client: SearchClient,
    private readonly options: BulkSinkOptions,
  ) {}

  /** Queues one document; resolves when there is room for more. */
  async add(index: string, id: string, document: unknown): Promise<void> {
    if (this.#fatal) throw this.#fatal;
    // Encoded into the batch's buffer at once: no per-document strings stay alive until the send.
    this.#batch.add(`{"index":{"_index":${JSON.stringify(index)},"_id":${JSON.stringify(id)}}}\n${JSON.stringify(document)}\n`);
    this.#tally(index).sent++;
    if (this.#batch.documents >= this.options.batchDocuments || this.#batch.body.length >= this.options.batchBytes) {
      await this.#dispatch();
    }
  }

  /** Sends what is left and waits for every request. */
  async close(): Promise<void> {
    await this.#dispatch();
    await Promise.all(this.#inFlight);
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
    const batch: SentBatch = { body: this.#batch.body.take(), starts: this.#batch.starts };
    this.#batch = new PendingBatch();
    while (this.#inFlight.size >= this.options.concurrency) await Promise.race(this.#inFlight);
    if (this.#fatal) throw this.#fatal;
    const request = this.#send(batch, 0)
      .catch((error) => {
        this.#fatal ??= error;
      })
      .finally(() => this.#inFlight.delete(request));
    this.#inFlight.add(request);
  }

  async #send(batch: SentBatch, resend: number): Promise<void> {
    const items = await sendBulk(this.client, batch.body, {
      signal: this.options.signal,
      onRetry: (_attempt, reason) => this.options.onRetry?.(reason),
    });
    const retry = new PendingBatch();
    items.forEach((item, i) => {
      if (item.status < 300) {
        this.#tally(item.index).indexed++;
        return;
      }
      if (item.status === 429 && resend < (this.options.itemRetries ?? 5)) {
        retry.add(batch.body.subarray(batch.starts[i], batch.starts[i + 1] ?? batch.body.length));
        return;
      }
      const type = item.error?.type ?? `http_${item.status}`;
      this.failuresByType[type] = (this.failuresByType[type] ?? 0) + 1;
      this.#tally(item.index).failed++;
      this.options.onItemFailed?.(item);
    });
    this.options.onBatchDone?.(batch.starts.length - retry.documents);
    if (retry.documents) {
      this.options.onRetry?.(`${retry.documents} documents rejected with 429`);
      await Bun.sleep(Math.random() * Math.min(10_000, 500 * 2 ** resend));
      await this.#send({ body: retry.body.take(), starts: retry.starts }, resend + 1);
    }
  }
}
