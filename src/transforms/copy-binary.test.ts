import { describe, expect, test } from "bun:test";
import { ByteBuilder } from "./byte-builder.ts";
import {
  type BinaryTuple,
  binaryField,
  binaryKeyAsText,
  COPY_BINARY_HEADER,
  COPY_BINARY_TRAILER,
  CopyBinaryError,
  CopyBinaryTupleReader,
  hasPortableBinaryFormat,
  isTextType,
  writeBinaryTuple,
} from "./copy-binary.ts";

/** A COPY binary stream from rows of already-encoded values. */
function encodeBinaryRows(rows: readonly (readonly (Uint8Array | null)[])[]): Uint8Array {
  const out = new ByteBuilder();
  out.appendBytes(COPY_BINARY_HEADER);
  for (const row of rows) {
    out.appendInt16(row.length);
    for (const value of row) {
      out.appendInt32(value === null ? -1 : value.length);
      if (value !== null) out.appendBytes(value);
    }
  }
  out.appendBytes(COPY_BINARY_TRAILER);
  return out.take();
}

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

const rows: (string | null)[][] = [
  ["1", "plain", null],
  ["2", "", "tab\tnewline\n backslash \\ é😀"],
  [null, null, null],
  ["4", "x".repeat(70_000), "last"],
];
const stream = encodeBinaryRows(rows.map((r) => r.map((v) => (v === null ? null : enc(v)))));

/** Reads `bytes` pushed in pieces of `size`; returns each tuple's fields as text. */
function readInPieces(bytes: Uint8Array, size: number): (string | null)[][] {
  const reader = new CopyBinaryTupleReader();
  const out: (string | null)[][] = [];
  const onTuple = (t: BinaryTuple) => out.push(Array.from({ length: t.fieldCount }, (_, i) => dec(binaryField(t, i))));
  let counted = 0;
  for (let at = 0; at < bytes.length; at += size) counted += reader.push(bytes.slice(at, at + size), onTuple);
  reader.end();
  expect(counted).toBe(out.length);
  return out;
}

describe("CopyBinaryTupleReader", () => {
  test("reads the same tuples whatever the chunking, header and trailer included", () => {
    for (const size of [1, 2, 3, 7, 19, 20, 64, 4096, stream.length]) expect(readInPieces(stream, size)).toEqual(rows);
  });

  test("a tuple's bytes, rewritten unchanged, are the tuple as it came", () => {
    const out = new ByteBuilder();
    out.appendBytes(COPY_BINARY_HEADER);
    new CopyBinaryTupleReader().push(stream, (t) => writeBinaryTuple(out, t, new Map()));
    out.appendInt16(-1);
    expect(Buffer.from(out.take()).equals(Buffer.from(stream))).toBe(true);
  });

  test("writeBinaryTuple replaces the fields it is given, NULL included", () => {
    const out = new ByteBuilder();
    out.appendBytes(COPY_BINARY_HEADER);
    new CopyBinaryTupleReader().push(stream, (t) =>
      writeBinaryTuple(out, t, new Map<number, Uint8Array | null>([[1, enc("new")], [2, null]])),
    );
    out.appendInt16(-1);
    expect(readInPieces(out.take(), 5)).toEqual(rows.map((r) => [r[0]!, "new", null]));
  });

  test("refuses what is not a COPY binary stream, or stops short", () => {
    const reader = () => new CopyBinaryTupleReader();
    expect(() => reader().push(enc("1\tplain\t\\N\n".repeat(3)), () => {})).toThrow(CopyBinaryError);
    const withOids = Uint8Array.from(COPY_BINARY_HEADER);
    withOids[12] = 1; // flags bit 16
    expect(() => reader().push(withOids, () => {})).toThrow("WITH OIDS");
    const cut = reader();
    cut.push(stream.subarray(0, stream.length - 10), () => {});
    expect(() => cut.end()).toThrow("inside a row");
    const noTrailer = reader();
    noTrailer.push(stream.subarray(0, stream.length - 2), () => {});
    expect(() => noTrailer.end()).toThrow("end-of-data marker");
    expect(() => reader().push(Uint8Array.from([...stream, 0, 1]), () => {})).toThrow("after the end-of-data");
    const badLength = Uint8Array.from(encodeBinaryRows([[enc("a")]]));
    badLength.set([0xff, 0xff, 0xff, 0xfe], COPY_BINARY_HEADER.length + 2);
    expect(() => reader().push(badLength, () => {})).toThrow("bad field length -2");
  });
});

describe("types", () => {
  test("portable binary formats are the built-in scalar types and their arrays", () => {
    for (const type of ["uuid", "character varying(3000)", "timestamp(3) with time zone", "jsonb", "integer[]", "numeric(12,2)", "int8", "timestamptz", "text[][]"]) {
      expect([type, hasPortableBinaryFormat(type)]).toEqual([type, true]);
    }
    for (const type of ["mood", "public.address", "mood[]", "hstore", "geometry", "tsvector"]) {
      expect([type, hasPortableBinaryFormat(type)]).toEqual([type, false]);
    }
    expect(isTextType("character varying(80)")).toBe(true);
    expect(isTextType("jsonb")).toBe(false);
  });

  test("binaryKeyAsText prints keys as PostgreSQL does", () => {
    const uuid = Uint8Array.from(Buffer.from("a0eebc999c0b4ef8bb6d6bb9bd380a11", "hex"));
    expect(binaryKeyAsText(uuid, "uuid")).toBe("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    expect(binaryKeyAsText(Uint8Array.of(0xff, 0xff, 0xff, 0xfe), "integer")).toBe("-2");
    expect(binaryKeyAsText(Uint8Array.of(0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), "bigint")).toBe("9223372036854775807");
    expect(binaryKeyAsText(Uint8Array.of(0, 7), "int2")).toBe("7");
    expect(binaryKeyAsText(enc("ключ"), "varchar(10)")).toBe("ключ");
    expect(binaryKeyAsText(Uint8Array.of(1, 0xab), "bytea")).toBe("\\x01ab");
  });
});
