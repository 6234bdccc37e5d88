import { positionOf, type XmlIssue } from "./xml-issue.ts";

/** Resource limits applied to every IATI XML document before libxml2 sees it. */
export interface XmlLimits {
  /** Largest accepted document, in UTF-8 bytes. */
  maxBytes: number;
  /** Deepest accepted element nesting (the root element is depth 1). */
  maxDepth: number;
  /**
   * Largest top-level piece of a document, in UTF-8 bytes: one activity, or what lies between two
   * (or before the first, or after the last). Validation and indexing hold one such piece, its
   * tree and its flattened documents at a time, so this bounds their memory: indexing one 2 MiB
   * activity (4,300 transactions) peaks near 200 MB, a 3 MiB one near 240 MB, against the 300 MB
   * goal (measured with `bun run bench --only iati-memory --large-activity-mb N`). A larger
   * activity is skipped and counted invalid (`activity_too_large`); anything else larger refuses
   * the document.
   */
  maxPieceBytes: number;
}

/**
 * Defaults: 50 MB is above the largest IATI files published in practice, and IATI
 * documents nest about 8 levels deep, so 256 (libxml2's own default) leaves room.
 */
export const DEFAULT_XML_LIMITS: Readonly<XmlLimits> = Object.freeze({
  maxBytes: 50 * 1024 * 1024,
  maxDepth: 256,
  maxPieceBytes: 2 * 1024 * 1024,
});

/** Where one top-level `<iati-activity>` element sits in the source text (UTF-16 offsets). */
export interface ElementSpan {
  /** Offset of its `<`. */
  start: number;
  /** Offset just after its closing `>`. */
  end: number;
}

/** What the pre-parse scan learned about a document. */
export interface XmlScan {
  /** Why the document must not be parsed at all, or null when it may be. */
  rejection: XmlIssue | null;
  /** Qualified name of the first element, or null if none was seen. */
  rootName: string | null;
  /** Spans of the root's `<iati-activity>` children, in document order. */
  activitySpans: ElementSpan[];
}

export const DTD_KEYWORDS = ["DOCTYPE", "ENTITY", "ELEMENT", "ATTLIST", "NOTATION"];

/** Resolves caller overrides against the defaults. */
export function resolveLimits(overrides?: Partial<XmlLimits>): XmlLimits {
  return { ...DEFAULT_XML_LIMITS, ...overrides };
}

/**
 * Cheap, linear pre-parse scan that rejects what IATI never needs and attackers love:
 * oversized files, any DTD (hence no entity declarations, no billion laughs, no XXE,
 * no external DTD fetch) and excessive nesting. It also records the source spans of the
 * activities so invalid ones can later be cut out without re-serialising the document.
 *
 * It is not a parser: on malformed input it stops quietly and leaves the diagnosis to
 * libxml2, whose messages are better.
 */
export function scanXml(xml: string, limits: XmlLimits): XmlScan {
  const scan: XmlScan = { rejection: null, rootName: null, activitySpans: [] };

  const bytes = Buffer.byteLength(xml, "utf8");
  if (bytes > limits.maxBytes) {
    scan.rejection = {
      line: 0,
      column: 0,
      severity: "fatal",
      message: `Document is ${bytes} bytes, above the limit of ${limits.maxBytes} bytes`,
    };
    return scan;
  }

  const reject = (offset: number, message: string): XmlScan => {
    scan.rejection = { ...positionOf(xml, offset), severity: "fatal", message };
    return scan;
  };

  let depth = 0;
  let activityStart = -1;
  let pos = 0;
  for (;;) {
    const lt = xml.indexOf("<", pos);
    if (lt === -1) break;
    const next = xml[lt + 1];

    if (next === "!") {
      if (xml.startsWith("<!--", lt)) {
        const end = xml.indexOf("-->", lt + 4);
        if (end === -1) break;
        pos = end + 3;
        continue;
      }
      if (xml.startsWith("<![CDATA[", lt)) {
        const end = xml.indexOf("]]>", lt + 9);
        if (end === -1) break;
        pos = end + 3;
        continue;
      }
      const keyword = /^<!([A-Za-z]+)/.exec(xml.slice(lt, lt + 12))?.[1]?.toUpperCase();
      if (keyword === "DOCTYPE") {
        return reject(lt, "DOCTYPE is not allowed in IATI documents (it could declare entities or load an external DTD)");
      }
      if (keyword !== undefined && DTD_KEYWORDS.includes(keyword)) {
        return reject(lt, `<!${keyword}> declarations are not allowed in IATI documents`);
      }
      pos = lt + 2;
      continue;
    }

    if (next === "?") {
      const end = xml.indexOf("?>", lt + 2);
      if (end === -1) break;
      pos = end + 2;
      continue;
    }

    if (next === "/") {
      const end = xml.indexOf(">", lt + 2);
      if (end === -1) break;
      depth -= 1;
      if (depth === 1 && activityStart !== -1) {
        scan.activitySpans.push({ start: activityStart, end: end + 1 });
        activityStart = -1;
      }
      pos = end + 1;
      continue;
    }

    const tagEnd = findStartTagEnd(xml, lt + 1);
    if (tagEnd === -1) break;
    const selfClosing = xml[tagEnd - 1] === "/";
    const name = /^[^\s/>]+/.exec(xml.slice(lt + 1, Math.min(tagEnd, lt + 200)))?.[0] ?? "";
    if (depth === 0 && scan.rootName === null) scan.rootName = name;
    if (depth === 1 && name === "iati-activity") {
      if (selfClosing) scan.activitySpans.push({ start: lt, end: tagEnd + 1 });
      else activityStart = lt;
    }
    if (depth + 1 > limits.maxDepth) {
      return reject(lt, `Elements are nested more than ${limits.maxDepth} levels deep`);
    }
    if (!selfClosing) depth += 1;
    pos = tagEnd + 1;
  }
  return scan;
}

/** Offset of the `>` closing a start tag, skipping `>` inside quoted attribute values; -1 if none. */
export function findStartTagEnd(xml: string, from: number): number {
  const special = /["'>]/g;
  special.lastIndex = from;
  for (;;) {
    const match = special.exec(xml);
    if (match === null) return -1;
    if (match[0] === ">") return match.index;
    const closingQuote = xml.indexOf(match[0], match.index + 1);
    if (closingQuote === -1) return -1;
    special.lastIndex = closingQuote + 1;
  }
}
