/**
 * Reads a table's COPY text rows as the objects `row_to_json` would give, for about half the
 * server's work: columns whose text form maps straight onto JSON (text, uuid, numbers, booleans,
 * json) are copied as they are and converted here; every other type (timestamps, arrays, enums,
 * domains…) is sent through the server's own `to_json`, so its JSON form is exactly PostgreSQL's.
 *
 *   columns [{identifier, uuid}, {created_on, timestamptz}, {tags, jsonb}]
 *     select  identifier, to_json(created_on), tags
 *     "6f1c…\t\"2020-01-01T00:00:00+00:00\"\t[{…}]"  →  {identifier: "6f1c…", created_on: "2020-01-01T00:00:00+00:00", tags: [{…}]}
 */
import { COPY_NULL, splitCopyLineRaw, unescapeCopyText } from "./copy-text.ts";

export interface TableColumn {
  name: string;
  /** As `format_type` spells it. */
  type: string;
}

/** Reads one table's COPY text lines: what to select, and one line's bytes (without its LF) to a `T`. */
export interface CopyLineReader<T> {
  /** The select list to COPY out, in column order. */
  selectList: string;
  decode(line: Uint8Array): T;
  /** Called before each batch of lines once the previous batch's `T`s are no longer used (a reader may reuse its buffers). */
  startBatch?(): void;
}

/** Each line to the row's object. */
export type CopyRowReader = CopyLineReader<Record<string, unknown>>;

type FieldDecoder = (raw: string) => unknown;

const TEXT_TYPES = /^(?:text|character varying(?:\(\d+\))?|character(?:\(\d+\))?|bpchar|name|uuid|citext)$/;
const NUMBER_TYPES = /^(?:smallint|integer|bigint|real|double precision|numeric(?:\(\d+(?:,\s*-?\d+)?\))?|oid)$/;
const JSON_TYPES = /^(?:json|jsonb)$/;

const utf8 = new TextDecoder();

const asText: FieldDecoder = (raw) => unescapeCopyText(raw);
const asBoolean: FieldDecoder = (raw) => raw === "t";
// A JSON string with no backslash (to_json of a timestamp, a date, an enum) is its own text between
// the quotes: no escape of COPY's or of JSON's can be in it. Sliced, not parsed (measured: ~2% of the index stage's CPU).
const asJson: FieldDecoder = (raw) => (raw.charCodeAt(0) === 34 && raw.indexOf("\\") === -1 ? raw.slice(1, -1) : JSON.parse(unescapeCopyText(raw)));
// to_json writes NaN and ±Infinity as strings, since JSON has no such numbers.
const asNumber: FieldDecoder = (raw) => {
  const n = Number(raw);
  return Number.isFinite(n) ? n : raw;
};

/** How a column travels: its COPY text as it is (decoded by kind), or through the server's `to_json`. */
export type ColumnKind = "text" | "boolean" | "number" | "json" | "to_json";

/** The kind of a column of the type `format_type` spells. */
export function columnKind(type: string): ColumnKind {
  const t = type.toLowerCase();
  if (TEXT_TYPES.test(t)) return "text";
  if (t === "boolean") return "boolean";
  if (NUMBER_TYPES.test(t)) return "number";
  if (JSON_TYPES.test(t)) return "json";
  return "to_json";
}

/** Each kind's COPY field (not `\N`) → the value `row_to_json` gives. */
export const FIELD_DECODERS: Readonly<Record<ColumnKind, FieldDecoder>> = { text: asText, boolean: asBoolean, number: asNumber, json: asJson, to_json: asJson };

/** The select list that COPYs `columns` out in order, the kinds without a plain JSON form through `to_json`. */
export function copySelectList(columns: readonly TableColumn[], quote: (name: string) => string): string {
  return columns.map(({ name, type }) => (columnKind(type) === "to_json" ? `to_json(${quote(name)}) AS ${quote(name)}` : quote(name))).join(", ");
}

export function copyRowReader(columns: readonly TableColumn[], quote: (name: string) => string): CopyRowReader {
  const decoders = columns.map((c) => FIELD_DECODERS[columnKind(c.type)]);
  const names = columns.map((c) => c.name);
  return {
    selectList: copySelectList(columns, quote),
    decode(line) {
      const fields = splitCopyLineRaw(utf8.decode(line));
      if (fields.length !== names.length) throw new Error(`COPY row has ${fields.length} fields, expected ${names.length}`);
      const row: Record<string, unknown> = {};
      for (let i = 0; i < names.length; i++) {
        const raw = fields[i]!;
        row[names[i]!] = raw === COPY_NULL ? null : decoders[i]!(raw);
      }
      return row;
    },
  };
}
