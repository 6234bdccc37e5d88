/**
 * Codec for PostgreSQL's COPY binary format (`COPY … (FORMAT binary)`), after
 * src/backend/commands/copyfromparse.c and copyto.c:
 *
 *   "PGCOPY\n\377\r\n\0" · int32 flags · int32 extension length · extension
 *   per row: int16 field count · per field: int32 byte length (-1 = NULL) · the value's bytes
 *   int16 -1
 *
 * Binary spares the server its text input functions (timestamps, numbers and uuids are not
 * parsed), which makes COPY FROM markedly cheaper than text. The price: a value's bytes are in its
 * type's own send format, so binary can only carry rows between columns of the same type, and only
 * for types whose format does not embed a database's own OIDs (see `hasPortableBinaryFormat`).
 */
import { ByteBuilder } from "./byte-builder.ts";
import { canonicalTypeName } from "./pg-types.ts";

const SIGNATURE = Uint8Array.of(0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00);
const HEADER_LENGTH = SIGNATURE.length + 8;
const FLAG_WITH_OIDS = 1 << 16;

/** What a COPY FROM (FORMAT binary) stream starts with: signature, no flags, no extension. */
export const COPY_BINARY_HEADER = Uint8Array.from([...SIGNATURE, 0, 0, 0, 0, 0, 0, 0, 0]);
/** What it ends with: a field count of -1. */
export const COPY_BINARY_TRAILER = Uint8Array.of(0xff, 0xff);

/** Thrown when the bytes are not a well-formed COPY binary stream. */
export class CopyBinaryError extends Error {
  override readonly name = "CopyBinaryError";
}

/**
 * One row as the reader hands it out. `bytes` is the whole tuple (field count included), a view
 * into the pushed chunk; `starts[i]` is where field i's value begins within `bytes` and
 * `lengths[i]` its length, -1 for NULL. The arrays are reused: read them inside the callback.
 */
export interface BinaryTuple {
  bytes: Uint8Array;
  fieldCount: number;
  starts: Int32Array;
  lengths: Int32Array;
}

/**
 * Cuts a stream of COPY binary bytes into tuples, synchronously, whatever the chunking: a tuple cut
 * across chunks is held (copied) until its last byte arrives.
 */
export class CopyBinaryTupleReader {
  private pending = new ByteBuilder(0);
  private headerRead = false;
  private trailerRead = false;
  private readonly tuple: BinaryTuple = { bytes: new Uint8Array(0), fieldCount: 0, starts: new Int32Array(64), lengths: new Int32Array(64) };

  /** Feeds one chunk and calls `onTuple` for each tuple it completes; returns how many. */
  push(chunk: Uint8Array, onTuple: (tuple: BinaryTuple) => void): number {
    let data = chunk;
    if (this.pending.length > 0) {
      this.pending.appendBytes(chunk);
      data = this.pending.view();
    }
    let pos = this.headerRead ? 0 : this.readHeader(data);
    let count = 0;
    while (pos >= 0 && pos + 2 <= data.length) {
      if (this.trailerRead) throw new CopyBinaryError("bytes after the end-of-data marker");
      const end = this.readTuple(data, pos);
      if (end === -1) break;
      if (end === -2) {
        this.trailerRead = true;
        pos += 2;
        continue;
      }
      onTuple(this.tuple);
      count++;
      pos = end;
    }
    this.keep(data, pos < 0 ? 0 : pos);
    return count;
  }

  /** Ends the stream: throws when it stopped inside a tuple or before its end-of-data marker. */
  end(): void {
    if (this.pending.length > 0) throw new CopyBinaryError(`the stream ended inside a row (${this.pending.length} bytes left over)`);
    if (!this.trailerRead) throw new CopyBinaryError("the stream ended without its end-of-data marker");
  }

  /** Returns where the first tuple starts, or -1 while the header is incomplete. */
  private readHeader(data: Uint8Array): number {
    if (data.length < HEADER_LENGTH) return -1;
    for (let i = 0; i < SIGNATURE.length; i++) {
      if (data[i] !== SIGNATURE[i]) throw new CopyBinaryError("not a COPY binary stream (bad signature)");
    }
    const flags = readInt32(data, SIGNATURE.length);
    if (flags & FLAG_WITH_OIDS) throw new CopyBinaryError("COPY binary streams WITH OIDS are not supported");
    const extension = readInt32(data, SIGNATURE.length + 4);
    if (extension < 0) throw new CopyBinaryError("bad header extension length");
    if (data.length < HEADER_LENGTH + extension) return -1;
    this.headerRead = true;
    return HEADER_LENGTH + extension;
  }

  /** Fills `this.tuple` from `pos`; returns where the next one starts, -1 if incomplete, -2 at the trailer. */
  private readTuple(data: Uint8Array, pos: number): number {
    const fieldCount = readInt16(data, pos);
    if (fieldCount === -1) return -2;
    if (fieldCount < 0) throw new CopyBinaryError(`bad field count ${fieldCount}`);
    const tuple = this.tuple;
    if (tuple.starts.length < fieldCount) {
      tuple.starts = new Int32Array(fieldCount);
      tuple.lengths = new Int32Array(fieldCount);
    }
    let p = pos + 2;
    for (let i = 0; i < fieldCount; i++) {
      if (p + 4 > data.length) return -1;
      const length = readInt32(data, p);
      p += 4;
      if (length < -1) throw new CopyBinaryError(`bad field length ${length}`);
      tuple.starts[i] = p - pos;
      tuple.lengths[i] = length;
      if (length > 0) {
        p += length;
        if (p > data.length) return -1;
      }
    }
    tuple.bytes = data.subarray(pos, p);
    tuple.fieldCount = fieldCount;
    return p;
  }

  private keep(data: Uint8Array, from: number): void {
    if (from >= data.length) {
      if (this.pending.length > 0) this.pending = new ByteBuilder(0);
      return;
    }
    // Copy: the caller may reuse the chunk's buffer, and `data` may be the pending buffer itself.
    const rest = data.slice(from);
    this.pending = new ByteBuilder(rest.length);
    this.pending.appendBytes(rest);
  }
}

/** Field i's value bytes (a view), or null for NULL. */
export function binaryField(tuple: BinaryTuple, i: number): Uint8Array | null {
  const length = tuple.lengths[i]!;
  if (length < 0) return null;
  const start = tuple.starts[i]!;
  return tuple.bytes.subarray(start, start + length);
}

/**
 * Writes `tuple` with some fields replaced: `replaced.get(i)` is the new value of field i (null for
 * NULL). The bytes between replaced fields are copied in one piece each, not field by field.
 */
export function writeBinaryTuple(out: ByteBuilder, tuple: BinaryTuple, replaced: ReadonlyMap<number, Uint8Array | null>): void {
  const indexes = [...replaced.keys()].sort((a, b) => a - b);
  let copyFrom = 0;
  for (const i of indexes) {
    const start = tuple.starts[i]!;
    out.appendBytes(tuple.bytes.subarray(copyFrom, start - 4));
    const value = replaced.get(i)!;
    out.appendInt32(value === null ? -1 : value.length);
    if (value !== null) out.appendBytes(value);
    copyFrom = start + Math.max(0, tuple.lengths[i]!);
  }
  out.appendBytes(tuple.bytes.subarray(copyFrom));
}

// Built-in types whose binary format is self-contained. Excluded: enums, composites, domains over
// them and arrays of user types, whose bytes carry OIDs that differ between two databases.
const PORTABLE_BINARY_TYPES = new Set([
  "boolean",
  "smallint",
  "integer",
  "bigint",
  "real",
  "double precision",
  "numeric",
  "text",
  "character varying",
  "character",
  "uuid",
  "json",
  "jsonb",
  "bytea",
  "date",
  "time without time zone",
  "time with time zone",
  "timestamp without time zone",
  "timestamp with time zone",
  "interval",
  "inet",
  "cidr",
  "macaddr",
]);

/** The type as `format_type` spells it, without its modifiers: `varchar(80)` → `character varying`. */
export function baseTypeName(type: string): string {
  return canonicalTypeName(type.replace(/\(\s*\d+\s*(,\s*\d+\s*)?\)/g, ""));
}

/** Whether values of this type (or arrays of it) can travel in COPY binary between two databases. */
export function hasPortableBinaryFormat(type: string): boolean {
  return PORTABLE_BINARY_TYPES.has(baseTypeName(type).replace(/(\[\])+$/, ""));
}

/** Whether the binary value is plain text (UTF-8 bytes, nothing else). */
export function isTextType(type: string): boolean {
  const base = baseTypeName(type);
  return base === "text" || base === "character varying" || base === "character";
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * A key's binary value as the text PostgreSQL would print, for failure reports. Text, uuid and the
 * integer types are decoded; anything else is shown as bytea-style hex.
 */
export function binaryKeyAsText(bytes: Uint8Array, type: string): string {
  const base = baseTypeName(type);
  if (isTextType(base)) return new TextDecoder().decode(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (base === "uuid" && bytes.length === 16) {
    const hex = Array.from(bytes, (b) => HEX[b]).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  if (base === "smallint" && bytes.length === 2) return String(view.getInt16(0));
  if (base === "integer" && bytes.length === 4) return String(view.getInt32(0));
  if (base === "bigint" && bytes.length === 8) return String(view.getBigInt64(0));
  return `\\x${Array.from(bytes, (b) => HEX[b]).join("")}`;
}

function readInt32(data: Uint8Array, at: number): number {
  return (data[at]! << 24) | (data[at + 1]! << 16) | (data[at + 2]! << 8) | data[at + 3]!;
}

function readInt16(data: Uint8Array, at: number): number {
  return (((data[at]! << 8) | data[at + 1]!) << 16) >> 16;
}
