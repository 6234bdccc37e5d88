import { describe, expect, test } from "bun:test";
import iconv from "iconv-lite";
import { CHARSET_HEAD_BYTES, charsetFromContentType, charsetFromXmlDeclaration, decodePayload, decodePayloadParts } from "./charset.ts";
import { flattenActivities } from "./flatten.ts";
import { checkWellFormed } from "./xml-validate.ts";

const ascii = (text: string) => new Uint8Array(Buffer.from(text, "latin1"));
const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

/** A windows-1252 document whose narrative holds é, € and ’ (bytes 0xE9, 0x80, 0x92). */
function windows1252Document(declaredEncoding?: string): Uint8Array {
  const declaration = declaredEncoding ? `<?xml version="1.0" encoding="${declaredEncoding}"?>\n` : "";
  return concat(
    ascii(`${declaration}<iati-activities version="2.03"><iati-activity><iati-identifier>A</iati-identifier><title><narrative>Caf`),
    new Uint8Array([0xe9, 0x20, 0x80, 0x20, 0x92]),
    ascii(`</narrative></title></iati-activity></iati-activities>`),
  );
}
const NARRATIVE = "Café € ’";

describe("decodePayload", () => {
  test("windows-1252 from the XML declaration, with the declaration rewritten to UTF-8", () => {
    const result = decodePayload(windows1252Document("windows-1252"));
    expect(result).toMatchObject({ charset: "windows-1252" });
    if ("error" in result) throw new Error(result.reason);
    expect(result.text).toContain(`<narrative>${NARRATIVE}</narrative>`);
    expect(result.text.startsWith(`<?xml version="1.0" encoding="UTF-8"?>`)).toBe(true);
  });

  test("windows-1252 from the HTTP header beats the XML declaration", () => {
    const result = decodePayload(windows1252Document("UTF-8"), 'text/xml; charset="Windows-1252"');
    expect(result).toMatchObject({ charset: "windows-1252" });
    expect("text" in result && result.text).toContain(NARRATIVE);
  });

  test("ISO-8859-1 and US-ASCII labels decode as windows-1252, as browsers do", () => {
    for (const label of ["ISO-8859-1", "latin1", "us-ascii"]) {
      const result = decodePayload(windows1252Document(label));
      expect(result).toMatchObject({ charset: "windows-1252" });
      expect("text" in result && result.text).toContain(NARRATIVE);
    }
  });

  test("bytes windows-1252 leaves undefined keep their C1 code points instead of failing", () => {
    const result = decodePayload(concat(ascii("<a>"), new Uint8Array([0x81, 0x8d]), ascii("</a>")), "text/xml; charset=iso-8859-1");
    expect(result).toEqual({ text: "<a>\u0081\u008d</a>", charset: "windows-1252" });
  });

  test("the decoded windows-1252 document parses and flattens with its characters intact", () => {
    const result = decodePayload(windows1252Document("windows-1252"));
    if ("error" in result) throw new Error(result.reason);
    expect(checkWellFormed(result.text)).toEqual({ wellFormed: true, errors: [] });
    expect(flattenActivities(result.text)[0]?.title_narrative).toBe(NARRATIVE);
  });

  test("UTF-8 without any label", () => {
    const bytes = new TextEncoder().encode(`<a>${NARRATIVE}</a>`);
    expect(decodePayload(bytes)).toEqual({ text: `<a>${NARRATIVE}</a>`, charset: "utf-8" });
  });

  test("a UTF-8 BOM is removed", () => {
    const bytes = concat(new Uint8Array([0xef, 0xbb, 0xbf]), new TextEncoder().encode(`<a>é</a>`));
    expect(decodePayload(bytes)).toEqual({ text: "<a>é</a>", charset: "utf-8" });
  });

  test("a BOM beats a wrong HTTP charset", () => {
    const bytes = concat(new Uint8Array([0xef, 0xbb, 0xbf]), new TextEncoder().encode(`<a>é</a>`));
    expect(decodePayload(bytes, "text/xml; charset=iso-8859-1")).toEqual({ text: "<a>é</a>", charset: "utf-8" });
  });

  test("UTF-16LE with a BOM, declaration rewritten", () => {
    const xml = `<?xml version="1.0" encoding="UTF-16"?><a>${NARRATIVE}</a>`;
    const bytes = concat(new Uint8Array([0xff, 0xfe]), new Uint8Array(iconv.encode(xml, "utf-16le")));
    expect(decodePayload(bytes)).toEqual({
      text: `<?xml version="1.0" encoding="UTF-8"?><a>${NARRATIVE}</a>`,
      charset: "utf-16le",
    });
  });

  test("UTF-16BE without a BOM, recognised from '<?'", () => {
    const xml = `<?xml version="1.0" encoding="UTF-16"?><a>${NARRATIVE}</a>`;
    const result = decodePayload(new Uint8Array(iconv.encode(xml, "utf-16be")));
    expect(result).toEqual({ text: `<?xml version="1.0" encoding="UTF-8"?><a>${NARRATIVE}</a>`, charset: "utf-16be" });
  });

  test("a UTF-16 declaration on UTF-8 bytes is ignored", () => {
    const bytes = new TextEncoder().encode(`<?xml version="1.0" encoding="UTF-16"?><a>é</a>`);
    expect(decodePayload(bytes)).toEqual({ text: `<?xml version="1.0" encoding="UTF-8"?><a>é</a>`, charset: "utf-8" });
  });

  test("other iconv-lite charsets (ISO-8859-7) decode", () => {
    const xml = `<?xml version='1.0' encoding='ISO-8859-7'?><a>Καλημέρα</a>`;
    const result = decodePayload(new Uint8Array(iconv.encode(xml, "iso-8859-7")));
    expect(result).toEqual({ text: `<?xml version='1.0' encoding='UTF-8'?><a>Καλημέρα</a>`, charset: "iso-8859-7" });
  });

  describe("charset errors (the refresher's code 2)", () => {
    test("bytes that are not UTF-8 and no label", () => {
      expect(decodePayload(windows1252Document())).toMatchObject({ error: "charset", reason: expect.stringContaining("not valid utf-8") });
    });

    test("an HTTP charset the bytes do not match", () => {
      expect(decodePayload(windows1252Document(), "application/xml; charset=utf-8")).toMatchObject({ error: "charset" });
    });

    test("an unknown declared charset", () => {
      expect(decodePayload(ascii(`<?xml version="1.0" encoding="x-klingon"?><a/>`))).toEqual({
        error: "charset",
        reason: 'unknown charset "x-klingon" (from XML declaration)',
      });
    });

    test("an unknown HTTP charset", () => {
      expect(decodePayload(ascii(`<a/>`), "text/xml; charset=bogus")).toMatchObject({ error: "charset" });
    });

    test("bytes undefined in a single-byte charset (0xAE in ISO-8859-7)", () => {
      expect(decodePayload(concat(ascii("<a>"), new Uint8Array([0xae]), ascii("</a>")), "text/xml; charset=iso-8859-7")).toMatchObject({
        error: "charset",
      });
    });

    test("UTF-16 with an odd number of bytes", () => {
      expect(decodePayload(new Uint8Array([0xff, 0xfe, 0x3c, 0x00, 0x61]))).toMatchObject({ error: "charset" });
    });

    test("UTF-16 with a lone surrogate", () => {
      expect(decodePayload(new Uint8Array([0xff, 0xfe, 0x3c, 0x00, 0x00, 0xd8, 0x3e, 0x00]))).toMatchObject({ error: "charset" });
    });
  });
});

describe("charsetFromContentType", () => {
  test.each([
    ["text/xml; charset=UTF-8", "utf-8"],
    ['application/xml;charset="ISO-8859-1"', "iso-8859-1"],
    ["text/xml; format=x; Charset = windows-1252 ; q=1", "windows-1252"],
    ["text/xml", undefined],
    ["text/xml; charset=", undefined],
  ])("%p → %p", (header, expected) => {
    expect(charsetFromContentType(header)).toBe(expected);
  });
});

describe("charsetFromXmlDeclaration", () => {
  test("reads single- or double-quoted encodings, lower-cased", () => {
    expect(charsetFromXmlDeclaration(ascii(`<?xml version="1.0" encoding="ISO-8859-15"?>`))).toBe("iso-8859-15");
    expect(charsetFromXmlDeclaration(ascii(`<?xml version='1.0' encoding='cp1252' standalone='yes'?>`))).toBe("cp1252");
  });

  test("ignores encodings outside the declaration", () => {
    expect(charsetFromXmlDeclaration(ascii(`<a encoding="latin1"/>`))).toBeUndefined();
    expect(charsetFromXmlDeclaration(ascii(`<?xml version="1.0"?><a encoding="latin1"/>`))).toBeUndefined();
  });
});

describe("decodePayloadParts", () => {
  /** What reload stored before it streamed: decodePayload's text in UTF-8 (UTF-8 payloads as received, without a BOM). */
  function whole(bytes: Uint8Array, contentType?: string) {
    const decoded = decodePayload(bytes, contentType);
    if ("error" in decoded) return decoded;
    const utf8 = decoded.charset === "utf-8" ? Buffer.from(bytes).subarray(bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0) : Buffer.from(decoded.text);
    return { charset: decoded.charset, utf8: utf8.toString("hex") };
  }
  async function inParts(bytes: Uint8Array, partBytes: number, contentType?: string) {
    let out: Uint8Array[] = [];
    const parts = async function* () {
      for (let i = 0; i < bytes.length; i += partBytes) yield bytes.subarray(i, i + partBytes);
    };
    const result = await decodePayloadParts(bytes.subarray(0, CHARSET_HEAD_BYTES), parts(), contentType, {
      write: async (utf8) => void out.push(utf8.slice()),
      restart: async () => void (out = []),
      whole: async () => bytes,
    });
    return "error" in result ? result : { charset: result.charset, utf8: Buffer.concat(out).toString("hex") };
  }
  const long = "Ünïcödé € ’ 日本語 😀 ".repeat(400);
  const doc = (text: string, encoding?: string) => `${encoding ? `<?xml version="1.0" encoding="${encoding}"?>\n` : ""}<iati-activities><x>${text}</x></iati-activities>`;
  const CASES: [string, Uint8Array, string?][] = [
    ["utf-8 with a BOM", concat(new Uint8Array([0xef, 0xbb, 0xbf]), new Uint8Array(Buffer.from(doc(long))))],
    ["utf-8, invalid bytes late", concat(new Uint8Array(Buffer.from(doc(long))), new Uint8Array([0xc3, 0x28]))],
    ["windows-1252 declared", windows1252Document("windows-1252")],
    ["windows-1252 from HTTP", concat(windows1252Document("UTF-8"), ascii(" ".repeat(3000))), "text/xml; charset=latin1"],
    ["utf-16le with a BOM", new Uint8Array(iconv.encode(doc(long, "UTF-16"), "utf-16le", { addBOM: true }))],
    ["utf-16be without a BOM", new Uint8Array(iconv.encode(doc(long, "UTF-16"), "utf-16be"))],
    ["utf-16le, odd length", concat(new Uint8Array(iconv.encode(doc(long), "utf-16le", { addBOM: true })), new Uint8Array([0x41]))],
    ["utf-16le, a lone surrogate", concat(new Uint8Array(iconv.encode(doc(long), "utf-16le", { addBOM: true })), new Uint8Array([0x00, 0xd8, 0x41, 0x00]))],
    ["shift_jis declared", new Uint8Array(iconv.encode(doc("日本語のテキスト".repeat(300), "Shift_JIS"), "shift_jis"))],
    ["utf-16le with a real U+FFFD", new Uint8Array(iconv.encode(doc(`${"日本語".repeat(500)}\uFFFD`, "utf-16le"), "utf-16le", { addBOM: true }))],
    ["shift_jis with an unmappable byte", concat(new Uint8Array(iconv.encode(doc("日本語".repeat(500), "Shift_JIS"), "shift_jis")), new Uint8Array([0x81, 0x7f]))],
    ["an unknown charset", ascii(doc("x", "x-unknown"))],
    ["empty", new Uint8Array(0)],
  ];
  for (const [name, bytes, contentType] of CASES) {
    test(`${name}: the same charset and bytes as decodePayload, whatever the parts`, async () => {
      const expected = whole(bytes, contentType);
      for (const partBytes of [1, 7, 1000, 4096, bytes.length + 1]) expect({ partBytes, ...(await inParts(bytes, partBytes, contentType)) }).toEqual({ partBytes, ...expected });
    });
  }
});
