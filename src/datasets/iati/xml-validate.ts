import { XmlElement, XmlValidateError, type XmlDocument } from "libxml2-wasm";
import { activitiesSchemaValidator } from "./schema.ts";
import { resolveLimits, type XmlLimits } from "./xml-guard.ts";
import { isFailure, issueFromLibxml, type XmlIssue } from "./xml-issue.ts";
import { issuesFromError, parseScannedXml, parseXmlSafely } from "./xml-parse.ts";
import { type OversizedActivity, type XmlPiece, XmlSplitter } from "./xml-split.ts";

/** Options shared by the XML checks. */
export interface XmlCheckOptions {
  /** Overrides of {@link DEFAULT_XML_LIMITS}. */
  limits?: Partial<XmlLimits>;
}

/** Result of {@link checkWellFormed}. */
export interface WellFormednessReport {
  wellFormed: boolean;
  /** Parse errors, safety rejections and parser warnings. */
  errors: XmlIssue[];
}

/** An activity cut out of a partly valid document. */
export interface RemovedActivity {
  /** 1-based position among the document's `<iati-activity>` elements. */
  position: number;
  /** Its iati-identifier, when it has one. */
  iatiIdentifier?: string;
}

/** Result of {@link validateActivities}. */
export interface ValidationReport {
  /** True when there is no error or fatal issue (warnings are allowed). */
  valid: boolean;
  errors: XmlIssue[];
  /** Number of errors and fatal issues, also those left out of `errors` by a `maxIssues` cap. */
  errorCount: number;
  /** Number of `<iati-activity>` elements; 0 when the document could not be parsed. */
  activitiesTotal: number;
  /** Number of activities without any schema error. */
  activitiesValid: number;
  /**
   * Only for partly valid documents: the original text with the invalid activities cut
   * out (everything else byte-for-byte as received), already re-validated.
   */
  cleanedXml?: string;
  /** The activities cut out to make {@link cleanedXml}. */
  removedActivities?: RemovedActivity[];
}

const ROOT_NAME = "iati-activities";
const ACTIVITY_NAME = "iati-activity";

/**
 * Text of one batch of activities handed to libxml2. A document is parsed and validated batch by
 * batch, so libxml2's tree (whose wasm memory never shrinks again) stays the size of a batch.
 */
export const BATCH_CHARS = 256 * 1024;

/**
 * A schema-valid activity that opens every batch after the first: it puts the root's content model
 * where the whole document would have it (after at least one activity), so what follows gives the
 * same errors. On one line, so that it never shifts a line number.
 */
const PLACEHOLDER_ACTIVITY =
  `<iati-activity><iati-identifier>sluice-batch-placeholder</iati-identifier><reporting-org type="10" ref="X"><narrative>x</narrative></reporting-org>` +
  `<title><narrative>x</narrative></title><description><narrative>x</narrative></description><participating-org role="1"/>` +
  `<activity-status code="2"/><activity-date type="1" iso-date="2000-01-01"/></iati-activity>`;

/**
 * Checks that `xml` is well-formed and passes the safety limits (no DTD, size, depth),
 * without any schema validation.
 */
export function checkWellFormed(xml: string, options: XmlCheckOptions = {}): WellFormednessReport {
  const parsed = parseXmlSafely(xml, resolveLimits(options.limits));
  if (!parsed.ok) return { wellFormed: false, errors: parsed.issues };
  parsed.doc.dispose();
  return { wellFormed: true, errors: parsed.warnings };
}

/**
 * Validates an IATI activities document against the embedded IATI 2.03 schema.
 *
 * Schema errors are attributed to the activity they occur in. When some activities are
 * invalid and the rest of the document is fine, the report also carries `cleanedXml`
 * with only the valid activities, so a publisher's good data can still be loaded.
 * Never throws. Large documents are checked a batch of activities at a time (see
 * {@link ActivitiesValidation}); the report is the one of the whole document.
 */
export function validateActivities(xml: string, options: XmlCheckOptions = {}): ValidationReport {
  const limits = resolveLimits(options.limits);
  const validation = new ActivitiesValidation(limits, { keepRemoved: true });
  validation.push(xml);
  const report = validation.end();
  const invalid = validation.cleanable();
  if (invalid === null) return report;

  const parts: string[] = [];
  const splitter = new XmlSplitter(limits);
  const cut = new ActivityCutter(invalid, (text) => parts.push(text));
  for (const piece of [...splitter.push(xml), ...splitter.end()]) cut.add(piece);
  cut.end();
  const cleaned = parts.join("");
  const recheck = new ActivitiesValidation(limits);
  recheck.push(cleaned);
  if (!recheck.end().valid) return report;
  return { ...report, cleanedXml: cleaned, removedActivities: validation.removedActivities() };
}

/** Options of {@link ActivitiesValidation}. */
export interface ActivitiesValidationOptions {
  /** Keep at most this many issues (the count of errors stays exact). Default: all. */
  maxIssues?: number;
  /** Remember the identifiers of invalid activities for {@link removedActivities}. */
  keepRemoved?: boolean;
  /** Text per batch (a batch ends after the activity that reaches it). Default {@link BATCH_CHARS}. */
  batchChars?: number;
}

interface Batch {
  texts: string[];
  chars: number;
  /** Where the batch's first piece starts in the document. */
  line: number;
  column: number;
  /** Activities the splitter saw in it. */
  activities: number;
  /** Big enough: it is checked before the next piece joins. */
  full: boolean;
}

interface ActivityInfo {
  position: number;
  line: number;
  iatiIdentifier?: string;
}

/**
 * Validates one document given as text in parts, holding one batch of activities at a time.
 *
 * The first batch is the document's own beginning (prolog, root start tag, first activities) and
 * is closed with the root's end tag. Every later batch is wrapped in a root that declares the same
 * namespaces, after a placeholder activity, and each issue's line is mapped back to the document.
 * The report is that of the whole document: warnings, then schema errors in document order; an
 * unparsable batch makes the report the parse errors alone; a safety rejection (found anywhere)
 * makes it the rejection alone.
 */
export class ActivitiesValidation {
  readonly #limits: XmlLimits;
  readonly #splitter: XmlSplitter;
  readonly #maxIssues: number;
  readonly #keepRemoved: boolean;
  readonly #batchChars: number;

  #prolog: XmlPiece | null = null;
  #batch: Batch | null = null;
  #batches = 0;
  #activitiesSeen = 0;
  /** Set once parsing stops: the document's report no longer depends on its later batches. */
  #stopped = false;
  #parseFailure: XmlIssue[] | null = null;
  #notIati: XmlIssue | null = null;
  #rootStart = "";

  #warnings: XmlIssue[] = [];
  #schemaIssues: XmlIssue[] = [];
  #errorCount = 0;
  #activitiesTotal = 0;
  #invalid = new PositionSet();
  #removed = new Map<number, string | undefined>();
  #documentLevelFailure = false;
  #piecesMatchTree = true;
  #rootContentRejected = false;
  #lastActivity: ActivityInfo | null = null;

  constructor(limits: XmlLimits, options: ActivitiesValidationOptions = {}) {
    this.#limits = limits;
    this.#splitter = new XmlSplitter(limits);
    this.#maxIssues = options.maxIssues ?? Number.POSITIVE_INFINITY;
    this.#keepRemoved = options.keepRemoved ?? false;
    this.#batchChars = options.batchChars ?? BATCH_CHARS;
  }

  push(text: string): void {
    for (const piece of this.#splitter.push(text)) this.#add(piece);
  }

  end(): ValidationReport {
    for (const piece of this.#splitter.end()) this.#add(piece);
    this.#flush(true);
    const rejection = this.#splitter.rejection;
    if (rejection) return failed([rejection]);
    if (this.#parseFailure) return failed(this.#parseFailure);
    if (this.#notIati) return failed([this.#notIati]);
    const errors = [...this.#warnings, ...this.#schemaIssues].slice(0, this.#maxIssues);
    return {
      valid: this.#errorCount === 0,
      errors,
      errorCount: this.#errorCount,
      activitiesTotal: this.#activitiesTotal,
      activitiesValid: this.#activitiesTotal - this.#invalid.size,
    };
  }

  /**
   * After {@link end}: the positions of the activities to cut out when the document is partly
   * valid and nothing outside its activities is wrong; null when it cannot be cleaned.
   */
  cleanable(): ActivityPositions | null {
    const partlyValid = this.#invalid.size > 0 && this.#invalid.size < this.#activitiesTotal;
    const trusted = this.#piecesMatchTree && this.#activitiesSeen === this.#activitiesTotal;
    if (!partlyValid || this.#documentLevelFailure || !trusted || this.#stopped) return null;
    return this.#invalid;
  }

  removedActivities(): RemovedActivity[] {
    return [...this.#removed].sort(([a], [b]) => a - b).map(([position, iatiIdentifier]) => ({ position, ...(iatiIdentifier !== undefined ? { iatiIdentifier } : {}) }));
  }

  #add(piece: XmlPiece): void {
    if (piece.kind === "prolog") {
      this.#prolog = piece;
      return;
    }
    if (piece.oversized) {
      this.#addOversized(piece, piece.oversized);
      return;
    }
    if (this.#stopped) {
      if (piece.kind === "activity") this.#activitiesSeen++;
      return;
    }
    // A batch ends after an activity, and is checked only when more follows: the last batch is
    // never empty, so a document cut short is diagnosed where it ends.
    if (this.#batch?.full) this.#flush(false);
    const batch = (this.#batch ??= { texts: [], chars: 0, line: piece.line, column: piece.column, activities: 0, full: false });
    batch.texts.push(piece.text);
    batch.chars += piece.text.length;
    if (piece.kind === "activity") {
      batch.activities++;
      batch.full = batch.chars >= this.#batchChars;
    }
  }

  /**
   * An activity too large to hold: the batch before it is checked, and it is counted as an invalid
   * activity with its own issue, so a partly valid document is cleaned of it like any other.
   */
  #addOversized(piece: XmlPiece, oversized: OversizedActivity): void {
    if (!this.#stopped && (this.#batch !== null || this.#batches === 0)) this.#flush(false, true);
    this.#activitiesSeen++;
    if (this.#stopped || this.#splitter.rejection) return;
    const position = ++this.#activitiesTotal;
    const { iatiIdentifier, bytes } = oversized;
    const named = iatiIdentifier !== undefined ? ` "${iatiIdentifier}"` : "";
    this.#record(
      {
        line: piece.line,
        column: piece.column,
        severity: "error",
        message:
          `activity_too_large: <iati-activity>${named} at line ${piece.line} is ${bytes} bytes, over the limit of ${this.#limits.maxPieceBytes} bytes ` +
          `for one activity; it is left out and the document's other activities are checked`,
        ...(iatiIdentifier !== undefined ? { activity: iatiIdentifier } : {}),
        activityIndex: position,
        code: "activity_too_large",
      },
      this.#schemaIssues,
    );
    this.#lastActivity = { position, line: piece.line, ...(iatiIdentifier !== undefined ? { iatiIdentifier } : {}) };
  }

  /** `beforeOversized`: an activity too large to hold comes next (and is not in the batch). */
  #flush(final: boolean, beforeOversized = false): void {
    const batch = this.#batch;
    this.#batch = null;
    if (batch) this.#activitiesSeen += batch.activities;
    if (this.#stopped || this.#splitter.rejection) return;
    const prolog = this.#prolog;
    const first = this.#batches === 0;
    this.#batches++;
    const rootName = this.#splitter.rootName;
    const rootOpen = rootName !== null && prolog !== null && !/\/\s*>$/.test(prolog.text);
    const close = final ? "" : rootOpen ? `</${rootName}>` : "";
    const body = batch ? batch.texts.join("") : "";

    if (first) {
      // The root must hold an activity: when the first is too large to hold, a placeholder stands
      // in for it, at the end of the last line so no line moves.
      const standIn = beforeOversized && (batch?.activities ?? 0) === 0 && rootOpen;
      this.#check(`${prolog?.text ?? ""}${body}${standIn ? PLACEHOLDER_ACTIVITY : ""}${close}`, batch, (line) => line, null, standIn);
      return;
    }
    // Every later batch: its own first line holds the root and the placeholder, then its pieces
    // start on line 2 at their own column.
    const start = batch ?? { line: 1, column: 1 };
    const text = `${this.#rootStart}${PLACEHOLDER_ACTIVITY}\n${" ".repeat(start.column - 1)}${body}${close}`;
    const rootLine = this.#splitter.rootLine;
    this.#check(text, batch, (line) => (line <= 1 ? rootLine : start.line + line - 2), close);
  }

  /**
   * Parses and validates one batch; `toDocumentLine` maps its line numbers to the document's.
   * `close` is null for the first batch, else what closes the root after the batch.
   */
  #check(text: string, batch: Batch | null, toDocumentLine: (line: number) => number, close: string | null, trailingPlaceholder = false): void {
    const first = close === null;
    const parsed = parseScannedXml(text, this.#limits);
    if (!parsed.ok) {
      const issues = first ? parsed.issues : this.#exactParseIssues(batch, close, parsed.issues, toDocumentLine);
      this.#parseFailure = [...this.#warnings, ...issues];
      this.#stopped = true;
      return;
    }
    const doc = parsed.doc;
    try {
      const root = doc.root;
      if (first) {
        if (root.name !== ROOT_NAME || root.namespaceUri !== "") {
          const shown = root.prefix ? `${root.prefix}:${root.name}` : root.name;
          this.#notIati = {
            line: root.line,
            column: 0,
            severity: "fatal",
            message: `Not an IATI activities document: the root element is <${shown}>, expected <${ROOT_NAME}>`,
          };
          this.#stopped = true;
          return;
        }
        this.#rootStart = syntheticRoot(root);
      }
      const mapped = (issue: XmlIssue): XmlIssue => ({ ...issue, line: issue.line > 0 ? toDocumentLine(issue.line) : issue.line });
      // Later batches: what libxml2 says about their synthetic first line is said once, by the first.
      const own = (issue: XmlIssue) => first || issue.line !== 1;

      const activities = this.#describeActivities(root, first, toDocumentLine);
      if (trailingPlaceholder) activities.pop();
      if (batch && activities.length !== batch.activities) this.#piecesMatchTree = false;
      const previous = this.#lastActivity;
      for (const warning of parsed.warnings.filter(own)) {
        this.#record(this.#attribute(mapped(warning), undefined, activities, previous), this.#warnings);
      }
      for (const issue of schemaIssues(doc)) {
        if (this.#isRepeatedRootContentError(issue)) continue;
        this.#record(this.#attribute(mapped(issue), issue.xpath, activities, previous, first ? 0 : 1), this.#schemaIssues);
      }
      this.#activitiesTotal += activities.length;
      this.#lastActivity = activities.at(-1) ?? previous;
    } finally {
      doc.dispose();
    }
  }

  /**
   * The parse errors of a later batch with the document's own line numbers, also inside messages
   * ("… tag mismatch: narrative line 12 and title"): the batch is parsed again after the real
   * prolog, padded with line breaks and spaces to where its first piece starts.
   */
  #exactParseIssues(batch: Batch | null, close: string, issues: XmlIssue[], toDocumentLine: (line: number) => number): XmlIssue[] {
    const prolog = this.#prolog;
    if (!prolog || !batch) return issues.map((issue) => ({ ...issue, line: toDocumentLine(issue.line) }));
    const prologEnd = endOf(prolog);
    const padding =
      batch.line === prologEnd.line
        ? " ".repeat(Math.max(0, batch.column - prologEnd.column))
        : `${"\n".repeat(batch.line - prologEnd.line)}${" ".repeat(batch.column - 1)}`;
    const again = parseScannedXml(`${prolog.text}${padding}${batch.texts.join("")}${close}`, this.#limits);
    if (again.ok) {
      again.doc.dispose();
      return issues.map((issue) => ({ ...issue, line: toDocumentLine(issue.line) }));
    }
    // The prolog's own warnings were reported with the first batch.
    return again.issues.filter((issue) => issue.severity !== "warning" || issue.line >= batch.line);
  }

  #describeActivities(root: XmlElement, first: boolean, toDocumentLine: (line: number) => number): ActivityInfo[] {
    const activities: ActivityInfo[] = [];
    // XPath, not sibling links: libxml2-wasm gives processing instructions no `next`.
    const found = root.find(ACTIVITY_NAME).filter((node): node is XmlElement => node instanceof XmlElement);
    for (const node of first ? found : found.slice(1)) {
      const iatiIdentifier = node.get("iati-identifier")?.content.trim();
      activities.push({
        position: this.#activitiesTotal + activities.length + 1,
        line: toDocumentLine(node.line),
        ...(iatiIdentifier ? { iatiIdentifier } : {}),
      });
    }
    return activities;
  }

  /**
   * libxml2 reports the first element out of place among the root's children and then stops
   * checking the root's content model; a later batch, checked afresh, must not report more.
   */
  #isRepeatedRootContentError(issue: XmlIssue & { xpath?: string }): boolean {
    if (issue.xpath === undefined || !ROOT_CHILD_XPATH.test(issue.xpath) || !issue.message.includes("This element is not expected")) return false;
    if (this.#rootContentRejected) return true;
    this.#rootContentRejected = true;
    return false;
  }

  /**
   * Finds the activity an issue belongs to: from libxml2's node path when it has one
   * (exact even on single-line files), otherwise from the line number.
   */
  #attribute(
    issue: XmlIssue,
    xpath: string | undefined,
    activities: ActivityInfo[],
    previous: ActivityInfo | null,
    placeholders = 0,
  ): XmlIssue {
    const { xpath: _, ...plain } = issue as XmlIssue & { xpath?: string };
    let activity: ActivityInfo | undefined;
    if (xpath !== undefined) {
      const match = ACTIVITY_XPATH.exec(xpath);
      if (match) activity = activities[(match[1] === undefined ? 1 : Number(match[1])) - placeholders - 1];
    } else if (issue.line > 0) {
      activity = activities.findLast((a) => a.line <= issue.line) ?? (previous && previous.line <= issue.line ? previous : undefined);
    }
    if (activity === undefined) return plain;
    return {
      ...plain,
      activityIndex: activity.position,
      ...(activity.iatiIdentifier !== undefined ? { activity: activity.iatiIdentifier } : {}),
    };
  }

  #record(issue: XmlIssue, list: XmlIssue[]): void {
    if (isFailure(issue)) {
      this.#errorCount++;
      if (issue.activityIndex === undefined) this.#documentLevelFailure = true;
      else {
        this.#invalid.add(issue.activityIndex);
        if (this.#keepRemoved) this.#removed.set(issue.activityIndex, issue.activity);
      }
    }
    if (list.length < this.#maxIssues) list.push(issue);
  }
}

function failed(errors: XmlIssue[]): ValidationReport {
  return { valid: false, errors, errorCount: errors.filter(isFailure).length, activitiesTotal: 0, activitiesValid: 0 };
}

/** The root start tag for later batches: valid on its own, with the namespaces the real one declares. */
function syntheticRoot(root: XmlElement): string {
  const declarations = Object.entries(root.namespaces)
    .filter(([prefix]) => prefix !== "" && prefix !== "xml")
    .map(([prefix, uri]) => ` xmlns:${prefix}="${escapeAttribute(uri)}"`)
    .join("");
  return `<${ROOT_NAME} version="2.03"${declarations}>`;
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/"/g, "&quot;").replace(/\n/g, "&#10;").replace(/\r/g, "&#13;").replace(/\t/g, "&#9;");
}

/** Line and column just after a piece. */
function endOf(piece: XmlPiece): { line: number; column: number } {
  const breaks = piece.text.split("\n").length - 1;
  const lastBreak = piece.text.lastIndexOf("\n");
  return breaks === 0
    ? { line: piece.line, column: piece.column + piece.text.length }
    : { line: piece.line + breaks, column: piece.text.length - lastBreak };
}

function schemaIssues(doc: XmlDocument): (XmlIssue & { xpath?: string })[] {
  try {
    activitiesSchemaValidator().validate(doc);
    return [];
  } catch (error) {
    if (error instanceof XmlValidateError && error.details.length > 0) {
      return error.details.map((detail) => ({ ...issueFromLibxml(detail), xpath: detail.xpath }));
    }
    return issuesFromError(error, "Schema validation failed");
  }
}

const ACTIVITY_XPATH = /^\/iati-activities\/iati-activity(?:\[(\d+)\])?(?:\/|$)/;
const ROOT_CHILD_XPATH = /^\/iati-activities\/[^/]+$/;

/** Positions of activities (1-based), e.g. the invalid ones. */
export interface ActivityPositions {
  has(position: number): boolean;
  readonly size: number;
}

/** A set of activity positions in one bit each: a document can hold millions of tiny activities. */
class PositionSet implements ActivityPositions {
  #bits = new Uint8Array(1024);
  size = 0;

  add(position: number): void {
    const byte = position >> 3;
    if (byte >= this.#bits.length) {
      const grown = new Uint8Array(Math.max(byte + 1, this.#bits.length * 2));
      grown.set(this.#bits);
      this.#bits = grown;
    }
    const mask = 1 << (position & 7);
    if ((this.#bits[byte]! & mask) !== 0) return;
    this.#bits[byte]! |= mask;
    this.size++;
  }

  has(position: number): boolean {
    return ((this.#bits[position >> 3] ?? 0) & (1 << (position & 7))) !== 0;
  }
}

/**
 * Cuts invalid activities out of a document's pieces, passing everything else on unchanged. A cut
 * widens to the indentation and line break before the activity, so no blank line is left behind.
 */
export class ActivityCutter {
  #held = "";
  #position = 0;

  constructor(
    private readonly invalid: ActivityPositions,
    private readonly write: (text: string) => void,
  ) {}

  add(piece: XmlPiece): void {
    if (piece.kind !== "activity") {
      this.#release();
      this.#held = piece.text;
      return;
    }
    this.#position++;
    if (this.invalid.has(this.#position)) {
      this.#held = withoutTrailingIndentedLine(this.#held);
      return;
    }
    this.#release();
    this.write(piece.text);
  }

  end(): void {
    this.#release();
  }

  #release(): void {
    if (this.#held !== "") this.write(this.#held);
    this.#held = "";
  }
}

function withoutTrailingIndentedLine(text: string): string {
  let end = text.length;
  while (end > 0 && (text[end - 1] === " " || text[end - 1] === "\t")) end -= 1;
  if (end > 0 && text[end - 1] === "\n") {
    end -= 1;
    if (end > 0 && text[end - 1] === "\r") end -= 1;
  }
  return text.slice(0, end);
}
