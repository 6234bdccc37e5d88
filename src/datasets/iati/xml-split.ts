import { DTD_KEYWORDS, findStartTagEnd, type XmlLimits } from "./xml-guard.ts";
import type { XmlIssue } from "./xml-issue.ts";

/**
 * What a document is cut into, in order; the pieces' texts joined give the document back exactly.
 *
 *   prolog (declaration, comments, the root's start tag) · other? · activity · other? · activity · … · epilogue
 *
 * `other` is everything at the root's top level between two activities (white space, comments, other
 * elements). `epilogue` starts at the root's end tag. A document the splitter cannot follow (truncated,
 * or no root at all) ends in whatever piece it was in; libxml2 says what is wrong with it.
 */
export interface XmlPiece {
  kind: "prolog" | "other" | "activity" | "epilogue";
  text: string;
  /** 1-based line and column of the piece's first character. */
  line: number;
  column: number;
  /**
   * Set on an activity larger than `maxPieceBytes`: it was streamed past, not held, so `text` is
   * empty. It is that activity's problem only; the others are read as usual.
   */
  oversized?: OversizedActivity;
}

/** What is known of an activity too large to hold: its size, and its iati-identifier if its start shows it. */
export interface OversizedActivity {
  /** Its size in UTF-8 bytes. */
  bytes: number;
  iatiIdentifier?: string;
}

/**
 * Cuts an XML text arriving in parts into top-level pieces, so that a large IATI document can be
 * parsed one batch of activities at a time, with the same safety rules as {@link scanXml}: no DTD,
 * a depth limit, a size limit, and also a limit on any one piece, which bounds what is ever held.
 * An activity over that limit is streamed past (only its size and the identifier at its start are
 * kept) and handed out as an empty {@link XmlPiece.oversized} piece; anything else over it (the
 * prolog, or what lies between activities, which cannot be checked without holding it and is the
 * whole document's content) refuses the document. So does a start tag over the limit inside a
 * skipped activity, the one construct that cannot be passed without holding it (long text,
 * comments and CDATA sections are passed a part at a time).
 *
 * Like scanXml it is not a parser: on malformed input it stops following the structure and leaves
 * the diagnosis to libxml2.
 */
export class XmlSplitter {
  #buf = "";
  #pos = 0;
  /** Start (in #buf) of the text not yet handed out as a piece, and its position in the document. */
  #emitFrom = 0;
  #line = 1;
  #column = 1;
  #depth = 0;
  #state: "prolog" | "inside" | "activity" | "epilogue" = "prolog";
  /** Set when the scan met something it cannot follow (e.g. a comment that never ends). */
  #stuck = false;
  #ended = false;
  #bytes = 0;
  #rejection: XmlIssue | null = null;
  /** The activity being streamed past, while it is. */
  #skipping: { line: number; column: number; bytes: number; iatiIdentifier?: string } | null = null;
  /** While skipping: the end of the comment, CDATA section or processing instruction the scan is in. */
  #skipUntil: string | null = null;
  rootName: string | null = null;
  /** Line and column where the root's start tag begins. */
  rootLine = 0;
  rootColumn = 0;
  /** Offset of the root's start tag in the prolog piece's text. */
  rootTagOffset = -1;

  constructor(private readonly limits: XmlLimits) {}

  /** The reason to refuse the document, once known; the size rejection is only certain after {@link end}. */
  get rejection(): XmlIssue | null {
    if (this.#ended && this.#bytes > this.limits.maxBytes) {
      return { line: 0, column: 0, severity: "fatal", message: `Document is ${this.#bytes} bytes, above the limit of ${this.limits.maxBytes} bytes` };
    }
    return this.#rejection;
  }

  /** Characters held between calls: what is not yet handed out or skipped (bounded by the piece limit and one part). */
  get heldChars(): number {
    return this.#buf.length - this.#emitFrom;
  }

  /** Adds text; returns the pieces it completed. */
  push(text: string): XmlPiece[] {
    this.#bytes += Buffer.byteLength(text, "utf8");
    if (this.#refused()) return [];
    this.#buf = this.#emitFrom > 0 ? this.#buf.slice(this.#emitFrom) + text : this.#buf + text;
    this.#pos -= this.#emitFrom;
    this.#emitFrom = 0;
    const pieces: XmlPiece[] = [];
    this.#scan(pieces);
    // What is still open must not grow past the limit either: an activity is streamed past from
    // here on, anything else refuses the document.
    while (!this.#refused() && !this.#skipping && this.#tooLarge(this.#buf.length)) {
      if (this.#state === "activity") {
        this.#startSkipping();
        // Again from where the scan waited: a comment or CDATA section it waited on is now passed.
        this.#scan(pieces);
      } else this.#rejectOversized(this.#state);
    }
    if (!this.#refused() && this.#skipping) {
      this.#dropScanned();
      if (this.#tooLarge(this.#buf.length)) {
        this.#reject(this.#pos, `A tag inside an oversized <iati-activity> is more than ${this.limits.maxPieceBytes} bytes, above the limit of ${this.limits.maxPieceBytes} bytes`);
      }
    }
    return this.#refused() ? [] : pieces;
  }

  /** Ends the input; returns the last pieces. */
  end(): XmlPiece[] {
    this.#ended = true;
    if (this.#refused()) return [];
    const pieces: XmlPiece[] = [];
    this.#scan(pieces);
    if (this.#refused()) return [];
    if (this.#skipping || this.#emitFrom < this.#buf.length) {
      const kind = this.#state === "inside" ? "other" : this.#state;
      this.#emit(pieces, kind, this.#buf.length);
    }
    this.#buf = "";
    this.#emitFrom = 0;
    this.#pos = 0;
    return pieces;
  }

  #refused(): boolean {
    if (this.#rejection === null && this.#bytes <= this.limits.maxBytes) return false;
    this.#buf = "";
    this.#pos = 0;
    this.#emitFrom = 0;
    return true;
  }

  #emit(pieces: XmlPiece[], kind: XmlPiece["kind"], end: number): void {
    if (this.#rejection) return;
    if (this.#skipping) {
      this.#dropScanned(end);
      const { line, column, bytes, iatiIdentifier } = this.#skipping;
      this.#skipping = null;
      this.#skipUntil = null;
      pieces.push({ kind: "activity", text: "", line, column, oversized: { bytes, ...(iatiIdentifier !== undefined ? { iatiIdentifier } : {}) } });
      return;
    }
    if (end <= this.#emitFrom) return;
    if (kind === "activity" && this.#tooLarge(end)) {
      // Whole in the buffer already (the caller's text held it): handed out like a skipped one.
      this.#startSkipping();
      this.#emit(pieces, kind, end);
      return;
    }
    if (this.#tooLarge(end)) {
      this.#rejectOversized(kind);
      return;
    }
    const text = this.#buf.slice(this.#emitFrom, end);
    pieces.push({ kind, text, line: this.#line, column: this.#column });
    this.#advance(text);
    this.#emitFrom = end;
  }

  /** Starts streaming past the activity that begins at #emitFrom; what its start shows is kept. */
  #startSkipping(): void {
    const head = this.#buf.slice(this.#emitFrom, this.#emitFrom + this.limits.maxPieceBytes);
    const iatiIdentifier = identifierAtStart(head);
    this.#skipping = { line: this.#line, column: this.#column, bytes: 0, ...(iatiIdentifier !== undefined ? { iatiIdentifier } : {}) };
  }

  /** While skipping: forgets the text scanned so far (or up to `end`), counting its bytes and lines. */
  #dropScanned(end = this.#pos): void {
    if (end <= this.#emitFrom) return;
    const text = this.#buf.slice(this.#emitFrom, end);
    this.#skipping!.bytes += Buffer.byteLength(text, "utf8");
    this.#advance(text);
    this.#emitFrom = end;
  }

  #advance(text: string): void {
    let lastBreak = -1;
    for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) {
      this.#line += 1;
      lastBreak = i;
    }
    this.#column = lastBreak === -1 ? this.#column + text.length : text.length - lastBreak;
  }

  /** Line and column of an offset in #buf at or after #emitFrom. */
  #positionOf(offset: number): { line: number; column: number } {
    const text = this.#buf.slice(this.#emitFrom, offset);
    let line = this.#line;
    let lastBreak = -1;
    for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) {
      line += 1;
      lastBreak = i;
    }
    return { line, column: lastBreak === -1 ? this.#column + text.length : text.length - lastBreak };
  }

  #reject(offset: number, message: string): void {
    this.#rejection = { ...this.#positionOf(offset), severity: "fatal", message };
  }

  /** Whether the text from #emitFrom to `end` is more than maxPieceBytes in UTF-8. */
  #tooLarge(end: number): boolean {
    const chars = end - this.#emitFrom;
    const limit = this.limits.maxPieceBytes;
    if (chars * 3 <= limit) return false;
    return chars > limit || Buffer.byteLength(this.#buf.slice(this.#emitFrom, end), "utf8") > limit;
  }

  #rejectOversized(kind: string): void {
    const what = kind === "activity" ? "An <iati-activity>" : "A part of the document";
    this.#reject(
      this.#emitFrom,
      `${what} starting here is more than ${this.limits.maxPieceBytes} bytes, above the limit of ${this.limits.maxPieceBytes} bytes for one activity`,
    );
  }

  /** Waits for more text at `offset`; at the end of the input, stops following the structure. */
  #wait(offset: number): boolean {
    this.#pos = offset;
    if (this.#ended) this.#stuck = true;
    return false;
  }

  /**
   * While skipping, inside a comment, CDATA section or processing instruction: passes its end, or
   * waits with only the last characters kept (they may begin the terminator), so that a long one
   * is never held whole.
   */
  #skipTo(terminator: string, from: number): boolean {
    const end = this.#buf.indexOf(terminator, from);
    if (end === -1) {
      this.#skipUntil = terminator;
      return this.#wait(Math.max(from, this.#buf.length - (terminator.length - 1)));
    }
    this.#skipUntil = null;
    this.#pos = end + terminator.length;
    return true;
  }

  #scan(pieces: XmlPiece[]): void {
    while (!this.#stuck && this.#rejection === null && this.#step(pieces));
  }

  /** Scans one markup construct; false when more text is needed (or the scan has stopped). */
  #step(pieces: XmlPiece[]): boolean {
    const buf = this.#buf;
    if (this.#skipUntil !== null) return this.#skipTo(this.#skipUntil, this.#pos);
    const lt = buf.indexOf("<", this.#pos);
    if (lt === -1) return this.#wait(buf.length);
    // Enough look-ahead to tell `<!DOCTYPE` from `<!--` and the like.
    if (!this.#ended && buf.length - lt < 12) return this.#wait(lt);
    const next = buf[lt + 1];

    if (next === "!") {
      if (buf.startsWith("<!--", lt)) {
        const end = buf.indexOf("-->", lt + 4);
        if (end === -1) return this.#skipping ? this.#skipTo("-->", lt + 4) : this.#wait(lt);
        this.#pos = end + 3;
        return true;
      }
      if (buf.startsWith("<![CDATA[", lt)) {
        const end = buf.indexOf("]]>", lt + 9);
        if (end === -1) return this.#skipping ? this.#skipTo("]]>", lt + 9) : this.#wait(lt);
        this.#pos = end + 3;
        return true;
      }
      const keyword = /^<!([A-Za-z]+)/.exec(buf.slice(lt, lt + 12))?.[1]?.toUpperCase();
      if (keyword === "DOCTYPE") {
        this.#reject(lt, "DOCTYPE is not allowed in IATI documents (it could declare entities or load an external DTD)");
        return false;
      }
      if (keyword !== undefined && DTD_KEYWORDS.includes(keyword)) {
        this.#reject(lt, `<!${keyword}> declarations are not allowed in IATI documents`);
        return false;
      }
      this.#pos = lt + 2;
      return true;
    }

    if (next === "?") {
      const end = buf.indexOf("?>", lt + 2);
      if (end === -1) return this.#skipping ? this.#skipTo("?>", lt + 2) : this.#wait(lt);
      this.#pos = end + 2;
      return true;
    }

    if (next === "/") {
      const end = buf.indexOf(">", lt + 2);
      if (end === -1) return this.#wait(lt);
      this.#depth -= 1;
      if (this.#depth === 1 && this.#state === "activity") {
        this.#emit(pieces, "activity", end + 1);
        this.#state = "inside";
      } else if (this.#depth === 0 && (this.#state === "inside" || this.#state === "activity")) {
        this.#emit(pieces, "other", lt);
        this.#state = "epilogue";
      }
      this.#pos = end + 1;
      return true;
    }

    const tagEnd = findStartTagEnd(buf, lt + 1);
    if (tagEnd === -1) return this.#wait(lt);
    const selfClosing = buf[tagEnd - 1] === "/";
    const name = /^[^\s/>]+/.exec(buf.slice(lt + 1, Math.min(tagEnd, lt + 200)))?.[0] ?? "";
    if (this.#depth + 1 > this.limits.maxDepth) {
      this.#reject(lt, `Elements are nested more than ${this.limits.maxDepth} levels deep`);
      return false;
    }
    if (this.#depth === 0 && this.#state === "prolog") {
      this.rootName = name;
      ({ line: this.rootLine, column: this.rootColumn } = this.#positionOf(lt));
      this.rootTagOffset = lt - this.#emitFrom;
      this.#emit(pieces, "prolog", tagEnd + 1);
      this.#state = selfClosing ? "epilogue" : "inside";
    } else if (this.#depth === 1 && this.#state === "inside" && name === "iati-activity") {
      this.#emit(pieces, "other", lt);
      if (selfClosing) this.#emit(pieces, "activity", tagEnd + 1);
      else this.#state = "activity";
    }
    if (!selfClosing) this.#depth += 1;
    this.#pos = tagEnd + 1;
    return true;
  }
}

/**
 * The iati-identifier an activity's text starts with (it is the activity's first child), with the
 * five predefined entities and character references decoded; undefined when not seen there.
 */
export function identifierAtStart(head: string): string | undefined {
  const match = /<iati-identifier(?:\s[^>]*)?>([^<]*)<\/iati-identifier\s*>/.exec(head);
  const value = match?.[1]
    ?.replace(/&(?:#x([0-9a-fA-F]+)|#([0-9]+)|(amp|lt|gt|quot|apos));/g, (_, hex?: string, dec?: string, name?: string) =>
      hex !== undefined ? String.fromCodePoint(parseInt(hex, 16)) : dec !== undefined ? String.fromCodePoint(Number(dec)) : ENTITIES[name!]!,
    )
    .trim();
  return value ? value : undefined;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
