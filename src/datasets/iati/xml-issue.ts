/** How bad a problem is, in libxml2's terms. */
export type XmlIssueSeverity = "warning" | "error" | "fatal";

/** One problem found in an XML document (parse, safety or schema). */
export interface XmlIssue {
  /** 1-based line; 0 when the problem has no position (e.g. the whole file is too large). */
  line: number;
  /** 1-based column; 0 when libxml2 does not report one (schema errors never carry a column). */
  column: number;
  severity: XmlIssueSeverity;
  message: string;
  /** The iati-identifier of the activity the problem is in, when known. */
  activity?: string;
  /** 1-based position of that activity among the document's `<iati-activity>` elements. */
  activityIndex?: number;
  /** What kind of problem, for those a program acts on (libxml2's own issues carry none). */
  code?: "activity_too_large";
}

/** The shape of libxml2-wasm's ErrorDetail that we rely on. */
interface LibxmlErrorDetail {
  message: string;
  level: number;
  line: number;
  col: number;
  xpath?: string;
}

/** Maps libxml2's xmlErrorLevel (1 warning, 2 error, 3 fatal). */
export function severityFromLibxmlLevel(level: number): XmlIssueSeverity {
  if (level <= 1) return "warning";
  if (level === 2) return "error";
  return "fatal";
}

/** Converts a libxml2 diagnostic to an issue; the message loses libxml2's trailing newline. */
export function issueFromLibxml(detail: LibxmlErrorDetail): XmlIssue {
  return {
    line: detail.line,
    column: detail.col,
    severity: severityFromLibxmlLevel(detail.level),
    message: detail.message.trim(),
  };
}

/** True for issues that make a document invalid (errors and fatal errors, not warnings). */
export function isFailure(issue: XmlIssue): boolean {
  return issue.severity !== "warning";
}

/** 1-based line and column of a UTF-16 offset in `text`. */
export function positionOf(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) {
    line += 1;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}
