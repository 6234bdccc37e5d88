import { describe, expect, test } from "bun:test";
import {
  COPY_NULL,
  CopyLineBuffer,
  CopyLineSplitter,
  CopyTextError,
  copyLineBatches,
  copyLines,
  escapeCopyText,
  joinCopyFields,
  joinCopyLine,
  onlyNullEscapes,
  splitCopyLine,
  splitCopyLineRaw,
  unescapeCopyField,
  unescapeCopyText,
} from "./copy-text.ts";

const encode = (s: string): Uint8Array => new TextEncoder().encode(s);
const decode = (b: Uint8Array): string => new TextDecoder().decode(b);

describe("splitCopyLineRaw", () => {
  test("splits on TAB and keeps escapes", () => {
    expect(splitCopyLineRaw("a\tb\\tc\t\\N")).toEqual(["a", "b\\tc", "\\N"]);
  });

  test("keeps empty fields at both ends", () => {
    expect(splitCopyLineRaw("\t\t")).toEqual(["", "", ""]);
    expect(splitCopyLineRaw("")).toEqual([""]);
  });

  test("a backslash before a raw TAB makes the TAB data", () => {
    expect(splitCopyLineRaw("a\\\tb\tc")).toEqual(["a\\\tb", "c"]);
  });

  test("an escaped backslash before a TAB does not escape the TAB", () => {
    expect(splitCopyLineRaw("a\\\\\tb")).toEqual(["a\\\\", "b"]);
  });

  test("many escapes across many fields", () => {
    const line = "x\\\\y\t\\n\\t\t\\\\\\\\\tend";
    expect(splitCopyLineRaw(line)).toEqual(["x\\\\y", "\\n\\t", "\\\\\\\\", "end"]);
  });
});

describe("onlyNullEscapes", () => {
  test("true when every backslash is a \\N field of its own", () => {
    for (const line of ["", "a\tb", "\\N", "a\t\\N\tb", "\\N\t\\N", "\t\\N\t"]) expect([line, onlyNullEscapes(line)]).toEqual([line, true]);
  });
  test("false for any other escape, \\N within a field included", () => {
    for (const line of ["a\\tb", "x\\N", "\\Nx\tb", "a\t\\\\N", "\\", "a\t\\N\tb\\\\"]) expect([line, onlyNullEscapes(line)]).toEqual([line, false]);
  });
});

describe("unescapeCopyText", () => {
  test("simple escapes", () => {
    expect(unescapeCopyText("\\\\ \\t \\n \\r \\b \\f \\v")).toBe("\\ \t \n \r \b \f \v");
  });

  test("a backslash before another character yields that character", () => {
    expect(unescapeCopyText("\\a\\.\\N")).toBe("a.N");
  });

  test("octal escapes take up to three digits", () => {
    expect(unescapeCopyText("\\101\\1010")).toBe("AA0");
    expect(unescapeCopyText("\\7x")).toBe("\x07x");
  });

  test("hex escapes take one or two digits; \\x without a digit is x", () => {
    expect(unescapeCopyText("\\x41\\x4g\\xz")).toBe("A\x04gxz");
  });

  test("byte escapes form UTF-8", () => {
    expect(unescapeCopyText("caf\\303\\251!")).toBe("café!");
    expect(unescapeCopyText("\\xe2\\x82\\xac")).toBe("€");
  });

  test("byte escapes that are not UTF-8 throw", () => {
    expect(() => unescapeCopyText("\\303x")).toThrow(CopyTextError);
  });

  test("a lone trailing backslash is dropped", () => {
    expect(unescapeCopyText("ab\\")).toBe("ab");
  });

  test("no escapes returns the same string", () => {
    const s = "plain text";
    expect(unescapeCopyText(s)).toBe(s);
  });
});

describe("unescapeCopyField and splitCopyLine", () => {
  test("\\N is null but \\\\N is the text \\N", () => {
    expect(unescapeCopyField("\\N")).toBeNull();
    expect(unescapeCopyField("\\\\N")).toBe("\\N");
  });

  test("splitCopyLine decodes every field", () => {
    expect(splitCopyLine("1\t\\N\ta\\tb\t")).toEqual(["1", null, "a\tb", ""]);
  });
});

describe("escapeCopyText / joinCopyLine", () => {
  test("escapes exactly what COPY TO escapes", () => {
    expect(escapeCopyText("a\\b\tc\nd\re\bf\fg\vh")).toBe("a\\\\b\\tc\\nd\\re\\bf\\fg\\vh");
    // Other control characters pass through unescaped, as PostgreSQL writes them.
    expect(escapeCopyText("\x01\x1f")).toBe("\x01\x1f");
  });

  test("joinCopyLine writes NULL as \\N", () => {
    expect(joinCopyLine(["a", null, "", "\\N"])).toBe("a\t\\N\t\t\\\\N");
  });

  test("round trip of awkward values", () => {
    const values = ["tab\there", "nl\nhere", "\\", "\\N", null, "", "é€😀", "{\"json\": \"a\\\\b\"}", "\r\n"];
    expect(splitCopyLine(joinCopyLine(values))).toEqual(values);
  });

  test("raw split and join are inverse", () => {
    const line = "a\\tb\t\\N\tc\\\\";
    expect(joinCopyFields(splitCopyLineRaw(line))).toBe(line);
  });

  test("COPY_NULL is the two characters backslash and N", () => {
    expect(COPY_NULL).toBe("\\N");
  });
});

describe("CopyLineBuffer", () => {
  test("isWholeLine: one complete line and nothing pending", () => {
    const enc = (t: string) => new TextEncoder().encode(t);
    const buffer = new CopyLineBuffer();
    expect(buffer.isWholeLine(enc("a\tb\n"))).toBe(true);
    // Two lines, no LF, a data LF (`\<LF>`), an empty line: read by push instead.
    for (const chunk of ["a\nb\n", "a\tb", "a\\\n", "\n"]) expect([chunk, buffer.isWholeLine(enc(chunk))]).toEqual([chunk, false]);
    buffer.push(enc("held"));
    expect(buffer.isWholeLine(enc("a\tb\n"))).toBe(false);
  });

  test("lines across chunk boundaries", () => {
    const buf = new CopyLineBuffer();
    const out: string[] = [];
    for (const chunk of ["a\tb\nc", "d\te", "f\n\ng", "h"]) {
      for (const line of buf.push(encode(chunk))) out.push(decode(line));
    }
    const last = buf.end();
    if (last) out.push(decode(last));
    expect(out).toEqual(["a\tb", "cd\tef", "", "gh"]);
  });

  test("no trailing line when input ends with LF", () => {
    const buf = new CopyLineBuffer();
    expect(buf.push(encode("x\n")).map(decode)).toEqual(["x"]);
    expect(buf.end()).toBeNull();
  });

  test("a LF after an odd run of backslashes is data, also across chunks", () => {
    const buf = new CopyLineBuffer();
    const out: string[] = [];
    for (const chunk of ["a\\", "\nb\n", "c\\\\", "\nd\n"]) {
      for (const line of buf.push(encode(chunk))) out.push(decode(line));
    }
    expect(out).toEqual(["a\\\nb", "c\\\\", "d"]);
  });

  test("a multibyte character split across chunks is reassembled", () => {
    const bytes = encode("é\n");
    const buf = new CopyLineBuffer();
    expect(buf.push(bytes.subarray(0, 1))).toEqual([]);
    expect(buf.push(bytes.subarray(1)).map(decode)).toEqual(["é"]);
  });

  test("one byte at a time", () => {
    const text = "1\tx\\\\\n2\t\\N\n3\tz";
    const bytes = encode(text);
    const buf = new CopyLineBuffer();
    const out: string[] = [];
    for (let i = 0; i < bytes.length; i++) for (const l of buf.push(bytes.subarray(i, i + 1))) out.push(decode(l));
    const last = buf.end();
    if (last) out.push(decode(last));
    expect(out).toEqual(["1\tx\\\\", "2\t\\N", "3\tz"]);
  });
});

describe("stream helpers", () => {
  async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
    for (const p of parts) yield encode(p);
  }

  test("copyLines and copyLineBatches", async () => {
    const lines: string[] = [];
    for await (const l of copyLines(chunks("a\nb", "\nc"))) lines.push(decode(l));
    expect(lines).toEqual(["a", "b", "c"]);

    const batches: string[][] = [];
    for await (const b of copyLineBatches(chunks("a\nb\n", "c", "\n"))) batches.push(b.map(decode));
    expect(batches).toEqual([["a", "b"], ["c"]]);
  });

  test("CopyLineSplitter as a TransformStream", async () => {
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encode("1\tfoo\n2\tb"));
        controller.enqueue(encode("ar\n3\tlast"));
        controller.close();
      },
    }).pipeThrough(new CopyLineSplitter());
    const lines: string[] = [];
    for await (const l of stream) lines.push(decode(l));
    expect(lines).toEqual(["1\tfoo", "2\tbar", "3\tlast"]);
  });
});
