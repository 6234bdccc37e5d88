/**
 * The reload stage: downloads the payload of every staging row that needs one into the blob store.
 *
 *   staging __gN (keyset pages of rows to fetch) --HostScheduler--> download to a file → decode to
 *     UTF-8, a part at a time → blob store --batched UPDATE--> blob_sha256 / download_error per row
 *
 * A row needs a download when it has no blob yet and no recorded error; with `retryErrors`, rows
 * in error are tried again, except error 3 (not an HTTP URL), which no retry can fix. Memory stays
 * flat: at most a few pages of (id, url) pairs are queued and `concurrency` payloads are in flight,
 * each streamed through files (see download-payload.ts), never held whole.
 */
import type { BlobStore } from "../../adapters/blob-store.ts";
import { DownloadError, downloadErrorReason, HostScheduler, hostOf } from "../../adapters/http.ts";
import { ident, type Sql } from "../../adapters/postgres.ts";
import { countReason } from "../../jobs/counters.ts";
import { RowFailureLog } from "../../jobs/row-failures.ts";
import { startProgress } from "../../log/progress.ts";
import type { Generation } from "../../generations/store.ts";
import type { JobHandle } from "../job-runner.ts";
import { throwIfAborted, type Session } from "../session.ts";
import { downloadPayload } from "./download-payload.ts";

export interface ReloadOptions {
  /** Try rows whose last download failed again (never error 3, not an HTTP URL). @default false */
  retryErrors: boolean;
}

interface Outcome {
  id: string;
  blob_sha256: string | null;
  charset: string | null;
  payload_bytes: number | null;
  download_error: number | null;
  download_detail: string | null;
}

const PAGE = 500;
const FLUSH_EVERY = 250;

export async function reloadPayloads(session: Session, job: JobHandle, generation: Generation, store: BlobStore, options: ReloadOptions): Promise<void> {
  const { dataset, sql, signal } = session;
  const payload = dataset.payload!;
  const table = ident(generation.tableName);
  const urlColumn = ident(payload.column);
  const counters = job.counters;
  const failures = new RowFailureLog(sql, job.job.id);

  // A blob directory that is a file, read-only or full fails here, before any download.
  job.setTask(`checking the blob store at ${store.location}`, 0);
  const { swept } = await store.prepare();
  if (swept) {
    session.log.info(`removed ${swept} temp files that stopped processes left in ${store.location}`);
    countReason(counters, "blob_store", "swept_temp_files", swept);
  }

  job.setTask(`counting rows of ${generation.tableName} that need a download`, 0);
  const [c] = await sql.unsafe(`
    SELECT count(*)::int AS total,
      count(*) FILTER (WHERE blob_sha256 IS NOT NULL)::int AS downloaded,
      count(*) FILTER (WHERE blob_sha256 IS NULL AND download_error = ${DownloadError.notHttp})::int AS not_http,
      count(*) FILTER (WHERE blob_sha256 IS NULL AND download_error IS NOT NULL AND download_error <> ${DownloadError.notHttp})::int AS errored
    FROM ${table}`);
  counters.read = c!.total;
  if (c!.downloaded) countReason(counters, "skipped", "already_downloaded", c!.downloaded);
  if (c!.not_http) countReason(counters, "skipped", "not_http_url_before", c!.not_http);
  if (c!.errored && !options.retryErrors) countReason(counters, "skipped", "failed_before", c!.errored);
  const todo = c!.total - c!.downloaded - c!.not_http - (options.retryErrors ? 0 : c!.errored);

  job.setTask(`downloading ${todo.toLocaleString("en-US")} payloads (${payload.concurrency} at once, ${payload.perHost} per host)`, 1);
  const progress = startProgress({ label: `reload ${dataset.name}`, unit: "docs", total: todo });
  const scheduler = new HostScheduler(payload.concurrency, payload.perHost);
  const writer = new OutcomeWriter(sql, generation.tableName);
  let inFlight = 0;
  let wake: (() => void) | null = null;
  let failure: unknown = null;

  const fetchOne = async (id: string, url: string | null): Promise<Outcome> => {
    const got = await downloadPayload(store, url, {
      timeoutMs: payload.timeoutMs,
      maxRedirects: payload.maxRedirects,
      maxBytes: payload.maxBytes,
      signal,
      // Logged, not counted: the job's counters keep one outcome per row (written, skipped, failed).
      onRetry: (reason) => session.log.debug(`download of ${id} tried again: ${reason}`),
    });
    if (!got.ok) return { id, blob_sha256: null, charset: null, payload_bytes: got.bytes, download_error: got.code, download_detail: got.detail };
    return { id, blob_sha256: got.sha, charset: got.charset, payload_bytes: got.bytes, download_error: null, download_detail: null };
  };

  const settle = (outcome: Outcome, url: string | null) => {
    if (outcome.download_error === null) counters.written++;
    else {
      const reason = downloadErrorReason(outcome.download_error);
      countReason(counters, "failed", reason);
      failures.add({ key: outcome.id, reason, detail: `${String(url).slice(0, 300)}: ${outcome.download_detail}` });
    }
    writer.add(outcome);
    progress.tick();
    job.setPercent(1 + (progress.done / Math.max(1, todo)) * 97);
  };

  let last = "";
  try {
    for (;;) {
      throwIfAborted(signal);
      if (failure) throw failure;
      const rows = await sql.unsafe(
        `SELECT id, ${urlColumn}::text AS url FROM ${table}
         WHERE blob_sha256 IS NULL AND id > $1
           AND (download_error IS NULL OR ($2::boolean AND download_error <> ${DownloadError.notHttp}))
         ORDER BY id LIMIT ${PAGE}`,
        [last, options.retryErrors],
      );
      if (rows.length === 0) break;
      last = rows.at(-1)!.id as string;
      for (const row of rows) {
        const id = row.id as string;
        const url = row.url as string | null;
        inFlight++;
        scheduler
          .run(hostOf(url), () => fetchOne(id, url))
          .then((outcome) => settle(outcome, url), (error) => (failure ??= error))
          .finally(() => {
            inFlight--;
            wake?.();
          });
      }
      // Keep at most two pages queued: the next SELECT waits until the scheduler has room.
      while (inFlight > PAGE && !failure) await new Promise<void>((r) => (wake = r));
      await writer.flushIfFull(FLUSH_EVERY);
      await failures.flush();
    }
    while (inFlight > 0) await new Promise<void>((r) => (wake = r));
    if (failure) throw failure;
  } finally {
    while (inFlight > 0) await new Promise<void>((r) => (wake = r));
    await writer.flush().catch(() => {});
    await failures.flush().catch(() => {});
    progress.stop();
  }
}


/** Writes download outcomes back to staging, a batch per statement. */
class OutcomeWriter {
  #pending: Outcome[] = [];
  constructor(
    private readonly sql: Sql,
    private readonly table: string,
  ) {}

  add(outcome: Outcome): void {
    this.#pending.push(outcome);
  }

  async flushIfFull(size: number): Promise<void> {
    if (this.#pending.length >= size) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    const batch = this.#pending.splice(0);
    // A new payload needs validating again, so its validation state goes with the old payload.
    await this.sql.unsafe(
      `UPDATE ${ident(this.table)} t SET blob_sha256 = x.blob_sha256, charset = x.charset, payload_bytes = x.payload_bytes,
         downloaded_at = now(), download_error = x.download_error, download_detail = x.download_detail,
         validated_at = NULL, valid = NULL, report_id = NULL, activities = NULL, activities_invalid = NULL, cleaned_sha256 = NULL
       FROM json_to_recordset($1::text::json) AS x(id text, blob_sha256 text, charset text, payload_bytes bigint, download_error integer, download_detail text)
       WHERE t.id = x.id`,
      [JSON.stringify(batch)],
    );
  }
}
