/**
 * Streams rows from the upstream database into the staging table: COPY TO STDOUT on one end,
 * COPY FROM STDIN on the other, with the row transform in between. Memory stays bounded: one
 * upstream chunk and one output buffer at a time, and writes wait for the socket to drain.
 *
 *   upstream COPY → line splitter → transformCopyLine → buffer (256 KiB) → staging COPY
 *
 * When every column has its upstream type (RowPlan.binary), both ends speak COPY binary instead:
 * the servers then neither print nor parse a single value, which is most of a COPY's CPU, and the
 * tuples are cut by their length words instead of by escapes.
 *
 * Staging is created in the same transaction as its COPY, so the rows can be written frozen
 * (COPY FREEZE): the index builds and ANALYZE that follow then read the table without first
 * rewriting every page to set hint bits. A failed copy rolls back and leaves no table behind.
 */
import { once } from "node:events";
import type { Readable, Writable } from "node:stream";
import { ident, isServerAway, type Sql } from "../../adapters/postgres.ts";
import { SluiceError } from "../../errors.ts";
import { periodicCollector } from "../memory.ts";
import { ByteBuilder } from "../../transforms/byte-builder.ts";
import {
  type BinaryTuple,
  COPY_BINARY_HEADER,
  COPY_BINARY_TRAILER,
  CopyBinaryTupleReader,
  writeBinaryTuple,
} from "../../transforms/copy-binary.ts";
import { CopyLineBuffer } from "../../transforms/copy-text.ts";
import { isValidUtf8 } from "../../transforms/pg-types.ts";
import { transformBinaryTuple } from "./binary-row-transform.ts";
import { planIsPassThrough, type RowOutcome, type RowPlan, transformCopyLine } from "./row-transform.ts";

const FLUSH_BYTES = 256 * 1024;
const LF = 0x0a;

export interface CopyPipeOptions {
  upstream: Sql;
  api: Sql;
  /** Creates the (empty) staging table; runs in the COPY's transaction. */
  createStaging: string;
  /** The SELECT whose rows are copied; its columns are in staging order. */
  select: string;
  staging: string;
  columns: string[];
  plan: RowPlan;
  /** The upstream may hold bytes that are not UTF-8 (SQL_ASCII); check each row. */
  checkUtf8: boolean;
  /**
   * Whether the two servers may exchange COPY binary (same major version): send/receive formats
   * are meant for "similar server versions", so across majors the rows go as text.
   */
  binaryAllowed: boolean;
  signal: AbortSignal;
  onProgress(rows: number): void;
  onFailure(outcome: Extract<RowOutcome, { kind: "failed" }>): void;
}

export interface CopyPipeResult {
  read: number;
  written: number;
  failed: Record<string, number>;
  cleaned: Record<string, number>;
}

/**
 * Binary when the plan allows it (same types both ends, portable formats), the servers share a
 * major version, and no row needs its bytes checked for UTF-8; text otherwise.
 */
export function copyFormat(plan: RowPlan, options: { checkUtf8: boolean; binaryAllowed: boolean }): "binary" | "text" {
  return plan.binary !== null && options.binaryAllowed && !options.checkUtf8 ? "binary" : "text";
}

export async function copyUpstreamToStaging(options: CopyPipeOptions): Promise<CopyPipeResult> {
  let pipeError: unknown = null;
  try {
    return (await options.api.begin(async (tx) => {
      await tx.unsafe(options.createStaging);
      try {
        return await streamRows(tx as unknown as Sql, options);
      } catch (error) {
        pipeError = error;
        throw error;
      }
    })) as CopyPipeResult;
  } catch (error) {
    // A COPY cut mid-stream can leave the staging connection in copy mode for a moment, and the
    // transaction's ROLLBACK then fails (COPY_IN_PROGRESS); the copy's own error says what happened.
    if (pipeError !== null && error !== pipeError) throw pipeError;
    throw error;
  }
}

/** The COPY pipe alone, into a table that `api` (a transaction) has already created: `--dry-run` copies into a temporary one. */
export async function streamRows(api: Sql, options: CopyPipeOptions): Promise<CopyPipeResult> {
  const { upstream, plan, signal } = options;
  const result: CopyPipeResult = { read: 0, written: 0, failed: {}, cleaned: {} };
  const columnList = options.columns.map(ident).join(", ");
  const binary = copyFormat(plan, options) === "binary";
  const format = binary ? "FORMAT binary, " : "";
  const writable = (await api.unsafe(`COPY ${ident(options.staging)} (${columnList}) FROM STDIN (${format}FREEZE)`).writable()) as Writable;
  let readable: Readable;
  try {
    readable = await upstream.unsafe(`COPY (${options.select}) TO STDOUT${binary ? " (FORMAT binary)" : ""}`).readable();
  } catch (error) {
    // Refused before its first row (a column the role may not read, a cancel while it planned): the
    // staging COPY is already open, and until it is failed the transaction's ROLLBACK waits behind it.
    writable.on("error", () => {});
    writable.destroy(error instanceof Error ? error : new Error(String(error)));
    throw copyError(error, false);
  }
  const rows = binary ? binaryRows(options, result) : planIsPassThrough(plan) && !options.checkUtf8 ? passThroughRows(result) : textRows(options, result);
  let writeError: Error | null = null;
  const failed = new Promise<never>((_, reject) => {
    // Failed before this listener (patches/postgres@3.4.9.patch keeps such an error in `errored`).
    if (writable.errored) {
      writeError = writable.errored;
      reject(writable.errored);
    }
    writable.on("error", (error) => {
      writeError = error;
      reject(error);
    });
  });
  failed.catch(() => {});
  /** Writes; returns a promise only when the socket is full and the stream must wait for it. */
  const write = (bytes: Uint8Array): Promise<unknown> | undefined => {
    if (writeError) throw writeError;
    // Once written out, the buffer can take the next rows.
    if (!writable.write(bytes, () => rows.recycle(bytes))) return Promise.race([once(writable, "drain"), failed]);
    return undefined;
  };
  const onAbort = () => readable.destroy(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const collect = periodicCollector();
    await forEachChunk(readable, (chunk) => {
      collect();
      options.onProgress(rows.push(chunk));
      const bytes = rows.ready(FLUSH_BYTES);
      return bytes ? write(bytes) : undefined;
    });
    const last = rows.end();
    if (last) await write(last);
    if (signal.aborted) throw signal.reason;
    writable.end();
    await Promise.race([once(writable, "finish"), failed]);
    return result;
  } catch (error) {
    readable.destroy();
    // Destroying the writable sends CopyFail, so the server drops the half-written COPY.
    writable.destroy(error instanceof Error ? error : new Error(String(error)));
    if (signal.aborted) throw signal.reason;
    throw copyError(error, writeError !== null && error === writeError);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/**
 * Calls `handle` for each chunk, synchronously in the stream's 'data' event. postgres.js pushes one
 * chunk per row; iterating with `for await` would cost a promise and a socket pause/resume cycle
 * for most of them. When `handle` returns a promise (the staging socket is full), the stream
 * pauses until it settles.
 */
export function forEachChunk(readable: Readable, handle: (chunk: Uint8Array) => Promise<unknown> | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    // The server's error came in the same read as the COPY's start, before anyone could listen:
    // postgres.js (patches/postgres@3.4.9.patch) keeps it in `errored`, and no event will follow.
    if (readable.errored) return reject(readable.errored);
    let settled = false;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      readable.off("data", onData);
      reject(error);
    };
    const onData = (chunk: Uint8Array) => {
      let waiting: Promise<unknown> | undefined;
      try {
        waiting = handle(chunk);
      } catch (error) {
        fail(error);
        return;
      }
      if (!waiting) return;
      readable.pause();
      waiting.then(() => settled || readable.resume(), fail);
    };
    readable.on("data", onData);
    // `on`, not `once`: a connection cut mid-COPY can emit a second error (a write to the dead socket).
    readable.on("error", fail);
    readable.once("end", () => {
      if (settled) return;
      settled = true;
      resolve();
    });
    readable.once("close", () => fail(new Error("the stream closed before its end")));
  });
}

/** Turns upstream chunks into COPY FROM bytes; counts into the result as it goes. */
interface RowStream {
  /** Feeds one chunk; returns how many rows it completed. */
  push(chunk: Uint8Array): number;
  /** The bytes built so far, once they reach `atLeast`; else null. */
  ready(atLeast: number): Uint8Array | null;
  /** Ends the stream; returns the last bytes to write. */
  end(): Uint8Array | null;
  /** Takes back bytes from `ready` or `end` once they are written. */
  recycle(bytes: Uint8Array): void;
}

/** Rows that need no work: the upstream bytes go out as they came. */
function passThroughRows(result: CopyPipeResult): RowStream {
  let pending: Uint8Array | null = null;
  return {
    push(chunk) {
      const rows = countLines(chunk);
      result.read += rows;
      result.written += rows;
      pending = chunk;
      return rows;
    },
    ready() {
      const bytes = pending;
      pending = null;
      return bytes;
    },
    end: () => null,
    // The upstream's own chunks: nothing to reuse.
    recycle() {},
  };
}

function textRows(options: CopyPipeOptions, result: CopyPipeResult): RowStream {
  const decoder = new TextDecoder();
  const lines = new CopyLineBuffer();
  const out = new ByteBuilder(FLUSH_BYTES * 2);
  const handle = (bytes: Uint8Array) => {
    result.read++;
    if (options.checkUtf8 && !isValidUtf8(bytes)) {
      const text = decoder.decode(bytes);
      countFailure(result, { kind: "failed", reason: "invalid_utf8", key: text.split("\t")[options.plan.keyIndex] ?? null }, options);
      return;
    }
    const outcome = transformCopyLine(decoder.decode(bytes), options.plan);
    if (outcome.kind === "failed") {
      countFailure(result, outcome, options);
      return;
    }
    result.written++;
    if (outcome.cleaned.length === 0) {
      // Most rows need no change: their upstream bytes go out as they came, with no re-encoding.
      out.appendLine(bytes);
      return;
    }
    countCleaned(result, outcome.cleaned);
    out.appendLine(outcome.line);
  };
  return {
    push(chunk) {
      const batch = lines.push(chunk);
      for (const line of batch) handle(line);
      return batch.length;
    },
    ready: (atLeast) => (out.length >= atLeast ? out.take() : null),
    end() {
      const last = lines.end();
      if (last) handle(last);
      return out.length ? out.take() : null;
    },
    recycle: (bytes) => out.recycle(bytes),
  };
}

function binaryRows(options: CopyPipeOptions, result: CopyPipeResult): RowStream {
  const tuples = new CopyBinaryTupleReader();
  const out = new ByteBuilder(FLUSH_BYTES * 2);
  out.appendBytes(COPY_BINARY_HEADER);
  const handle = (tuple: BinaryTuple) => {
    result.read++;
    const outcome = transformBinaryTuple(tuple, options.plan);
    if (outcome.kind === "failed") {
      countFailure(result, outcome, options);
      return;
    }
    result.written++;
    if (outcome.replaced === null) {
      out.appendBytes(tuple.bytes);
      return;
    }
    countCleaned(result, outcome.cleaned);
    writeBinaryTuple(out, tuple, outcome.replaced);
  };
  return {
    push: (chunk) => tuples.push(chunk, handle),
    ready: (atLeast) => (out.length >= atLeast ? out.take() : null),
    end() {
      tuples.end();
      return out.appendBytes(COPY_BINARY_TRAILER).take();
    },
    recycle: (bytes) => out.recycle(bytes),
  };
}

function countFailure(result: CopyPipeResult, failure: Extract<RowOutcome, { kind: "failed" }>, options: CopyPipeOptions): void {
  result.failed[failure.reason] = (result.failed[failure.reason] ?? 0) + 1;
  options.onFailure(failure);
}

function countCleaned(result: CopyPipeResult, rules: readonly string[]): void {
  for (const rule of rules) result.cleaned[rule] = (result.cleaned[rule] ?? 0) + 1;
}

function copyError(error: unknown, onWriteSide: boolean): SluiceError {
  const message = (error as Error)?.message ?? String(error);
  if (onWriteSide) {
    return new SluiceError(`writing to the staging table failed: ${message}`, {
      hint: "check DATABASE_URL's server and its log; production is untouched, run again",
      cause: error,
    });
  }
  // query_canceled: the connection is fine; someone (pg_cancel_backend, a pooler, a timeout sluice does not set) stopped the statement.
  if ((error as { code?: string })?.code === "57014") {
    return new SluiceError(`the upstream server cancelled the COPY: ${message}`, {
      hint: "see UPSTREAM_DATABASE_URL's server log for who cancelled it (not a role's statement_timeout: sluice turns those off for its own sessions); production is untouched, run again",
      cause: error,
    });
  }
  if (isStatementError(error)) {
    const { code } = error as { code: string };
    return new SluiceError(`the upstream server refused the COPY (${code}): ${message}`, {
      hint: "check source.table or source.query and that UPSTREAM_DATABASE_URL's role may read every column it copies; production is untouched",
      cause: error,
    });
  }
  return new SluiceError(`the upstream connection was lost during COPY: ${message}`, {
    hint: "check UPSTREAM_DATABASE_URL's server; production is untouched, run again",
    cause: error,
  });
}

/** An ERROR the server raised for the statement alone (a privilege, a query source's bad cast): not a FATAL, nor a server that went away. */
function isStatementError(error: unknown): boolean {
  return (error as { severity?: unknown })?.severity === "ERROR" && !isServerAway(error);
}

/** COPY text output escapes LF inside values, so every LF byte ends a row. */
function countLines(chunk: Uint8Array): number {
  let n = 0;
  let at = chunk.indexOf(LF);
  while (at !== -1) {
    n++;
    at = chunk.indexOf(LF, at + 1);
  }
  return n;
}
