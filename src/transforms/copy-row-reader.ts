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
import { COPY_NULL, onlyNullEscapes, splitCopyLineRaw, unescapeCopyText } from "./copy-text.ts";

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
  /** The same for a line already decoded from UTF-8, by a reader that reads text. */
  decodeText?(line: string): T;
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

// The same for a line without escapes (onlyNullEscapes): its fields are read as they are. Text is
// then not searched for a backslash: measured 9% less CPU for decoding, shaping and encoding a
// document (Openverse's image rows, in alternated rounds), since searching a field split out of its
// line makes the engine copy it out first.
const asUnescapedJson: FieldDecoder = (raw) => (raw.charCodeAt(0) === 34 ? raw.slice(1, -1) : JSON.parse(raw));
const UNESCAPED_DECODERS: Readonly<Record<ColumnKind, FieldDecoder>> = {
  text: (raw) => raw,
  boolean: asBoolean,
  number: asNumber,
  json: asUnescapedJson,
  to_json: asUnescapedJson,
};

/** The select list that COPYs `columns` out in order, the kinds without a plain JSON form through `to_json`. */
export function copySelectList(columns: readonly TableColumn[], quote: (name: string) => string): string {
  return columns.map(({ name, type }) => (columnKind(type) === "to_json" ? `to_json(${quote(name)}) AS ${quote(name)}` : quote(name))).join(", ");
}

/**
 * Keys to read of json/jsonb columns (index.jsonKeys): for such a column the server sends, instead
 * of the whole value, `{}` for an object (any other value as it is) and each key's value after it
 * (`col -> 'key'`: SQL NULL when the key is absent, JSON null when present and null). The row then
 * holds an object with just the keys the value has. Openverse's meta_data read as its 4 keys: 0.0081
 * against 0.0098 CPU-s per 1k rows read (bench/index-cpu.ts --only read against --all-keys, medians
 * of 5), and the server's `->` costs it less than writing the whole value out.
 */
export type JsonKeys = Readonly<Record<string, readonly string[]>>;

const sqlText = (text: string) => `'${text.replaceAll("'", "''")}'`;

/** The select list's entries for one json/jsonb column read as only `keys`. */
function jsonKeysSelect(name: string, type: string, keys: readonly string[], quote: (name: string) => string): string {
  const json = type.toLowerCase() === "json" ? "json" : "jsonb";
  const column = quote(name);
  return [
    `CASE WHEN ${json}_typeof(${column}) = 'object' THEN '{}'::${json} ELSE ${column} END AS ${column}`,
    ...keys.map((key) => `${column} -> ${sqlText(key)}`),
  ].join(", ");
}

/** An object of the keys in `fields` from `at` on that are not `\N`, in `keys`' order. */
function objectOfKeys(keys: readonly string[], fields: readonly string[], at: number, decodeJson: FieldDecoder): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (let k = 0; k < keys.length; k++) {
    const raw = fields[at + k]!;
    if (raw === COPY_NULL) continue;
    // An own property, as JSON.parse would make it, not the prototype's setter.
    if (keys[k] === "__proto__") Object.defineProperty(object, "__proto__", { value: decodeJson(raw), enumerable: true, writable: true, configurable: true });
    else object[keys[k]!] = decodeJson(raw);
  }
  return object;
}

/**
 * `jsonKeys`' columns must be json or jsonb columns among `columns` (those read of `what`): what is
 * wrong with the first that is not ("names meta, a text column of …"), or null.
 */
export function jsonKeysProblem(columns: readonly TableColumn[], jsonKeys: JsonKeys | null, what = "the rows"): string | null {
  for (const name of Object.keys(jsonKeys ?? {})) {
    const column = columns.find((c) => c.name === name);
    if (!column) return `names ${name}, which is not among the columns read of ${what}`;
    if (columnKind(column.type) !== "json") return `names ${name}, a ${column.type} column of ${what}: only json and jsonb columns have keys`;
  }
  return null;
}

export function copyRowReader(columns: readonly TableColumn[], quote: (name: string) => string, jsonKeys: JsonKeys | null = null): CopyRowReader {
  const problem = jsonKeysProblem(columns, jsonKeys);
  if (problem) throw new Error(`index.jsonKeys ${problem}`);
  const escapedDecoders = columns.map((c) => FIELD_DECODERS[columnKind(c.type)]);
  const unescapedDecoders = columns.map((c) => UNESCAPED_DECODERS[columnKind(c.type)]);
  const names = columns.map((c) => c.name);
  const keyLists = columns.map((c) => (jsonKeys && Object.hasOwn(jsonKeys, c.name) ? jsonKeys[c.name]! : null));
  const fieldCount = keyLists.reduce((n, keys) => n + 1 + (keys?.length ?? 0), 0);
  const decodeText = (text: string): Record<string, unknown> => {
    const unescaped = onlyNullEscapes(text);
    // Without escapes there is no `\<TAB>`: every TAB ends a field.
    const fields = unescaped ? text.split("\t") : splitCopyLineRaw(text);
    const decoders = unescaped ? unescapedDecoders : escapedDecoders;
    const decodeJson = unescaped ? asUnescapedJson : asJson;
    if (fields.length !== fieldCount) throw new Error(`COPY row has ${fields.length} fields, expected ${fieldCount}`);
    const row: Record<string, unknown> = {};
    for (let i = 0, f = 0; i < names.length; i++) {
      const raw = fields[f++]!;
      const keys = keyLists[i];
      if (keys) {
        row[names[i]!] = raw === "{}" ? objectOfKeys(keys, fields, f, decodeJson) : raw === COPY_NULL ? null : decoders[i]!(raw);
        f += keys.length;
      } else {
        row[names[i]!] = raw === COPY_NULL ? null : decoders[i]!(raw);
      }
    }
    return row;
  };
  return {
    selectList: columns
      .map((c, i) => (keyLists[i] ? jsonKeysSelect(c.name, c.type, keyLists[i], quote) : copySelectList([c], quote)))
      .join(", "),
    decode: (line) => decodeText(utf8.decode(line)),
    decodeText,
  };
}
