import { ParseOption, XmlDocument, XmlLibError } from "libxml2-wasm";
import { scanXml, type XmlLimits, type XmlScan } from "./xml-guard.ts";
import { issueFromLibxml, type XmlIssue } from "./xml-issue.ts";

/**
 * libxml2 options for untrusted input. No NOENT (entities stay unexpanded), no DTDLOAD /
 * DTDATTR / DTDVALID (no DTD is ever fetched), NO_XXE and NONET as belts and braces
 * (the pre-parse scan already refuses any DOCTYPE). BIG_LINES keeps line numbers right
 * past line 65535. RECOVER is deliberately off: a broken file is reported, not guessed at.
 */
const BASE_PARSE_OPTIONS =
  ParseOption.XML_PARSE_NONET |
  ParseOption.XML_PARSE_NO_XXE |
  ParseOption.XML_PARSE_NO_SYS_CATALOG |
  ParseOption.XML_PARSE_BIG_LINES;

/** libxml2 refuses to nest deeper than this unless XML_PARSE_HUGE is set. */
const LIBXML_DEFAULT_MAX_DEPTH = 256;

/** A parsed document (the caller must dispose it) or the reasons it could not be parsed. */
export type SafeParseResult =
  | { ok: true; doc: XmlDocument; scan: XmlScan; warnings: XmlIssue[] }
  | { ok: false; issues: XmlIssue[]; scan: XmlScan };

/**
 * Parses untrusted XML text after the safety scan. Never throws: every failure,
 * including unexpected ones from the wasm module, becomes an issue.
 *
 * The text is always read as UTF-8, whatever its XML declaration says, because a JS
 * string has no other encoding; without this libxml2 would honour e.g.
 * `encoding="ISO-8859-1"` and garble every non-ASCII character.
 */
export function parseXmlSafely(xml: string, limits: XmlLimits): SafeParseResult {
  const scan = scanXml(xml, limits);
  if (scan.rejection !== null) return { ok: false, issues: [scan.rejection], scan };
  return { ...parseScannedXml(xml, limits), scan };
}

/**
 * Parses text that has already passed the safety scan (for example one batch of a large
 * document cut by XmlSplitter), with the same options as {@link parseXmlSafely}. Never throws.
 */
export function parseScannedXml(
  xml: string,
  limits: XmlLimits,
): { ok: true; doc: XmlDocument; warnings: XmlIssue[] } | { ok: false; issues: XmlIssue[] } {
  const option =
    limits.maxDepth > LIBXML_DEFAULT_MAX_DEPTH ? BASE_PARSE_OPTIONS | ParseOption.XML_PARSE_HUGE : BASE_PARSE_OPTIONS;
  try {
    const doc = XmlDocument.fromString(xml, { option, encoding: "utf-8" });
    return { ok: true, doc, warnings: doc.warnings.map(issueFromLibxml) };
  } catch (error) {
    return { ok: false, issues: issuesFromError(error, "XML could not be parsed") };
  }
}

/** Turns anything thrown by libxml2-wasm into issues, keeping libxml2's own diagnostics. */
export function issuesFromError(error: unknown, context: string): XmlIssue[] {
  if (error instanceof XmlLibError && error.details.length > 0) return error.details.map(issueFromLibxml);
  const reason = error instanceof Error ? error.message : String(error);
  return [{ line: 0, column: 0, severity: "fatal", message: `${context}: ${reason}` }];
}
