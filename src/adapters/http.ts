/**
 * Downloads payloads: one GET with a whole-download timeout, redirects followed by hand up to a
 * cap, a size cap enforced while streaming, and every failure classified the way IATI's refresher
 * stores it, so the number can live in a row's `download_error` column:
 *
 *   an HTTP status (404, 500, …) · 0 connection failed (refused, reset, DNS, timeout)
 *   1 TLS failed · 2 charset could not be determined (set by the caller after decoding)
 *   3 not an HTTP(S) URL (never retried) · 4 larger than the size cap · 5 too many redirects
 *
 * Codes 4 and 5 are sluice's own: the refresher folds them into 0.
 *
 * A transient failure (connection refused or reset, 429, 502, 503, 504) is tried again under the
 * shared retry policy (src/retry.ts); a timeout is not, since each try would cost the whole timeout.
 */
import { open } from "node:fs/promises";
import { RETRY_DEFAULTS, type RetryPolicy, withRetries } from "../retry.ts";

export const DownloadError = {
  connection: 0,
  tls: 1,
  charset: 2,
  notHttp: 3,
  tooLarge: 4,
  tooManyRedirects: 5,
} as const;

const DOWNLOAD_ERROR_REASONS: Readonly<Record<number, string>> = {
  [DownloadError.connection]: "connection_failed",
  [DownloadError.tls]: "tls_failed",
  [DownloadError.charset]: "charset_unknown",
  [DownloadError.notHttp]: "not_http_url",
  [DownloadError.tooLarge]: "too_large",
  [DownloadError.tooManyRedirects]: "too_many_redirects",
};

/** The reason a failure is counted under in the job's counters. */
export function downloadErrorReason(code: number): string {
  return DOWNLOAD_ERROR_REASONS[code] ?? `http_${code}`;
}

export interface DownloadOptions {
  /** For each try. */
  timeoutMs: number;
  maxRedirects: number;
  maxBytes: number;
  signal?: AbortSignal;
  /** @default RETRY_DEFAULTS.download */
  policy?: RetryPolicy;
  /** Called before each new try with the reason it is counted under (`http_503`, `connection_failed`). */
  onRetry?: (reason: string) => void;
}

export type DownloadResult =
  | { ok: true; bytes: Uint8Array; contentType: string | null; finalUrl: string }
  | { ok: false; code: number; detail: string };

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

const TRANSIENT_STATUSES = new Set([429, 502, 503, 504]);

/** Downloads `url`, trying again after a transient failure; never throws for a failed download, only when `options.signal` aborts. */
export async function download(url: string | null, options: DownloadOptions): Promise<DownloadResult> {
  return withDownloadRetries(url, options, readCapped);
}

/** A local file could not be written while downloading: the disk's problem, not the server's. */
export class BodyWriteError extends Error {
  constructor(override readonly cause: unknown) {
    super(`cannot write the download: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

export type FileDownloadResult = { ok: true; bytes: number; contentType: string | null; finalUrl: string } | { ok: false; code: number; detail: string };

/**
 * {@link download}, written to the file at `path` as it arrives (each try starts it afresh) instead
 * of held: a payload near the cap costs a chunk of memory, not its size. The file is left for the
 * caller to remove, whatever the outcome.
 */
export async function downloadToFile(url: string | null, path: string, options: DownloadOptions & { afterChunk?: () => void }): Promise<FileDownloadResult> {
  const got = await withDownloadRetries(url, options, async (res, maxBytes) => {
    // Errors of the local file are not the server's: they must not be retried or counted as a download's.
    const local = async <T>(write: () => T | Promise<T>): Promise<T> => {
      try {
        return await write();
      } catch (error) {
        throw new BodyWriteError(error);
      }
    };
    // node:fs, not Bun's FileSink: a FileSink reports a full disk only as an unhandled error.
    const file = await local(() => open(path, "w"));
    let size = 0;
    try {
      if (res.body) {
        for await (const chunk of res.body) {
          size += chunk.byteLength;
          if (size > maxBytes) return null;
          await local(() => file.write(chunk));
          options.afterChunk?.();
        }
      }
    } finally {
      await local(() => file.close());
    }
    return size;
  });
  return got;
}

async function withDownloadRetries<T>(
  url: string | null,
  options: DownloadOptions,
  readBody: (res: Response, maxBytes: number) => Promise<T | null>,
): Promise<{ ok: true; bytes: T; contentType: string | null; finalUrl: string } | { ok: false; code: number; detail: string }> {
  type Result = { ok: true; bytes: T; contentType: string | null; finalUrl: string } | { ok: false; code: number; detail: string };
  let last: Result | null = null;
  const outcome = await withRetries<Result>(
    async () => {
      const got = (last = await downloadOnce(url, options, readBody));
      return !got.ok && isTransient(got) ? { retry: downloadErrorReason(got.code) } : { done: got };
    },
    { policy: options.policy ?? RETRY_DEFAULTS.download, signal: options.signal, onRetry: (_n, reason) => options.onRetry?.(reason) },
  );
  return "done" in outcome ? outcome.done : last!;
}

function isTransient(failure: { code: number; detail: string }): boolean {
  return TRANSIENT_STATUSES.has(failure.code) || (failure.code === DownloadError.connection && !failure.detail.startsWith("timed out"));
}

async function downloadOnce<T>(
  url: string | null,
  options: DownloadOptions,
  readBody: (res: Response, maxBytes: number) => Promise<T | null>,
): Promise<{ ok: true; bytes: T; contentType: string | null; finalUrl: string } | { ok: false; code: number; detail: string }> {
  let current = httpUrl(url);
  if (!current) return { ok: false, code: DownloadError.notHttp, detail: `not an HTTP(S) URL: ${String(url).slice(0, 200)}` };
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  try {
    for (let redirects = 0; ; redirects++) {
      const res = await fetch(current, { redirect: "manual", signal, headers: { "accept-encoding": "gzip, deflate" } });
      if (REDIRECTS.has(res.status)) {
        await res.body?.cancel().catch(() => {});
        const location = res.headers.get("location");
        if (!location) return { ok: false, code: res.status, detail: `HTTP ${res.status} without a Location header` };
        if (redirects >= options.maxRedirects) {
          return { ok: false, code: DownloadError.tooManyRedirects, detail: `more than ${options.maxRedirects} redirects (last to ${location.slice(0, 200)})` };
        }
        const next = httpUrl(new URL(location, current).toString());
        if (!next) return { ok: false, code: DownloadError.notHttp, detail: `redirected to a non-HTTP URL: ${location.slice(0, 200)}` };
        current = next;
        continue;
      }
      if (res.status < 200 || res.status > 299) {
        await res.body?.cancel().catch(() => {});
        return { ok: false, code: res.status, detail: `HTTP ${res.status} ${res.statusText}`.trim() };
      }
      const declared = Number(res.headers.get("content-length"));
      if (Number.isFinite(declared) && declared > options.maxBytes) {
        await res.body?.cancel().catch(() => {});
        return { ok: false, code: DownloadError.tooLarge, detail: `Content-Length ${declared} is over the ${options.maxBytes}-byte cap` };
      }
      const bytes = await readBody(res, options.maxBytes);
      if (!bytes) return { ok: false, code: DownloadError.tooLarge, detail: `body is over the ${options.maxBytes}-byte cap` };
      return { ok: true, bytes, contentType: res.headers.get("content-type"), finalUrl: current };
    }
  } catch (error) {
    if (error instanceof BodyWriteError) throw error;
    if (options.signal?.aborted) throw options.signal.reason;
    if (timeout.aborted) return { ok: false, code: DownloadError.connection, detail: `timed out after ${options.timeoutMs} ms` };
    return classifyFetchError(error);
  }
}

function httpUrl(raw: string | null): string | null {
  if (!raw) return null;
  try {
    const url = new URL(raw.trim());
    return url.protocol === "http:" || url.protocol === "https:" ? url.toString() : null;
  } catch {
    return null;
  }
}

async function readCapped(res: Response, maxBytes: number): Promise<Uint8Array | null> {
  if (!res.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

const TLS_CODE = /CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|HOSTNAME_MISMATCH/i;

/** Bun's fetch errors carry a `code` (ECONNREFUSED, CERT_HAS_EXPIRED, …); TLS ones are 1, the rest 0. */
export function classifyFetchError(error: unknown): { ok: false; code: number; detail: string } {
  const code = String((error as { code?: unknown })?.code ?? "");
  const message = (error as Error)?.message ?? String(error);
  if (TLS_CODE.test(code) || /certificate|tls|ssl/i.test(message)) return { ok: false, code: DownloadError.tls, detail: `${code || "TLS"}: ${message}`.slice(0, 500) };
  return { ok: false, code: DownloadError.connection, detail: `${code ? `${code}: ` : ""}${message}`.slice(0, 500) };
}

/**
 * Runs tasks with at most `concurrency` at once and at most `perHost` per host, picking hosts in
 * turn so that one slow host with many documents cannot hold every slot.
 */
export class HostScheduler {
  #active = 0;
  #perHost = new Map<string, number>();
  #queues = new Map<string, (() => void)[]>();
  #waiting = 0;
  constructor(
    private readonly concurrency: number,
    private readonly perHost: number,
  ) {}

  /** Tasks queued or running. */
  get pending(): number {
    return this.#waiting + this.#active;
  }

  run<T>(host: string, task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.#active++;
        this.#perHost.set(host, (this.#perHost.get(host) ?? 0) + 1);
        task().then(resolve, reject).finally(() => {
          this.#active--;
          const n = this.#perHost.get(host)! - 1;
          if (n === 0) this.#perHost.delete(host);
          else this.#perHost.set(host, n);
          this.#dispatch();
        });
      };
      const queue = this.#queues.get(host);
      if (queue) queue.push(start);
      else this.#queues.set(host, [start]);
      this.#waiting++;
      this.#dispatch();
    });
  }

  #dispatch(): void {
    // Map iteration order is insertion order; a host that gets a slot moves to the back.
    for (const [host, queue] of this.#queues) {
      if (this.#active >= this.concurrency) return;
      if ((this.#perHost.get(host) ?? 0) >= this.perHost) continue;
      const start = queue.shift()!;
      this.#queues.delete(host);
      if (queue.length) this.#queues.set(host, queue);
      this.#waiting--;
      start();
    }
  }
}

/** The host a URL's downloads are limited by; "" for URLs that are not HTTP. */
export function hostOf(url: string | null): string {
  try {
    return url ? new URL(url).host : "";
  } catch {
    return "";
  }
}
