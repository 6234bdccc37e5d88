import iconv from "iconv-lite";

/** A payload converted to text, with the charset it was decoded from (lower case). */
export interface DecodedPayload {
  /** The document as a string; its XML declaration, if any, now says UTF-8. */
  text: string;
  charset: string;
}

/**
 * The charset could not be determined or the bytes do not decode in it: the refresher's
 * error code 2, "charset could not be determined".
 */
export interface CharsetFailure {
  error: "charset";
  /** What went wrong, for logs. */
  reason: string;
}

/**
 * Converts a downloaded IATI file to text. The charset comes from, in order:
 * 1. a byte order mark, which is unambiguous and so beats HTTP (as in the WHATWG
 *    Encoding standard: servers mislabel files far more often than BOMs lie);
 * 2. the `charset` parameter of the HTTP Content-Type header;
 * 3. the XML declaration's `encoding="…"` (or UTF-16 recognised from `<?` without BOM);
 * 4. UTF-8, if the bytes are valid UTF-8.
 *
 * Decoding is strict: undecodable bytes give a {@link CharsetFailure}, never U+FFFD.
 * ISO-8859-1 and US-ASCII labels are decoded as windows-1252, as browsers do, because
 * files labelled Latin-1 that contain 0x80-0x9F almost always mean €, ’ and friends.
 * A non-UTF-8 encoding in the XML declaration is rewritten to UTF-8 so that parsers
 * read the returned text as what it now is.
 */
export function decodePayload(bytes: Uint8Array, contentTypeHeader?: string): DecodedPayload | CharsetFailure {
  const { label, source } = chooseCharset(bytes, contentTypeHeader);
  const charset = canonicalCharset(label);

  const text = decodeStrictly(bytes, charset);
  if (text === undefined) {
    const known = charset === "utf-8" || charset === "windows-1252" || iconv.encodingExists(charset);
    const reason = known
      ? `bytes are not valid ${charset} (charset from ${source})`
      : `unknown charset "${label}" (from ${source})`;
    return { error: "charset", reason };
  }
  return { text: declareUtf8(text), charset };
}

/** How much of a payload's start {@link decodePayloadParts} needs to choose its charset. */
export const CHARSET_HEAD_BYTES = 1024;

/**
 * {@link decodePayload} for a payload read in parts: the same charset and the same UTF-8 bytes
 * (the text {@link decodePayload} gives, encoded, without a leading byte order mark), handed to
 * `write` a part at a time, so a payload near the cap is never held whole in any form.
 *
 * `head` is the payload's first {@link CHARSET_HEAD_BYTES} bytes (or all of it, if shorter), and
 * `parts` the whole payload again from the start. `output.whole` reads the payload into memory for
 * the one case a part cannot settle: an iconv-decoded charset that gives U+FFFD, which only a round
 * trip of the whole proves faithful; `output.restart` then drops what was written so far. On a
 * failure some parts may already have been written.
 */
export async function decodePayloadParts(
  head: Uint8Array,
  parts: AsyncIterable<Uint8Array>,
  contentTypeHeader: string | undefined,
  output: { write(utf8: Uint8Array): Promise<void>; restart(): Promise<void>; whole(): Promise<Uint8Array> },
): Promise<{ charset: string } | CharsetFailure> {
  const write = (utf8: Uint8Array) => output.write(utf8);
  const { label, source } = chooseCharset(head, contentTypeHeader);
  const charset = canonicalCharset(label);
  const failure = (): CharsetFailure => {
    const known = charset === "utf-8" || charset === "windows-1252" || iconv.encodingExists(charset);
    return { error: "charset", reason: known ? `bytes are not valid ${charset} (charset from ${source})` : `unknown charset "${label}" (from ${source})` };
  };

  if (charset === "utf-8") {
    // Passed through as received (as decodePayload's caller stores UTF-8), once known to decode.
    const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    let bom = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
    try {
      for await (const part of parts) {
        decoder.decode(part, { stream: true });
        const dropped = Math.min(bom, part.byteLength);
        bom -= dropped;
        if (part.byteLength > dropped) await write(part.subarray(dropped));
      }
      decoder.decode();
    } catch (error) {
      if (error instanceof TypeError) return failure();
      throw error;
    }
    return { charset };
  }
  if (charset !== "windows-1252" && !iconv.encodingExists(charset)) return failure();

  const decoder = charset === "windows-1252" ? null : iconv.getDecoder(charset);
  const encoder = new TextEncoder();
  let bytes = 0;
  let pending = "";
  let started = false;
  let sawReplacement = false;
  /** Writes decoded text, holding back what may change: the declaration's start, a split surrogate pair. */
  const emit = async (text: string, final: boolean): Promise<boolean> => {
    pending += text;
    if (!started) {
      if (!final && pending.length < CHARSET_HEAD_BYTES) return true;
      pending = declareUtf8(pending.replace(/^\uFEFF/, ""));
      started = true;
    }
    let out = pending;
    pending = "";
    const last = out.charCodeAt(out.length - 1);
    if (!final && last >= 0xd800 && last <= 0xdbff) {
      pending = out.slice(-1);
      out = out.slice(0, -1);
    }
    if (!out.isWellFormed()) return false;
    if (decoder && out.includes("\uFFFD")) sawReplacement = true;
    if (!sawReplacement && out !== "") await write(encoder.encode(out));
    else if (sawReplacement) await output.restart();
    return true;
  };
  for await (const part of parts) {
    bytes += part.byteLength;
    const buffer = Buffer.from(part.buffer, part.byteOffset, part.byteLength);
    const text = decoder ? decoder.write(buffer) : decodeWindows1252(part);
    if (!(await emit(text, false))) return failure();
    if (sawReplacement) break;
  }
  if (sawReplacement) {
    // Rare (a U+FFFD in a legacy charset): the whole payload decides, as decodePayload does.
    const decoded = decodePayload(await output.whole(), contentTypeHeader);
    if ("error" in decoded) return decoded;
    await write(encoder.encode(decoded.text));
    return { charset: decoded.charset };
  }
  if (charset.startsWith("utf-16") && bytes % 2 !== 0) return failure();
  if (charset.startsWith("utf-32") && bytes % 4 !== 0) return failure();
  if (!(await emit(decoder?.end() ?? "", true))) return failure();
  return { charset };
}

function chooseCharset(bytes: Uint8Array, contentTypeHeader: string | undefined): { label: string; source: string } {
  const bom = byteOrderMark(bytes);
  if (bom) return { label: bom.charset, source: "byte order mark" };
  const http = contentTypeHeader === undefined ? undefined : charsetFromContentType(contentTypeHeader);
  if (http) return { label: http, source: "HTTP Content-Type" };
  const declared = charsetFromXmlDeclaration(bytes);
  if (declared) return { label: declared, source: "XML declaration" };
  return { label: "utf-8", source: "default" };
}

/** The `charset` parameter of a Content-Type header value, lower-cased, if any. */
export function charsetFromContentType(header: string): string | undefined {
  const match = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(header);
  const value = (match?.[1] ?? match?.[2] ?? "").trim();
  return value === "" ? undefined : value.toLowerCase();
}

interface ByteOrderMark {
  charset: string;
}

function byteOrderMark(bytes: Uint8Array): ByteOrderMark | undefined {
  const [b0, b1, b2, b3] = bytes;
  if (b0 === 0xef && b1 === 0xbb && b2 === 0xbf) return { charset: "utf-8" };
  // UTF-32 first: its little-endian BOM starts with the UTF-16LE one.
  if (b0 === 0xff && b1 === 0xfe && b2 === 0x00 && b3 === 0x00) return { charset: "utf-32le" };
  if (b0 === 0x00 && b1 === 0x00 && b2 === 0xfe && b3 === 0xff) return { charset: "utf-32be" };
  if (b0 === 0xff && b1 === 0xfe) return { charset: "utf-16le" };
  if (b0 === 0xfe && b1 === 0xff) return { charset: "utf-16be" };
  return undefined;
}

/**
 * The encoding named by the XML declaration, lower-cased. UTF-16 without a BOM is
 * recognised from the byte pattern of `<?` (XML 1.0 appendix F). A declaration that says
 * UTF-16 on bytes that are plainly ASCII-compatible is ignored, as libxml2 does.
 */
export function charsetFromXmlDeclaration(bytes: Uint8Array): string | undefined {
  const [b0, b1, b2, b3] = bytes;
  if (b0 === 0x00 && b1 === 0x3c && b2 === 0x00 && b3 === 0x3f) return "utf-16be";
  if (b0 === 0x3c && b1 === 0x00 && b2 === 0x3f && b3 === 0x00) return "utf-16le";

  // The declaration is ASCII in every ASCII-compatible encoding, so reading bytes as
  // Latin-1 is enough to find it.
  const head = iconv.decode(Buffer.from(bytes.subarray(0, 1024)), "latin1");
  const declared = XML_DECLARATION_ENCODING.exec(head)?.[2]?.toLowerCase();
  if (declared?.startsWith("utf-16")) return undefined;
  return declared;
}

const XML_DECLARATION_ENCODING = /^\s*<\?xml\s[^>]*?\bencoding\s*=\s*(["'])([A-Za-z][A-Za-z0-9._-]*)\1/;

/** Labels decoded as windows-1252, after the WHATWG Encoding standard. */
const WINDOWS_1252_LABELS = new Set([
  "windows-1252", "cp1252", "x-cp1252", "iso-8859-1", "iso8859-1", "iso_8859-1", "iso_8859-1:1987",
  "latin1", "l1", "iso-ir-100", "cp819", "ibm819", "csisolatin1", "us-ascii", "ascii", "ansi_x3.4-1968",
]);

function canonicalCharset(label: string): string {
  const lower = label.trim().toLowerCase();
  if (lower === "utf8" || lower === "unicode-1-1-utf-8") return "utf-8";
  if (WINDOWS_1252_LABELS.has(lower)) return "windows-1252";
  return lower;
}

/** Decodes, or returns undefined if the charset is unknown or any byte does not decode. */
function decodeStrictly(bytes: Uint8Array, charset: string): string | undefined {
  if (charset === "utf-8") {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      return undefined;
    }
  }
  if (charset === "windows-1252") return decodeWindows1252(bytes);
  if (!iconv.encodingExists(charset)) return undefined;
  if (charset.startsWith("utf-16") && bytes.length % 2 !== 0) return undefined;
  if (charset.startsWith("utf-32") && bytes.length % 4 !== 0) return undefined;

  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = iconv.decode(buffer, charset);
  if (!text.isWellFormed()) return undefined;
  // iconv-lite substitutes U+FFFD for bytes it cannot map; only a faithful round trip
  // proves a U+FFFD was really in the data.
  if (text.includes("\uFFFD") && !iconv.encode(text, charset).equals(withoutBom(buffer, charset))) return undefined;
  return text.replace(/^\uFEFF/, "");
}

function withoutBom(buffer: Buffer, charset: string): Buffer {
  if (!charset.startsWith("utf")) return buffer;
  const bom = iconv.encode("\uFEFF", charset);
  return bom.length > 0 && buffer.subarray(0, bom.length).equals(bom) ? buffer.subarray(bom.length) : buffer;
}

/**
 * windows-1252 as browsers decode it: Latin-1 plus 27 printable characters in
 * 0x80-0x9F; the five bytes windows-1252 leaves undefined keep their C1 code points.
 * Never fails, so iso-8859-1 files never lose data.
 */
function decodeWindows1252(bytes: Uint8Array): string {
  const latin1 = iconv.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), "latin1");
  return latin1.replace(/[\x80-\x9f]/g, (c1) => WINDOWS_1252_C1[c1.charCodeAt(0) - 0x80] ?? c1);
}

// prettier-ignore
const WINDOWS_1252_C1: readonly (string | undefined)[] = [
  "€", undefined, "‚", "ƒ", "„", "…", "†", "‡", "ˆ", "‰", "Š", "‹", "Œ", undefined, "Ž", undefined,
  undefined, "‘", "’", "“", "”", "•", "–", "—", "˜", "™", "š", "›", "œ", undefined, "ž", "Ÿ",
];

/** Rewrites the XML declaration's encoding to UTF-8 (text without a declaration is unchanged). */
function declareUtf8(text: string): string {
  return text.replace(
    /^(\s*<\?xml\s[^>]*?\bencoding\s*=\s*)(["'])([A-Za-z][A-Za-z0-9._-]*)\2/,
    (declaration, start: string, quote: string, encoding: string) =>
      /^utf-?8$/i.test(encoding) ? declaration : `${start}${quote}UTF-8${quote}`,
  );
}
