/**
 * COPY text rows straight to the JSON documents of a projection dataset (one without a
 * `toDocument`: its document is the row as `row_to_json` shapes it, plus `id`), with no row object
 * in between. Each field's COPY text is spliced into the document by its column's kind:
 *
 *   text     → a JSON string (COPY's escapes undone only when the field has any)
 *   number   → its digits as they are (NaN and ±Infinity as strings, as `row_to_json` writes them)
 *   boolean  → true / false
 *   json, to_json'd types → the server's JSON text as it is (re-serialized only when it holds a line break)
 *   \N       → null
 *
 *   "6f1c…\t\"2020-01-01T00:00:00+00:00\"\t[{\"name\": \"cat\"}]"
 *     → {id: "6f1c…", json: '{"identifier":"6f1c…","created_on":"2020-01-01T00:00:00+00:00","tags":[{"name": "cat"}],"id":"6f1c…"}'}
 *
 * Hand-written because measured speed demands it (issue 12): the jsonb columns are never parsed
 * and the document never exists as an object, which is most of what building a document cost.
 * The document equals, once parsed, the default `toDocument`'s `{...row, id: String(row[key])}`
 * over copy-row-reader's row (tested beside), except that a number keeps the digits PostgreSQL
 * wrote (`1.50`, a bigint past 2^53) where the object path rounds it through a double.
 */
import { COPY_NULL, splitCopyLineRaw, unescapeCopyText } from "./copy-text.ts";
import { columnKind, type ColumnKind, type CopyLineReader, copySelectList, FIELD_DECODERS, type TableColumn } from "./copy-row-reader.ts";

/** Each line to the document's id and its JSON text (one line); selects what copyRowReader selects. */
export type CopyRowJson = CopyLineReader<{ id: string; json: string }>;

type FieldEncoder = (raw: string) => string;

const asJsonString: FieldEncoder = (raw) => JSON.stringify(raw.indexOf("\\") === -1 ? raw : unescapeCopyText(raw));
const asBooleanJson: FieldEncoder = (raw) => (raw === "t" ? "true" : "false");
/** A JSON number ends in a digit; PostgreSQL's NaN, Infinity and -Infinity do not. */
const asNumberJson: FieldEncoder = (raw) => {
  const last = raw.charCodeAt(raw.length - 1);
  return last >= 48 && last <= 57 ? raw : JSON.stringify(raw);
};
/**
 * JSON text from the server. COPY escapes its backslashes and any control character; a line
 * break can only be whitespace between tokens (a `json` column keeps its input's), and would end
 * the NDJSON line, so such a value is written again compactly.
 */
const asJsonText: FieldEncoder = (raw) => {
  if (raw.indexOf("\\") === -1) return raw;
  const text = unescapeCopyText(raw);
  return text.indexOf("\n") === -1 && text.indexOf("\r") === -1 ? text : JSON.stringify(JSON.parse(text));
};

const ENCODERS: Readonly<Record<ColumnKind, FieldEncoder>> = { text: asJsonString, boolean: asBooleanJson, number: asNumberJson, json: asJsonText, to_json: asJsonText };

/** `key`: the column whose value, as text, is the document's `id` (and `_id`). */
export function copyRowJson(columns: readonly TableColumn[], quote: (name: string) => string, key: string): CopyRowJson {
  const keyAt = columns.findIndex((c) => c.name === key);
  if (keyAt === -1) throw new Error(`the key column ${key} is not among the table's columns`);
  const kinds = columns.map((c) => columnKind(c.type));
  const encoders = kinds.map((k) => ENCODERS[k]);
  const decodeKey = FIELD_DECODERS[kinds[keyAt]!];
  // `{...row, id}`: a column named id keeps its place and takes the key's text; else id comes last.
  const idAt = columns.findIndex((c) => c.name === "id");
  const prefixes = columns.map((c, i) => `${i === 0 ? "{" : ","}${JSON.stringify(c.name)}:`);
  const count = columns.length;
  return {
    selectList: copySelectList(columns, quote),
    decode(line) {
      const fields = splitCopyLineRaw(line);
      if (fields.length !== count) throw new Error(`COPY row has ${fields.length} fields, expected ${count}`);
      const rawKey = fields[keyAt]!;
      // String(row[key]) of the object path, so both paths give a row the same id.
      const id = String(rawKey === COPY_NULL ? null : decodeKey(rawKey));
      const idJson = JSON.stringify(id);
      let json = "";
      for (let i = 0; i < count; i++) {
        const raw = fields[i]!;
        json += prefixes[i]! + (i === idAt ? idJson : raw === COPY_NULL ? "null" : encoders[i]!(raw));
      }
      json += idAt === -1 ? `,"id":${idJson}}` : "}";
      return { id, json };
    },
  };
}
