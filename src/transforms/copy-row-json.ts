/**
 * COPY text rows straight to the JSON documents of a projection dataset (one without a
 * `toDocument`: its document is the row as `row_to_json` shapes it, plus `id`), byte for byte,
 * with no row object and no string in between. Each field's COPY bytes are spliced into the
 * document by its column's kind:
 *
 *   text     → a JSON string: its bytes between quotes (through COPY's and JSON's escaping only when it has a backslash, a quote or a control byte)
 *   number   → its digits as they are (NaN and ±Infinity as strings, as `row_to_json` writes them)
 *   boolean  → true / false
 *   json, to_json'd types → the server's JSON bytes as they are (through the escaping path when they hold a backslash; re-serialized if that shows a line break)
 *   \N       → null
 *
 *   6f1c…⇥"2020-01-01T00:00:00+00:00"⇥[{"name": "cat"}]
 *     → {id: "6f1c…", json: {"identifier":"6f1c…","created_on":"2020-01-01T00:00:00+00:00","tags":[{"name": "cat"}],"id":"6f1c…"} as UTF-8}
 *
 * Hand-written because measured speed demands it (issue 12): the jsonb columns are never parsed,
 * the document never exists as an object or a string, and nothing is decoded from UTF-8 or
 * encoded again; most fields are one scan and one copy. A field with escapes goes through the
 * text path (unescapeCopyText, JSON.stringify), which is rare in real rows.
 *
 * The document equals, once parsed, the default `toDocument`'s `{...row, id: String(row[key])}`
 * over copy-row-reader's row (tested beside), except that a number keeps the digits PostgreSQL
 * wrote (`1.50`, a bigint past 2^53) where the object path rounds it through a double.
 */
import { COPY_NULL, unescapeCopyText } from "./copy-text.ts";
import { columnKind, type ColumnKind, type CopyLineReader, copySelectList, FIELD_DECODERS, type TableColumn } from "./copy-row-reader.ts";

/**
 * Each line to the document's id and its JSON (one line, UTF-8); selects what copyRowReader
 * selects. `json` is a view of the reader's buffer: valid until `startBatch` (the stage calls it
 * before each batch it reads, once the previous batch is consumed, so the buffer is reused
 * rather than left to the collector).
 */
export type CopyRowJson = CopyLineReader<{ id: string; json: Uint8Array }>;

const TAB = 0x09;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LAST_CONTROL = 0x1f;
const NULL_BYTES = Buffer.from("null");
const TRUE_BYTES = Buffer.from("true");
const FALSE_BYTES = Buffer.from("false");
/** Documents are written one after another into slabs of this size; a full slab is left to the views into it. */
const SLAB_BYTES = 1024 * 1024;

/** The text path of a field with escapes: its COPY text to its JSON text. */
const TEXT_ENCODERS: Readonly<Record<"text" | "json", (raw: string) => string>> = {
  text: (raw) => JSON.stringify(unescapeCopyText(raw)),
  // JSON text from the server. COPY escapes its backslashes and any control character; a line break
  // can only be whitespace between tokens (a `json` column keeps its input's), and would end the
  // NDJSON line, so such a value is written again compactly.
  json: (raw) => {
    const text = unescapeCopyText(raw);
    return text.indexOf("\n") === -1 && text.indexOf("\r") === -1 ? text : JSON.stringify(JSON.parse(text));
  },
};

/**
 * Where documents are written: a slab, one document after another, from its start again at each
 * batch. A full slab is left to the views into it; a document that outgrows its slab moves,
 * whole, to a new one.
 */
class DocumentWriter {
  slab = Buffer.allocUnsafe(SLAB_BYTES);
  used = 0;
  start = 0;

  rewind(): void {
    this.used = this.start = 0;
  }

  begin(room: number): void {
    this.start = this.used;
    this.reserve(room);
  }

  /** The finished document, as a view of its slab. */
  end(): Uint8Array {
    return this.slab.subarray(this.start, this.used);
  }

  reserve(bytes: number): void {
    if (this.used + bytes <= this.slab.length) return;
    const begun = this.used - this.start;
    const next = Buffer.allocUnsafe(Math.max(SLAB_BYTES, 2 * (begun + bytes)));
    next.set(this.slab.subarray(this.start, this.used));
    this.slab = next;
    this.start = 0;
    this.used = begun;
  }

  text(value: string): void {
    // UTF-8 needs at most 3 bytes per UTF-16 code unit (as ByteBuilder.appendText).
    this.reserve(value.length * 3);
    this.used += this.slab.write(value, this.used);
  }
}

/** True when the bytes need no escaping between JSON quotes: no backslash (COPY's escapes), no quote, no control byte. */
function isPlainText(line: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const b = line[i]!;
    if (b <= LAST_CONTROL || b === QUOTE || b === BACKSLASH) return false;
  }
  return true;
}

/** `key`: the column whose value, as text, is the document's `id` (and `_id`). */
export function copyRowJson(columns: readonly TableColumn[], quote: (name: string) => string, key: string): CopyRowJson {
  const keyAt = columns.findIndex((c) => c.name === key);
  if (keyAt === -1) throw new Error(`the key column ${key} is not among the table's columns`);
  const kinds: ColumnKind[] = columns.map((c) => columnKind(c.type));
  const decodeKey = FIELD_DECODERS[kinds[keyAt]!];
  const keyIsText = kinds[keyAt] === "text";
  // `{...row, id}`: a column named id keeps its place and takes the key's text; else id comes last.
  const idAt = columns.findIndex((c) => c.name === "id");
  const names = columns.map((c, i) => Buffer.from(`${i === 0 ? "{" : ","}${JSON.stringify(c.name)}:`));
  const idName = Buffer.from(`,"id":`);
  const count = columns.length;
  // What a document can hold beyond its line's bytes on the fast paths: names, two quotes or `false` for `f` per field, the id.
  const overhead = names.reduce((n, b) => n + b.length, 0) + idName.length + 4 * count + 2;
  const out = new DocumentWriter();
  const codes = Uint8Array.from(kinds, (k) => KIND_CODES[k]);

  /** JSON text (the escaped path, rare) into `out` from `w`; the new end. */
  const writeText = (json: string, w: number, rest: number): number => {
    out.used = w;
    out.text(json);
    // The text may have moved the document to a new slab: room again for the rest of the line.
    out.reserve(rest + overhead);
    return out.used;
  };
  /** A field with escapes: its COPY text through JSON.stringify. */
  const writeEscaped = (line: Buffer, from: number, to: number, kind: "text" | "json", w: number): number =>
    writeText(TEXT_ENCODERS[kind](line.toString("utf8", from, to)), w, line.length - to);

  return {
    selectList: copySelectList(columns, quote),
    startBatch() {
      out.rewind();
    },
    decode(bytes) {
      // A Buffer's own copy and toString take offsets: no view object per field (measured at ~100 ns each, subarray).
      const line = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
      const length = line.length;
      // COPY TO writes a TAB inside a value as `\t` (copyto.c, CopyAttributeOutText), so every TAB byte ends a field.
      let keyFrom = 0;
      for (let i = 0; i < keyAt; i++) {
        keyFrom = line.indexOf(TAB, keyFrom) + 1;
        if (keyFrom === 0) throw widthError(line, count);
      }
      let keyTo = line.indexOf(TAB, keyFrom);
      if (keyTo === -1) keyTo = length;
      const rawKey = line.toString("utf8", keyFrom, keyTo);
      // String(row[key]) of the object path, so both paths give a row the same id.
      const id = String(rawKey === COPY_NULL ? null : decodeKey(rawKey));
      const idJson = keyIsText && rawKey !== COPY_NULL && isPlainText(line, keyFrom, keyTo) ? null : JSON.stringify(id);
      out.begin(length + overhead + (idJson === null ? keyTo - keyFrom : idJson.length * 3));
      // One pass over the line, copying as it checks; the locals are written back to `out` around the escaped path.
      let slab = out.slab;
      let w = out.used;
      let at = 0;
      // The next backslash at or after `at` (2^32 - 1 for none), looked up again only once passed.
      let backslash = -1;
      for (let i = 0; i <= count; i++) {
        const name = i < count ? names[i]! : idName;
        for (let j = 0; j < name.length; j++) slab[w++] = name[j]!;
        if (i === idAt || i === count) {
          if (idJson === null) {
            slab[w++] = QUOTE;
            for (let j = keyFrom; j < keyTo; j++) slab[w++] = line[j]!;
            slab[w++] = QUOTE;
          } else {
            w = writeText(idJson, w, length - at);
            slab = out.slab;
          }
          if (i === count) break;
          while (at < length && line[at] !== TAB) at++;
        } else if (line[at] === BACKSLASH && line[at + 1] === 0x4e && (at + 2 === length || line[at + 2] === TAB)) {
          for (let j = 0; j < 4; j++) slab[w++] = NULL_BYTES[j]!;
          at += 2;
        } else {
          const from = at;
          const code = codes[i]!;
          if (code === BOOLEAN) {
            const bytes = line[at] === 0x74 ? TRUE_BYTES : FALSE_BYTES;
            for (let j = 0; j < bytes.length; j++) slab[w++] = bytes[j]!;
            while (at < length && line[at] !== TAB) at++;
          } else if (code === NUMBER) {
            // PostgreSQL's NaN, Infinity and -Infinity are no JSON numbers: strings, as row_to_json writes them.
            const first = line[at]!;
            const word = first === 0x4e || first === 0x49 || (first === 0x2d && line[at + 1] === 0x49);
            if (word) slab[w++] = QUOTE;
            for (let b = line[at]!; at < length && b !== TAB; b = line[++at]!) slab[w++] = b;
            if (word) slab[w++] = QUOTE;
          } else if (code === JSON_TEXT) {
            // The server's JSON, most of a row's bytes: found and copied natively (memchr, memcpy), not byte by byte.
            const tab = line.indexOf(TAB, at);
            const to = tab === -1 ? length : tab;
            if (backslash < at) backslash = line.indexOf(BACKSLASH, at) >>> 0;
            if (backslash < to) {
              w = writeEscaped(line, from, to, "json", w);
              slab = out.slab;
            } else {
              w += line.copy(slab, w, from, to);
            }
            at = to;
          } else {
            const begun = w;
            slab[w++] = QUOTE;
            // A backslash (COPY's escapes), a quote or a control byte sends the field down the escaped path.
            let plain = true;
            for (; at < length; at++) {
              const b = line[at]!;
              if (b === TAB) break;
              if (b === BACKSLASH || b === QUOTE || b <= LAST_CONTROL) {
                plain = false;
                break;
              }
              slab[w++] = b;
            }
            if (plain) slab[w++] = QUOTE;
            else {
              while (at < length && line[at] !== TAB) at++;
              w = writeEscaped(line, from, at, "text", begun);
              slab = out.slab;
            }
          }
        }
        // Each field but the last ends at a TAB; the last, at the end of the line.
        if (i < count - 1) {
          if (at >= length) throw widthError(line, count);
          at++;
          continue;
        }
        if (at !== length) throw widthError(line, count);
        if (idAt !== -1) break;
      }
      slab[w++] = 0x7d;
      out.used = w;
      return { id, json: out.end() };
    },
  };
}

const TEXT = 0;
const NUMBER = 1;
const BOOLEAN = 2;
const JSON_TEXT = 3;
const KIND_CODES: Readonly<Record<ColumnKind, number>> = { text: TEXT, number: NUMBER, boolean: BOOLEAN, json: JSON_TEXT, to_json: JSON_TEXT };

function widthError(line: Uint8Array, count: number): Error {
  return new Error(`COPY row has ${countFields(line)} fields, expected ${count}`);
}

function countFields(line: Uint8Array): number {
  let fields = 1;
  for (let at = line.indexOf(TAB); at !== -1; at = line.indexOf(TAB, at + 1)) fields++;
  return fields;
}
