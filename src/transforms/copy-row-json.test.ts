import { describe, expect, test } from "bun:test";
import { copyRowJson } from "./copy-row-json.ts";
import { copyRowReader, type TableColumn } from "./copy-row-reader.ts";

const quote = (n: string) => `"${n}"`;
const utf8 = new TextDecoder();
/** A reader's document for one line given as text, as text. */
const documentOf = (reader: ReturnType<typeof copyRowJson>, line: string | Uint8Array) => {
  const { id, json } = reader.decode(typeof line === "string" ? Buffer.from(line) : line);
  return { id, json: utf8.decode(json) };
};

/** Columns from a name → type map, in order. */
const columnsOf = (types: Record<string, string>): TableColumn[] => Object.entries(types).map(([name, type]) => ({ name, type }));

const columns: TableColumn[] = columnsOf({
  identifier: "uuid",
  title: "character varying(200)",
  width: "integer",
  score: "double precision",
  ok: "boolean",
  tags: "jsonb",
  raw: "json",
  created_on: "timestamp with time zone",
  names: "text[]",
});

/** The default toDocument over the object path: what the projection must equal. */
const objectPath = (cols: TableColumn[], key: string, line: string) => {
  const row = copyRowReader(cols, quote).decode(Buffer.from(line));
  return { ...row, id: String(row[key]) };
};

const lines = [
  ["6f1c2b9e-0000-4000-8000-000000000001", "plain title", "640", "0.5", "t", '[{"name": "cat", "accuracy": 0.9}]', '{"a": 1}', '"2020-01-01T00:00:00+00:00"', '["x","y"]'],
  // COPY escapes: tab, newline, backslash, a quote inside jsonb, unicode, and a json value with line breaks.
  ["6f1c2b9e-0000-4000-8000-000000000002", 'tab\\there\\nnew "line" \\\\ café \\u00e9', "-3", "NaN", "f", '[{"name": "a\\\\"b\\\\nc"}]', '{\\n  "a": [1,\\r\\n 2]\\n}', '"2021-06-01T10:00:00.5+00:00"', '["q\\\\"uote"]'],
  ["6f1c2b9e-0000-4000-8000-000000000003", "\\N", "\\N", "-Infinity", "\\N", "\\N", "\\N", "\\N", "\\N"],
  ["6f1c2b9e-0000-4000-8000-000000000004", "emoji 🐈 and \\x41 and \\101", "2147483647", "1e+100", "t", "[]", "null", '"infinity"', "[]"],
].map((fields) => fields.join("\t"));

describe("copyRowJson", () => {
  const json = copyRowJson(columns, quote, "identifier");

  test("selects what copyRowReader selects", () => {
    expect(json.selectList).toBe(copyRowReader(columns, quote).selectList);
  });

  test("each document, parsed, is the object path's {...row, id}, and stays on one line", () => {
    for (const line of lines) {
      const { id, json: text } = documentOf(json, line);
      expect(text).not.toContain("\n");
      expect(text).not.toContain("\r");
      const expected = objectPath(columns, "identifier", line);
      expect(JSON.parse(text)).toEqual(expected);
      expect(id).toBe(expected.id);
    }
  });

  test("a column named id keeps its place and takes the key's text; an integer key is its digits", () => {
    const cols = columnsOf({ id: "text", n: "bigint", title: "text" });
    const reader = copyRowJson(cols, quote, "n");
    const { id, json: text } = documentOf(reader, "old\t42\tt");
    expect(id).toBe("42");
    expect(text).toBe('{"id":"42","n":42,"title":"t"}');
    expect(JSON.parse(text)).toEqual(objectPath(cols, "n", "old\t42\tt"));
  });

  test("numbers keep PostgreSQL's digits; NaN and infinities become strings as row_to_json writes them", () => {
    const cols = columnsOf({ k: "text", v: "numeric" });
    const reader = copyRowJson(cols, quote, "k");
    expect(documentOf(reader, "a\t1.50").json).toBe('{"k":"a","v":1.50,"id":"a"}');
    expect(documentOf(reader, "a\t9007199254740993").json).toBe('{"k":"a","v":9007199254740993,"id":"a"}');
    expect(documentOf(reader, "a\tInfinity").json).toBe('{"k":"a","v":"Infinity","id":"a"}');
  });

  test("a row of the wrong width or an unknown key is refused", () => {
    expect(() => documentOf(json, "only\ttwo")).toThrow("COPY row has 2 fields, expected 9");
    expect(() => documentOf(json, `${lines[0]}\textra`)).toThrow("COPY row has 10 fields, expected 9");
    expect(() => copyRowJson(columns, quote, "nope")).toThrow("key column nope");
  });

  test("a text value with a quote or a raw control byte (COPY writes those as they are) is escaped as JSON.stringify escapes it", () => {
    const cols = columnsOf({ k: "text", t: "text" });
    const reader = copyRowJson(cols, quote, "k");
    for (const text of ['say "hi"', "bell \u0007 and escape \u001b", "del \u007f stays", 'k"ey']) {
      expect(documentOf(reader, `${text}\t${text}`).json).toBe(`{"k":${JSON.stringify(text)},"t":${JSON.stringify(text)},"id":${JSON.stringify(text)}}`);
    }
  });

  test("documents stay whole and unchanged across slabs: a document larger than a slab, and escaped values that move one mid-document", () => {
    const cols = columnsOf({ k: "integer", doc: "jsonb", note: "text" });
    const reader = copyRowJson(cols, quote, "k");
    const big = `{"s": "${"x".repeat(3 * 1024 * 1024)}"}`;
    const kept = [reader.decode(Buffer.from(`1\t${big}\t\\N`))];
    // Quotes take the escaped path, whose text may not fit the room left in the slab.
    const note = (k: number) => `say "hi" ${k} ${"z".repeat(k % 700)}`;
    // A plain Uint8Array works too (the stage gives Buffers).
    for (let k = 2; k < 8000; k++) kept.push(reader.decode(new TextEncoder().encode(`${k}\t{"n":${k}}\t${note(k)}`)));
    expect(utf8.decode(kept[0]!.json)).toBe(`{"k":1,"doc":${big},"note":null,"id":"1"}`);
    kept.slice(1).forEach((d, i) => {
      expect(utf8.decode(d.json)).toBe(JSON.stringify({ k: i + 2, doc: { n: i + 2 }, note: note(i + 2), id: String(i + 2) }));
    });
  });

  test("startBatch reuses the buffer: a batch's documents are written where the previous batch's were", () => {
    const reader = copyRowJson([{ name: "k", type: "integer" }], quote, "k");
    reader.startBatch!();
    const first = reader.decode(Buffer.from("1")).json;
    const second = reader.decode(Buffer.from("2")).json;
    expect(second.byteOffset).toBe(first.byteOffset + first.length);
    reader.startBatch!();
    const next = reader.decode(Buffer.from("3")).json;
    expect(next.buffer).toBe(first.buffer);
    expect(next.byteOffset).toBe(first.byteOffset);
    expect(utf8.decode(next)).toBe('{"k":3,"id":"3"}');
  });
});
