/**
 * Codec for PostgreSQL's COPY text format (the default of `COPY ... TO STDOUT`).
 *
 * Rows end with LF, fields are separated by TAB, NULL is `\N`, and backslash escapes
 * stand for special characters. The rules mirror PostgreSQL's own reader and writer
 * (src/backend/commands/copyfromparse.c `CopyReadLineText` / `CopyReadAttributesText`
 * and copyto.c `CopyAttributeOutText`), so that a line we write is read back by
 * `COPY ... FROM STDIN` exactly as we meant it.
 */

/** The field text that stands for SQL NULL. */
export const COPY_NULL = "\\N";

/** Thrown when an escaped field cannot be decoded (its byte escapes are not UTF-8). */
export class CopyTextError extends Error {
  override readonly name = "CopyTextError";
}

const LF = 0x0a;
const BACKSLASH = 0x5c;

/**
 * Splits one line into its fields, still escaped exactly as they appeared.
 *
 * Use it to pass fields you do not change straight through to `joinCopyFields`
 * without paying for an unescape/escape round trip. `\N` stays `\N`.
 */
export function splitCopyLineRaw(line: string): string[] {
  let nextBackslash = line.indexOf("\\");
  // Almost every row has no backslash at all: a raw TAB is then always a delimiter.
  if (nextBackslash === -1) return line.split("\t");

  const fields: string[] = [];
  let fieldStart = 0;
  let pos = 0;
  let nextTab = line.indexOf("\t");
  for (;;) {
    if (nextBackslash !== -1 && (nextTab === -1 || nextBackslash < nextTab)) {
      // A backslash takes the next character with it, even a TAB: `\<TAB>` is data.
      pos = nextBackslash + 2;
      nextBackslash = line.indexOf("\\", pos);
      if (nextTab !== -1 && nextTab < pos) nextTab = line.indexOf("\t", pos);
      continue;
    }
    if (nextTab === -1) {
      fields.push(line.slice(fieldStart));
      return fields;
    }
    fields.push(line.slice(fieldStart, nextTab));
    fieldStart = pos = nextTab + 1;
    nextTab = line.indexOf("\t", pos);
  }
}

/**
 * Whether every backslash of a line begins a `\N` field of its own, so that no field is escaped:
 * its fields are then the line split at each TAB, each as it is. Rows without NULLs or escapes, and
 * rows whose only backslashes are their NULLs (most real rows), take this path.
 */
export function onlyNullEscapes(line: string): boolean {
  const last = line.length - 1;
  for (let at = line.indexOf("\\"); at !== -1; at = line.indexOf("\\", at + 2)) {
    // `\N` alone between TABs (or the line's ends); `a\N` or `\Nx` would be escaped text.
    if (line.charCodeAt(at + 1) !== 78 || (at > 0 && line.charCodeAt(at - 1) !== 9) || (at + 1 < last && line.charCodeAt(at + 2) !== 9)) return false;
  }
  return true;
}

/** Splits one line into unescaped values, with `null` for `\N`. */
export function splitCopyLine(line: string): (string | null)[] {
  const raw = splitCopyLineRaw(line);
  const values: (string | null)[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) values[i] = unescapeCopyField(raw[i] as string);
  return values;
}

/** Joins values into one line, escaping each and writing `null` as `\N`. No trailing LF. */
export function joinCopyLine(values: readonly (string | null)[]): string {
  let line = "";
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (i > 0) line += "\t";
    line += value === null || value === undefined ? COPY_NULL : escapeCopyText(value);
  }
  return line;
}

/** Joins fields that are already escaped (as from `splitCopyLineRaw`). No trailing LF. */
export function joinCopyFields(rawFields: readonly string[]): string {
  return rawFields.join("\t");
}

/** Decodes one raw field: `null` for `\N`, else the unescaped text. */
export function unescapeCopyField(raw: string): string | null {
  // The NULL marker is compared before de-escaping, as PostgreSQL does: `\\N` is the text `\N`.
  return raw === COPY_NULL ? null : unescapeCopyText(raw);
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
};

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Removes COPY backslash escapes from one field's text.
 *
 * `\NNN` (octal) and `\xHH` (hex) stand for bytes, so a run of them is decoded as
 * UTF-8 (`\303\251` is "é"); a run that is not valid UTF-8 throws `CopyTextError`,
 * as PostgreSQL would reject it. A backslash before any other character yields that
 * character; a lone backslash at the end is dropped (both as PostgreSQL does).
 */
export function unescapeCopyText(raw: string): string {
  let i = raw.indexOf("\\");
  if (i === -1) return raw;

  let out = "";
  let copiedUpTo = 0;
  let bytes: number[] = [];

  const flushBytes = (): void => {
    if (bytes.length === 0) return;
    let ascii = true;
    for (const b of bytes) if (b >= 0x80) ascii = false;
    if (ascii) {
      out += String.fromCharCode(...bytes);
    } else {
      try {
        out += utf8Decoder.decode(Uint8Array.from(bytes));
      } catch {
        throw new CopyTextError(`byte escapes are not valid UTF-8 in COPY field: ${raw.slice(0, 80)}`);
      }
    }
    bytes = [];
  };

  while (i !== -1) {
    if (i > copiedUpTo) {
      flushBytes();
      out += raw.slice(copiedUpTo, i);
    }
    const next = i + 1 < raw.length ? raw[i + 1] : undefined;
    if (next === undefined) {
      copiedUpTo = raw.length;
      break;
    }
    let end = i + 2;
    const code = next.charCodeAt(0);
    if (code >= 0x30 && code <= 0x37) {
      let value = code - 0x30;
      for (let k = 0; k < 2 && end < raw.length; k++) {
        const digit = raw.charCodeAt(end) - 0x30;
        if (digit < 0 || digit > 7) break;
        value = (value << 3) + digit;
        end++;
      }
      bytes.push(value & 0xff);
    } else if (next === "x" && end < raw.length && hexValue(raw.charCodeAt(end)) >= 0) {
      let value = hexValue(raw.charCodeAt(end));
      end++;
      if (end < raw.length && hexValue(raw.charCodeAt(end)) >= 0) {
        value = (value << 4) + hexValue(raw.charCodeAt(end));
        end++;
      }
      bytes.push(value);
    } else {
      flushBytes();
      out += SIMPLE_ESCAPES[next] ?? next;
    }
    copiedUpTo = end;
    i = raw.indexOf("\\", end);
  }
  flushBytes();
  if (copiedUpTo < raw.length) out += raw.slice(copiedUpTo);
  return out;
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

// Exactly the characters PostgreSQL's COPY TO escapes in text format with a TAB
// delimiter; other control characters are written as they are.
const NEEDS_ESCAPE = /[\\\t\n\r\b\f\v]/;
const ESCAPABLE = /[\\\t\n\r\b\f\v]/g;
const ESCAPE_FOR: Readonly<Record<string, string>> = {
  "\\": "\\\\",
  "\t": "\\t",
  "\n": "\\n",
  "\r": "\\r",
  "\b": "\\b",
  "\f": "\\f",
  "\v": "\\v",
};

/** Escapes one value's text for a COPY text field (does not handle NULL). */
export function escapeCopyText(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(ESCAPABLE, (c) => ESCAPE_FOR[c] ?? c);
}

/**
 * Cuts a stream of COPY text bytes into lines, synchronously.
 *
 * `push` returns the lines completed by a chunk, without their LF. A line that fits in
 * one chunk is returned as a view into that chunk (no copy), so do not reuse chunk
 * buffers while lines are alive. A LF preceded by an odd number of backslashes is data
 * (`\<LF>`), as in PostgreSQL's reader, and does not end the line.
 */
export class CopyLineBuffer {
  private pendingParts: Uint8Array[] = [];
  private pendingLength = 0;

  /** Feeds one chunk; returns the complete lines it finished. */
  push(chunk: Uint8Array): Uint8Array[] {
    const lines: Uint8Array[] = [];
    let lineStart = 0;
    let searchFrom = 0;
    for (;;) {
      const lf = chunk.indexOf(LF, searchFrom);
      if (lf === -1) break;
      if (this.endsWithOddBackslashes(chunk, lineStart, lf)) {
        searchFrom = lf + 1;
        continue;
      }
      if (this.pendingLength > 0) {
        lines.push(this.takePending(chunk.subarray(lineStart, lf)));
      } else {
        lines.push(chunk.subarray(lineStart, lf));
      }
      lineStart = searchFrom = lf + 1;
    }
    if (lineStart < chunk.length) {
      // Copy: the caller may reuse the chunk's buffer after push returns.
      this.pendingParts.push(chunk.slice(lineStart));
      this.pendingLength += chunk.length - lineStart;
    }
    return lines;
  }

  /**
   * Whether `chunk` is exactly one whole line (with its LF) and nothing is pending: then it can be
   * read as it is, without `push`. postgres.js hands over a COPY TO as one chunk per data message,
   * and the server sends one row per message.
   */
  isWholeLine(chunk: Uint8Array): boolean {
    const end = chunk.length - 1;
    return this.pendingLength === 0 && end > 0 && chunk[end] === LF && chunk[end - 1] !== BACKSLASH && chunk.indexOf(LF) === end;
  }

  /** Returns the unterminated last line, if any, and resets the buffer. */
  end(): Uint8Array | null {
    if (this.pendingLength === 0) return null;
    return this.takePending(new Uint8Array(0));
  }

  private takePending(tail: Uint8Array): Uint8Array {
    const line = new Uint8Array(this.pendingLength + tail.length);
    let offset = 0;
    for (const part of this.pendingParts) {
      line.set(part, offset);
      offset += part.length;
    }
    line.set(tail, offset);
    this.pendingParts = [];
    this.pendingLength = 0;
    return line;
  }

  private endsWithOddBackslashes(chunk: Uint8Array, lineStart: number, end: number): boolean {
    let count = 0;
    let i = end - 1;
    while (i >= lineStart && chunk[i] === BACKSLASH) {
      count++;
      i--;
    }
    if (i < lineStart) {
      // The run of backslashes may continue into bytes held from earlier chunks.
      for (let p = this.pendingParts.length - 1; p >= 0; p--) {
        const part = this.pendingParts[p] as Uint8Array;
        let j = part.length - 1;
        while (j >= 0 && part[j] === BACKSLASH) {
          count++;
          j--;
        }
        if (j >= 0) break;
      }
    }
    return (count & 1) === 1;
  }
}

/**
 * A TransformStream from COPY text bytes to line byte slices (without LF).
 * See `CopyLineBuffer` for the rules and the aliasing of emitted lines.
 */
export class CopyLineSplitter extends TransformStream<Uint8Array, Uint8Array> {
  constructor() {
    const buffer = new CopyLineBuffer();
    super({
      transform(chunk, controller) {
        for (const line of buffer.push(chunk)) controller.enqueue(line);
      },
      flush(controller) {
        const last = buffer.end();
        if (last) controller.enqueue(last);
      },
    });
  }
}

/**
 * Yields the lines of a COPY text byte stream in batches, one batch per input chunk
 * that completed at least one line. Batching keeps per-line overhead low on
 * millions of rows.
 */
export async function* copyLineBatches(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array[]> {
  const buffer = new CopyLineBuffer();
  for await (const chunk of source) {
    const lines = buffer.push(chunk);
    if (lines.length > 0) yield lines;
  }
  const last = buffer.end();
  if (last) yield [last];
}

/** Yields the lines of a COPY text byte stream one at a time. */
export async function* copyLines(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for await (const batch of copyLineBatches(source)) yield* batch;
}
