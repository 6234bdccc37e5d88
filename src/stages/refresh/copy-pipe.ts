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
import type { Writable } from "node:stream";
import { ident, type Sql } from "../../adapters/postgres.ts";
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

export async function copyUpstreamToStaging(options: CopyPipeOptions): Promise<CopyPipeResult> {
  return (await options.api.begin(async (tx) => {
    await tx.unsafe(options.createStaging);
    return streamRows(tx as unknown as Sql, options);
  })) as CopyPipeResult;
}

async function streamRows(api: Sql, options: CopyPipeOptions): Promise<CopyPipeResult> {
  const { upstream, plan, signal } = options;
  const result: CopyPipeResult = { read: 0, written: 0, failed: {}, cleaned: {} };
  const columnList = options.columns.map(ident).join(", ");
  const binary = plan.binary !== null && !options.checkUtf8;
  const format = binary ? "FORMAT binary, " : "";
  const writable = (await api.unsafe(`COPY ${ident(options.staging)} (${columnList}) FROM STDIN (${format}FREEZE)`).writable()) as Writable;
  const readable = await upstream.unsafe(`COPY (${options.select}) TO STDOUT${binary ? " (FORMAT binary)" : ""}`).readable();
  let writeError: Error | null = null;
  const failed = new Promise<never>((_, reject) => {
    writable.on("error", (error) => {
      writeError = error;
      reject(error);
    });
  });
  failed.catch(() => {});
  const write = async (bytes: Uint8Array) => {
    if (writeError) throw writeError;
    if (!writable.write(bytes)) await Promise.race([once(writable, "drain"), failed]);
  };
  const onAbort = () => readable.destroy(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    if (binary) {
      await transformBinaryStream(readable as AsyncIterable<Uint8Array>, write, options, result);
    } else if (planIsPassThrough(plan) && !options.checkUtf8) {
      const collect = periodicCollector();
      for await (const chunk of readable as AsyncIterable<Uint8Array>) {
        collect();
        const rows = countLines(chunk);
        result.read += rows;
        result.written += rows;
        options.onProgress(rows);
        await write(chunk);
      }
    } else {
      await transformStream(readable as AsyncIterable<Uint8Array>, write, options, result);
    }
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

async function transformStream(
  source: AsyncIterable<Uint8Array>,
  write: (bytes: Uint8Array) => Promise<void>,
  options: CopyPipeOptions,
  result: CopyPipeResult,
): Promise<void> {
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
    for (const rule of outcome.cleaned) result.cleaned[rule] = (result.cleaned[rule] ?? 0) + 1;
    out.appendLine(outcome.line);
  };
  const collect = periodicCollector();
  for await (const chunk of source) {
    collect();
    const batch = lines.push(chunk);
    for (const line of batch) handle(line);
    options.onProgress(batch.length);
    if (out.length >= FLUSH_BYTES) await write(out.take());
  }
  const last = lines.end();
  if (last) handle(last);
  if (out.length) await write(out.take());
}

async function transformBinaryStream(
  source: AsyncIterable<Uint8Array>,
  write: (bytes: Uint8Array) => Promise<void>,
  options: CopyPipeOptions,
  result: CopyPipeResult,
): Promise<void> {
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
    for (const rule of outcome.cleaned) result.cleaned[rule] = (result.cleaned[rule] ?? 0) + 1;
    writeBinaryTuple(out, tuple, outcome.replaced);
  };
  const collect = periodicCollector();
  for await (const chunk of source) {
    collect();
    options.onProgress(tuples.push(chunk, handle));
    if (out.length >= FLUSH_BYTES) await write(out.take());
  }
  tuples.end();
  out.appendBytes(COPY_BINARY_TRAILER);
  await write(out.take());
}

function countFailure(result: CopyPipeResult, failure: Extract<RowOutcome, { kind: "failed" }>, options: CopyPipeOptions): void {
  result.failed[failure.reason] = (result.failed[failure.reason] ?? 0) + 1;
  options.onFailure(failure);
}

function copyError(error: unknown, onWriteSide: boolean): SluiceError {
  const message = (error as Error)?.message ?? String(error);
  return onWriteSide
    ? new SluiceError(`writing to the staging table failed: ${message}`, {
        hint: "check DATABASE_URL's server and its log; production is untouched, run again",
        cause: error,
      })
    : new SluiceError(`the upstream connection was lost during COPY: ${message}`, {
        hint: "check UPSTREAM_DATABASE_URL's server; production is untouched, run again",
        cause: error,
      });
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
