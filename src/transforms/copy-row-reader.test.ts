import { describe, expect, test } from "bun:test";
import { copyRowReader } from "./copy-row-reader.ts";

const quote = (n: string) => `"${n}"`;
const bytes = (line: string) => Buffer.from(line);

describe("copyRowReader", () => {
  const reader = copyRowReader(
    [
      { name: "id", type: "uuid" },
      { name: "title", type: "character varying(200)" },
      { name: "width", type: "integer" },
      { name: "score", type: "double precision" },
      { name: "ok", type: "boolean" },
      { name: "tags", type: "jsonb" },
      { name: "created_on", type: "timestamp with time zone" },
      { name: "names", type: "text[]" },
    ],
    quote,
  );

  test("sends only the types without a plain JSON form through to_json", () => {
    expect(reader.selectList).toBe(`"id", "title", "width", "score", "ok", "tags", to_json("created_on") AS "created_on", to_json("names") AS "names"`);
  });

  test("decodes each field by its type, with COPY escapes undone", () => {
    const line = [
      "6f1c2b9e-0000-4000-8000-000000000001",
      "tab\\there\\nnew line \\\\ café",
      "640",
      "NaN",
      "t",
      '[{"name": "a\\\\"b"}]',
      '"2020-01-01T00:00:00+00:00"',
      '["x","y"]',
    ].join("\t");
    expect(reader.decode(bytes(line))).toEqual({
      id: "6f1c2b9e-0000-4000-8000-000000000001",
      title: "tab\there\nnew line \\ café",
      width: 640,
      score: "NaN",
      ok: true,
      tags: [{ name: 'a"b' }],
      created_on: "2020-01-01T00:00:00+00:00",
      names: ["x", "y"],
    });
  });

  test("a line whose only backslashes are its NULLs is read as split, one with any other escape is unescaped", () => {
    const plain = ["6f1c2b9e-0000-4000-8000-000000000001", "\\N", "640", "\\N", "t", '[{"name": "a"}]', '"2020-01-01T00:00:00+00:00"', "\\N"];
    expect(reader.decode(bytes(plain.join("\t")))).toEqual({
      id: "6f1c2b9e-0000-4000-8000-000000000001",
      title: null,
      width: 640,
      score: null,
      ok: true,
      tags: [{ name: "a" }],
      created_on: "2020-01-01T00:00:00+00:00",
      names: null,
    });
    // `x\N` within a field is the escape of N, not a NULL: the line takes the unescaping path.
    const escaped = plain.with(1, "x\\N").with(6, '"\\\\\\\\N"');
    expect(reader.decode(bytes(escaped.join("\t")))).toMatchObject({ title: "xN", score: null, created_on: "\\N" });
  });

  test("\\N is null in every type", () => {
    expect(Object.values(reader.decode(bytes(Array(8).fill("\\N").join("\t"))))).toEqual(Array(8).fill(null));
  });

  test("a line with the wrong number of fields is an error, not a shifted row", () => {
    expect(() => reader.decode(bytes("a\tb"))).toThrow("2 fields, expected 8");
  });
});

test("a to_json string is read between its quotes when it has no escapes, and through JSON.parse when it has", () => {
  const reader = copyRowReader([{ name: "kind", type: "media_kind" }, { name: "note", type: "jsonb" }, { name: "n", type: "jsonb" }], quote);
  expect(reader.decode(bytes(['"photo"', '"say \\\\"hi\\\\"\\\\u00e9"', "12"].join("\t")))).toEqual({ kind: "photo", note: 'say "hi"é', n: 12 });
});

test("a JSON string field is the same whether sliced (no backslash) or parsed (escapes)", () => {
  const one = copyRowReader([{ name: "v", type: "jsonb" }], quote);
  for (const value of ["2020-01-01T00:00:00+00:00", "", "café ☕", 'say "hi"', "back\\slash", "tab\there", "line\nbreak", "\u0001"]) {
    // As COPY text writes it: JSON's escapes, then COPY's backslash doubled.
    const raw = JSON.stringify(value).replace(/\\/g, "\\\\");
    expect(one.decode(bytes(raw))).toEqual({ v: value });
  }
  expect(one.decode(bytes('"plain"'))).toEqual({ v: "plain" });
  expect(one.decode(bytes("[1,2]"))).toEqual({ v: [1, 2] });
  expect(one.decode(bytes("12"))).toEqual({ v: 12 });
});

describe("jsonKeys: only some keys of a json column", () => {
  const reader = copyRowReader(
    [
      { name: "id", type: "uuid" },
      { name: "meta", type: "jsonb" },
      { name: "raw", type: "json" },
    ],
    quote,
    { meta: ["license_url", "boost", "it's"], raw: ["a"] },
  );

  test("the server sends {} for an object, the value otherwise, then each key's value", () => {
    expect(reader.selectList).toBe(
      `"id", CASE WHEN jsonb_typeof("meta") = 'object' THEN '{}'::jsonb ELSE "meta" END AS "meta", "meta" -> 'license_url', "meta" -> 'boost', "meta" -> 'it''s', ` +
        `CASE WHEN json_typeof("raw") = 'object' THEN '{}'::json ELSE "raw" END AS "raw", "raw" -> 'a'`,
    );
  });

  test("an object holds the keys it has (a key present as null is kept), an absent key is left out", () => {
    const line = ["x", "{}", '"https://l"', "null", "\\N", "{}", "\\N"].join("\t");
    const row = reader.decode(bytes(line));
    expect(row).toEqual({ id: "x", meta: { license_url: "https://l", boost: null }, raw: {} });
    expect("boost" in (row.meta as object)).toBe(true);
    expect("it's" in (row.meta as object)).toBe(false);
  });

  test("a value that is not an object, or NULL, is read as it is", () => {
    expect(reader.decode(bytes(["x", "[1, 2]", "\\N", "\\N", "\\N", '"s"', "\\N"].join("\t")))).toEqual({ id: "x", meta: [1, 2], raw: "s" });
    expect(reader.decode(bytes(["x", "\\N", "\\N", "\\N", "\\N", "\\N", "\\N"].join("\t")))).toEqual({ id: "x", meta: null, raw: null });
  });

  test("a key named __proto__ is an own key, as JSON.parse makes it", () => {
    const one = copyRowReader([{ name: "m", type: "jsonb" }], quote, { m: ["__proto__"] });
    const { m } = one.decode(bytes(["{}", '{"polluted": true}'].join("\t"))) as { m: Record<string, unknown> };
    expect(Object.hasOwn(m, "__proto__")).toBe(true);
    expect((m as { polluted?: boolean }).polluted).toBeUndefined();
  });

  test("a column that is not read, or not json, is refused", () => {
    expect(() => copyRowReader([{ name: "id", type: "uuid" }], quote, { meta: ["a"] })).toThrow("index.jsonKeys names meta, which is not among the columns read of the rows");
    expect(() => copyRowReader([{ name: "id", type: "uuid" }], quote, { id: ["a"] })).toThrow("index.jsonKeys names id, a uuid column of the rows: only json and jsonb columns have keys");
  });
});
