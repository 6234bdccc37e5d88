/**
 * Where a sync pass's decisions go. The real sync writes to and deletes from the live index
 * (LiveOutput); its dry run (dry-run.ts) passes an output that only records, so that both run the
 * same passes (passes.ts) and cannot drift apart.
 */
import { type DeleteOutcome, deleteIds, type SearchClient } from "../../adapters/elasticsearch.ts";
import { SluiceError } from "../../errors.ts";
import { countReason } from "../../jobs/counters.ts";
import { RowFailureLog } from "../../jobs/row-failures.ts";
import type { SourceRecord } from "../../sources/types.ts";
import type { JobHandle } from "../job-runner.ts";
import type { Session } from "../session.ts";
import { WrittenList } from "./versions-mirror.ts";
import { DocumentWriter } from "./writer.ts";
import type { IndexContext } from "../../config/types.ts";

export type { DeleteOutcome };

export interface PassOutput {
  /** Writes a record's document (or records that it would); false when it makes none. */
  write(record: SourceRecord): Promise<boolean>;
  /** Ends the writing half, before any deletion: flushes, and applies index.maxFailures. */
  finishWrites(): Promise<void>;
  /** The deletion gate refused: the real sync throws `error`; a dry run records it and deletes nothing. */
  refused(error: SluiceError): Promise<void>;
  /** Deletes ids (or finds which the index holds). */
  deleteIds(ids: string[]): Promise<DeleteOutcome>;
  /** Told how many deletions the pass decided, out of how many documents, before the gate. */
  decided?(deletions: number, documents: number): void;
  /** Told of every id counted new, updated, deleted or unchanged (a dry run samples them). */
  counted?(kind: "new" | "updated" | "deleted" | "unchanged", id: string): void;
}

export const NO_BLOBS: IndexContext = {
  readBlob: async (sha256) => {
    throw new Error(`sync has no blob store to read payload ${sha256} from`);
  },
};

/** The live index, written through DocumentWriter (BulkSink) and listed for the versions table. */
export class LiveOutput implements PassOutput {
  readonly #writer: DocumentWriter;
  readonly #failures: RowFailureLog;

  constructor(
    private readonly session: Session,
    private readonly job: JobHandle,
    private readonly es: SearchClient,
    private readonly index: string,
    /** List what is written straight into the versions table (a pass that rewrites the whole index, after clearMirror). */
    direct = false,
  ) {
    this.#failures = new RowFailureLog(session.sql, job.job.id);
    const written = new WrittenList(session.sql, session.dataset.name, job.job.id, direct);
    this.#writer = new DocumentWriter({ es, index, dataset: session.dataset, job: job.job.id, counters: job.counters, failures: this.#failures, log: session.log, signal: session.signal, context: NO_BLOBS, written });
  }

  write(record: SourceRecord): Promise<boolean> {
    return this.#writer.write(record);
  }

  async finishWrites(): Promise<void> {
    await this.#writer.close();
    await this.#failures.flush();
    const failed = this.failed;
    const tolerated = this.session.dataset.index!.maxFailures;
    if (failed > tolerated) {
      throw new SluiceError(`${failed} documents failed to sync, more than the ${tolerated} tolerated (index.maxFailures); nothing was deleted and the cursor did not move`, {
        hint: `see \`sluice job show ${this.job.job.id}\` and sluice.row_failures; the next sync retries them`,
      });
    }
  }

  get failed(): number {
    return Object.values(this.#writer.failedByType).reduce((a, b) => a + b, 0);
  }

  async refused(error: SluiceError): Promise<void> {
    throw error;
  }

  deleteIds(ids: string[]): Promise<DeleteOutcome> {
    return deleteIds(this.es, this.index, ids, {
      signal: this.session.signal,
      onRetry: (reason, n) => {
        countReason(this.job.counters, "retries", `delete_${reason}`);
        this.session.log.warn(`bulk delete of ${n} ids resent: ${reason}`);
      },
    });
  }
}
