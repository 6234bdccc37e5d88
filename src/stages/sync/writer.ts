/**
 * Writes source records into the live index through the index stage's BulkSink (batching, bounded
 * requests in flight, retries, 413 splitting), stamped with the sync fields, and watches failures
 * as the connectors' error monitor does: too many in a row, or too high a share of those written,
 * stops the sync at once instead of at the end.
 */
import type { SearchClient } from "../../adapters/elasticsearch.ts";
import type { Dataset, IndexContext } from "../../config/types.ts";
import { SluiceError } from "../../errors.ts";
import { countReason, type Counters } from "../../jobs/counters.ts";
import type { RowFailureLog } from "../../jobs/row-failures.ts";
import type { Logger } from "../../log/logger.ts";
import type { SourceRecord } from "../../sources/types.ts";
import { BulkSink } from "../index/bulk-sink.ts";
import type { WrittenList } from "./versions-mirror.ts";

/** The share of documents that must have been written before the error rate is judged. */
const ERROR_RATE_AFTER = 1000;

/**
 * The version stored in the index: the source's, and a short hash of the document builder's text,
 * so that a changed `toDocument` rewrites every document at the next full sync.
 */
export function storedVersion<R extends Pick<SourceRecord, "id" | "version">>(record: R, builderHash: string): R {
  return { ...record, version: storedVersionText(record.version, builderHash) };
}

/** storedVersion's text alone (the index stage's stamp, once a row). */
export function storedVersionText(version: string, builderHash: string): string {
  return `${version}@${builderHash}`;
}

export function builderHash(dataset: Dataset): string {
  return new Bun.CryptoHasher("sha256").update(String(dataset.index?.toDocument ?? "")).digest("hex").slice(0, 8);
}

/** The documents `toDocument` makes of a record (sync writes a record only when it makes exactly one). */
export async function documentsOf(dataset: Dataset, record: SourceRecord, context: IndexContext): Promise<Record<string, unknown>[]> {
  const produced = await dataset.index!.toDocument(record.doc, context);
  return (produced === null ? [] : Array.isArray(produced) ? produced : [produced]) as Record<string, unknown>[];
}

export interface WriterOptions {
  es: SearchClient;
  index: string;
  dataset: Dataset;
  job: number;
  counters: Counters;
  failures: RowFailureLog;
  log: Logger;
  signal: AbortSignal;
  context: IndexContext;
  onWritten?: (n: number) => void;
  /** Where the ids and versions sent are listed for the versions table (versions-mirror.ts). */
  written?: WrittenList;
}

export class DocumentWriter {
  readonly #sink: BulkSink;
  #consecutive = 0;
  #failedInBatch = 0;
  #done = 0;
  #failed = 0;
  #tripped: SluiceError | null = null;

  constructor(private readonly o: WriterOptions) {
    const config = o.dataset.index!;
    const { maxConsecutiveFailures, maxErrorRate } = o.dataset.sync;
    this.#sink = new BulkSink(o.es, {
      batchDocuments: config.batchDocuments,
      batchBytes: config.batchBytes,
      concurrency: config.concurrency,
      signal: o.signal,
      onRetry: (reason, documents) => {
        countReason(o.counters, "retries", reason);
        o.log.warn(`bulk request of ${documents} documents resent: ${reason}`);
      },
      onItemFailed: (item) => {
        this.#failedInBatch++;
        this.#failed++;
        this.#consecutive++;
        o.failures.add({ key: item.id, reason: item.error?.type ?? `http_${item.status}`, detail: item.error?.reason });
        if (this.#consecutive >= maxConsecutiveFailures) {
          this.#tripped ??= new SluiceError(`${this.#consecutive} documents failed in a row (sync.maxConsecutiveFailures is ${maxConsecutiveFailures}); stopped the sync`, {
            hint: "see `sluice job show` for the reasons; the cursor did not move, so the next sync retries them",
          });
        }
      },
      onBatchDone: (n) => {
        this.#done += n;
        if (n > this.#failedInBatch) this.#consecutive = 0;
        this.#failedInBatch = 0;
        if (this.#done >= ERROR_RATE_AFTER && this.#failed / this.#done > maxErrorRate) {
          this.#tripped ??= new SluiceError(`${this.#failed} of ${this.#done} documents failed, more than sync.maxErrorRate ${maxErrorRate}; stopped the sync`, {
            hint: "see `sluice job show` for the reasons; the cursor did not move, so the next sync retries them",
          });
        }
        o.onWritten?.(n);
      },
    });
  }

  get failedByType(): Record<string, number> {
    return this.#sink.failuresByType;
  }

  /** The document of a record, stamped; null when `toDocument` makes none. */
  async write(record: SourceRecord): Promise<boolean> {
    if (this.#tripped) throw this.#tripped;
    const documents = await documentsOf(this.o.dataset, record, this.o.context);
    if (documents.length === 0) {
      countReason(this.o.counters, "skipped", "not_indexable");
      return false;
    }
    if (documents.length > 1) {
      countReason(this.o.counters, "failed", "several_documents");
      await this.o.failures.add({ key: record.id, reason: "several_documents", detail: `toDocument made ${documents.length} documents; sync keeps one document per record` });
      return false;
    }
    // record.version is already the stored one (storedVersion), as the reconcile compared it.
    const stamped = { ...documents[0], _sluice_id: record.id, _sluice_version: record.version, _sluice_job: String(this.o.job) };
    const room = this.#sink.push(this.o.index, record.id, stamped);
    if (room) await room;
    this.o.written?.push(record.id, record.version);
    return true;
  }

  async close(): Promise<void> {
    await this.#sink.close();
    await this.o.written?.flush();
    if (this.#tripped) throw this.#tripped;
    for (const [type, n] of Object.entries(this.#sink.failuresByType)) countReason(this.o.counters, "failed", type, n);
    const tally = this.#sink.tallies.get(this.o.index);
    this.o.counters.written = tally?.indexed ?? 0;
  }
}
