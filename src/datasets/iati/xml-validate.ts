import { XmlElement, XmlValidateError, type XmlDocument } from "libxml2-wasm";
import { activitiesSchemaValidator } from "./schema.ts";
import { resolveLimits, type ElementSpan, type XmlLimits } from "./xml-guard.ts";
import { isFailure, issueFromLibxml, type XmlIssue } from "./xml-issue.ts";
import { issuesFromError, parseXmlSafely } from "./xml-parse.ts";

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
 * Never throws.
 */
export function validateActivities(xml: string, options: XmlCheckOptions = {}): ValidationReport {
  return validate(xml, resolveLimits(options.limits), true);
}

interface ActivityInfo {
  element: XmlElement;
  iatiIdentifier?: string;
  line: number;
}

function validate(xml: string, limits: XmlLimits, allowCleaning: boolean): ValidationReport {
  const parsed = parseXmlSafely(xml, limits);
  if (!parsed.ok) return { valid: false, errors: parsed.issues, activitiesTotal: 0, activitiesValid: 0 };

  const { doc, scan } = parsed;
  try {
    const root = doc.root;
    if (root.name !== ROOT_NAME || root.namespaceUri !== "") {
      const shown = root.prefix ? `${root.prefix}:${root.name}` : root.name;
      const notIati: XmlIssue = {
        line: root.line,
        column: 0,
        severity: "fatal",
        message: `Not an IATI activities document: the root element is <${shown}>, expected <${ROOT_NAME}>`,
      };
      return { valid: false, errors: [notIati], activitiesTotal: 0, activitiesValid: 0 };
    }

    const activities = describeActivities(root);
    const issues = [...parsed.warnings, ...schemaIssues(doc)].map((issue) => attributeToActivity(issue, activities));
    const failures = issues.filter(isFailure);
    const invalidPositions = new Set(failures.flatMap((issue) => issue.activityIndex ?? []));
    const report: ValidationReport = {
      valid: failures.length === 0,
      errors: issues,
      activitiesTotal: activities.length,
      activitiesValid: activities.length - invalidPositions.size,
    };

    const documentLevelFailure = failures.some((issue) => issue.activityIndex === undefined);
    const partlyValid = invalidPositions.size > 0 && invalidPositions.size < activities.length;
    if (allowCleaning && partlyValid && !documentLevelFailure) {
      Object.assign(report, cleanedDocument(xml, limits, scan.activitySpans, activities, invalidPositions));
    }
    return report;
  } finally {
    doc.dispose();
  }
}

function schemaIssues(doc: XmlDocument): XmlIssue[] {
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

function describeActivities(root: XmlElement): ActivityInfo[] {
  const activities: ActivityInfo[] = [];
  for (let node = root.firstChild; node !== null; node = node.next) {
    if (!(node instanceof XmlElement) || node.name !== ACTIVITY_NAME || node.namespaceUri !== "") continue;
    const identifierElement = childElement(node, "iati-identifier");
    const iatiIdentifier = identifierElement?.content.trim();
    activities.push({ element: node, line: node.line, ...(iatiIdentifier ? { iatiIdentifier } : {}) });
  }
  return activities;
}

function childElement(parent: XmlElement, name: string): XmlElement | undefined {
  for (let node = parent.firstChild; node !== null; node = node.next) {
    if (node instanceof XmlElement && node.name === name && node.namespaceUri === "") return node;
  }
  return undefined;
}

const ACTIVITY_XPATH = /^\/iati-activities\/iati-activity(?:\[(\d+)\])?(?:\/|$)/;

/**
 * Finds the activity an issue belongs to: from libxml2's node path when it has one
 * (exact even on single-line files), otherwise from the line number.
 */
function attributeToActivity(issue: XmlIssue & { xpath?: string }, activities: ActivityInfo[]): XmlIssue {
  const { xpath, ...plain } = issue;
  let position: number | undefined;
  if (xpath !== undefined) {
    const match = ACTIVITY_XPATH.exec(xpath);
    if (match) position = match[1] === undefined ? 1 : Number(match[1]);
  } else if (issue.line > 0) {
    const index = activities.findLastIndex((activity) => activity.line <= issue.line);
    if (index !== -1) position = index + 1;
  }
  const activity = position === undefined ? undefined : activities[position - 1];
  if (position === undefined || activity === undefined) return plain;
  return {
    ...plain,
    activityIndex: position,
    ...(activity.iatiIdentifier !== undefined ? { activity: activity.iatiIdentifier } : {}),
  };
}

/**
 * Cuts the invalid activities out of the original text and re-validates the result.
 * Returns nothing when the cut cannot be trusted (spans and DOM disagree) or the result
 * is still invalid.
 */
function cleanedDocument(
  xml: string,
  limits: XmlLimits,
  spans: ElementSpan[],
  activities: ActivityInfo[],
  invalidPositions: Set<number>,
): Pick<ValidationReport, "cleanedXml" | "removedActivities"> {
  if (spans.length !== activities.length) return {};

  let cleaned = "";
  let copiedUpTo = 0;
  const removedActivities: RemovedActivity[] = [];
  spans.forEach((span, index) => {
    const position = index + 1;
    if (!invalidPositions.has(position)) return;
    const start = startOfIndentedLine(xml, span.start);
    cleaned += xml.slice(copiedUpTo, start);
    copiedUpTo = span.end;
    const iatiIdentifier = activities[index]?.iatiIdentifier;
    removedActivities.push({ position, ...(iatiIdentifier !== undefined ? { iatiIdentifier } : {}) });
  });
  cleaned += xml.slice(copiedUpTo);

  const recheck = validate(cleaned, limits, false);
  if (!recheck.valid) return {};
  return { cleanedXml: cleaned, removedActivities };
}

/** Widens a cut to the indentation and line break before it, so no blank line is left behind. */
function startOfIndentedLine(xml: string, offset: number): number {
  let start = offset;
  while (start > 0 && (xml[start - 1] === " " || xml[start - 1] === "\t")) start -= 1;
  if (start > 0 && xml[start - 1] === "\n") {
    start -= 1;
    if (start > 0 && xml[start - 1] === "\r") start -= 1;
  }
  return start;
}
