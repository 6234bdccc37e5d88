/**
 * Checks one payload and says what to store: the report (errors with line, column, severity,
 * message), whether the row can be indexed, and the cleaned text of a partly valid IATI document.
 * Pure apart from the embedded schemas; a hostile file gives a report, never an exception.
 */
import Ajv, { type ValidateFunction } from "ajv";
import { validateActivities } from "../../datasets/iati/index.ts";
import type { XmlIssue } from "../../datasets/iati/index.ts";

/** How many issues one stored report lists; `errorCount` keeps the full number. */
export const MAX_REPORTED_ISSUES = 500;

export type InvalidReason = "unsafe_xml" | "not_well_formed" | "schema_invalid" | "not_json";

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
  const report = validateActivities(text, { limits: { maxBytes: options.maxBytes, maxDepth: options.maxDepth } });
  const failures = report.errors.filter((e) => e.severity !== "warning");
  const cleaned = report.cleanedXml ?? null;
  let reason: InvalidReason | null = null;
  if (!report.valid && !cleaned) {
    if (failures.some((e) => UNSAFE.test(e.message))) reason = "unsafe_xml";
    else if (report.activitiesTotal === 0 && failures.some((e) => e.severity === "fatal")) reason = "not_well_formed";
    else reason = "schema_invalid";
  }
  return {
    valid: report.valid,
    reason,
    issues: report.errors.slice(0, MAX_REPORTED_ISSUES),
    errorCount: failures.length,
    activitiesTotal: report.activitiesTotal,
    activitiesValid: report.activitiesValid,
    cleaned,
  };
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
