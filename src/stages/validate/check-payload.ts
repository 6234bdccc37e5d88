/**
 * Checks one payload and says what to store: the report (errors with line, column, severity,
 * message), whether the row can be indexed, and the cleaned text of a partly valid IATI document.
 * Pure apart from the embedded schemas; a hostile file gives a report, never an exception.
 * XML is read in parts and checked a batch of activities at a time, so memory does not grow with
 * the document (see datasets/iati/xml-stream.ts).
 */
import Ajv, { type ValidateFunction } from "ajv";
import { validateActivities } from "../../datasets/iati/index.ts";
import type { ValidationReport, XmlIssue } from "../../datasets/iati/index.ts";
import { validateActivityParts, withoutActivities } from "../../datasets/iati/xml-stream.ts";

/** How many issues one stored report lists; `errorCount` keeps the full number. */
export const MAX_REPORTED_ISSUES = 500;

export type InvalidReason = "unsafe_xml" | "not_well_formed" | "schema_invalid" | "activity_too_large" | "not_json";

export interface PayloadCheck {
  /** No errors at all (warnings allowed). */
  valid: boolean;
  /** Why the row cannot be indexed as it is; null when it can (valid, or cleaned). */
  reason: InvalidReason | null;
  issues: XmlIssue[];
  errorCount: number;
  activitiesTotal: number | null;
  activitiesValid: number | null;
  /** The document with its invalid activities cut out, when some were valid. */
  cleaned: string | null;
}

export interface CheckOptions {
  format: "xml" | "json";
  maxBytes: number;
  maxDepth: number;
  jsonValidator: ValidateFunction | null;
}

export function checkPayload(text: string, options: CheckOptions): PayloadCheck {
  return options.format === "json" ? checkJson(text, options) : checkXml(text, options);
}

const UNSAFE = /not allowed in IATI documents|above the limit of|nested more than/;

function checkXml(text: string, options: CheckOptions): PayloadCheck {
  const report = validateActivities(text, { limits: xmlLimits(options) });
  const cleaned = report.cleanedXml ?? null;
  return { ...xmlCheck(report, cleaned !== null), cleaned };
}

function xmlLimits(options: CheckOptions) {
  return { maxBytes: options.maxBytes, maxDepth: options.maxDepth };
}

function xmlCheck(report: ValidationReport, cleaned: boolean): Omit<PayloadCheck, "cleaned"> {
  const failures = report.errors.filter((e) => e.severity !== "warning");
  let reason: InvalidReason | null = null;
  if (!report.valid && !cleaned) {
    if (failures.some((e) => UNSAFE.test(e.message))) reason = "unsafe_xml";
    // Every activity failed only for its size (one activity, too large to hold): say so.
    else if (failures.length > 0 && failures.every((e) => e.code === "activity_too_large")) reason = "activity_too_large";
    else if (report.activitiesTotal === 0 && failures.some((e) => e.severity === "fatal")) reason = "not_well_formed";
    else reason = "schema_invalid";
  }
  return {
    valid: report.valid,
    reason,
    issues: report.errors.slice(0, MAX_REPORTED_ISSUES),
    errorCount: report.errorCount,
    activitiesTotal: report.activitiesTotal,
    activitiesValid: report.activitiesValid,
  };
}

/** Where a streamed check reads its payload from and keeps a cleaned document. */
export interface PayloadParts {
  /** The payload as text parts, from the start each time it is called. */
  read(): Promise<AsyncIterable<string>>;
  /**
   * Keeps a cleaned document given in parts if `accept` (which reads it again through the
   * returned reader) says so; returns its sha256, or null when it was not kept.
   */
  keepCleaned(parts: AsyncIterable<string>, accept: (read: () => Promise<AsyncIterable<string>>) => Promise<boolean>): Promise<string | null>;
}

/**
 * {@link checkPayload} for an XML payload read in parts: the report of the whole document while
 * holding one batch of activities at a time. A partly valid document is cut while read a second
 * time, written through `parts.keepCleaned`, and kept only if it validates.
 */
export async function checkXmlParts(parts: PayloadParts, options: CheckOptions): Promise<{ check: PayloadCheck; cleanedSha: string | null }> {
  const limits = xmlLimits(options);
  const { report, cleanable } = await validateActivityParts(await parts.read(), { limits, maxIssues: MAX_REPORTED_ISSUES });
  let cleanedSha: string | null = null;
  if (cleanable) {
    cleanedSha = await parts.keepCleaned(withoutActivities(await parts.read(), cleanable, { limits }), async (read) => {
      const recheck = await validateActivityParts(await read(), { limits, maxIssues: 1 });
      return recheck.report.valid;
    });
  }
  return { check: { ...xmlCheck(report, cleanedSha !== null), cleaned: null }, cleanedSha };
}

function checkJson(text: string, options: CheckOptions): PayloadCheck {
  if (text.length > options.maxBytes) {
    return invalidJson("unsafe_xml", [{ line: 0, column: 0, severity: "fatal", message: `Document is ${text.length} characters, above the limit of ${options.maxBytes}` }]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return invalidJson("not_json", [{ line: 0, column: 0, severity: "fatal", message: `Not JSON: ${(error as Error).message}` }]);
  }
  const validate = options.jsonValidator!;
  if (validate(value)) return { valid: true, reason: null, issues: [], errorCount: 0, activitiesTotal: null, activitiesValid: null, cleaned: null };
  const issues: XmlIssue[] = (validate.errors ?? []).map((e) => ({
    line: 0,
    column: 0,
    severity: "error",
    message: `${e.instancePath || "/"} ${e.message ?? "is invalid"}`,
  }));
  return invalidJson("schema_invalid", issues);
}

function invalidJson(reason: InvalidReason, issues: XmlIssue[]): PayloadCheck {
  return { valid: false, reason, issues: issues.slice(0, MAX_REPORTED_ISSUES), errorCount: issues.length, activitiesTotal: null, activitiesValid: null, cleaned: null };
}

/** Compiles the dataset's JSON Schema once per stage. */
export function compileJsonSchema(schema: Record<string, unknown> | null): ValidateFunction | null {
  if (!schema) return null;
  return new Ajv({ allErrors: true, strict: false }).compile(schema);
}
