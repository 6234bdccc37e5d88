/**
 * Sync rules, pure: ordered include/exclude rules on a record's fields; the first rule that matches
 * decides, and a record no rule matches is included. Applied to each source record before the
 * reconcile, so a record a rule excludes is, to the index, a record the source no longer has: a
 * full sync deletes it, an incremental one deletes it when it changes.
 */
import type { SyncRule } from "../../config/types.ts";

export interface RuleVerdict {
  included: boolean;
  /** The index of the rule that decided, or null when none matched. */
  rule: number | null;
}

/** A compiled rule set: regular expressions built once. */
export function compileRules(rules: SyncRule[]): (doc: Record<string, unknown>) => RuleVerdict {
  const compiled = rules.map((rule) => ({ rule, regex: rule.regex === undefined ? null : new RegExp(rule.regex) }));
  return (doc) => {
    for (const [i, { rule, regex }] of compiled.entries()) {
      if (matches(rule, regex, fieldValue(doc, rule.field))) return { included: rule.policy === "include", rule: i };
    }
    return { included: true, rule: null };
  };
}

/** `a.b.c` reaches into nested objects; a missing field is undefined. */
export function fieldValue(doc: Record<string, unknown>, path: string): unknown {
  if (path in doc) return doc[path];
  let value: unknown = doc;
  for (const part of path.split(".")) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function matches(rule: SyncRule, regex: RegExp | null, value: unknown): boolean {
  if (value === undefined || value === null) return false;
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  if (rule.equals !== undefined) return value === rule.equals || text === String(rule.equals);
  if (rule.prefix !== undefined) return text.startsWith(rule.prefix);
  if (rule.suffix !== undefined) return text.endsWith(rule.suffix);
  if (rule.contains !== undefined) return text.includes(rule.contains);
  if (regex) return regex.test(text);
  if (rule.lt !== undefined) return compareValues(text, rule.lt) < 0;
  if (rule.gt !== undefined) return compareValues(text, rule.gt) > 0;
  return false;
}

/** Numbers compare as numbers (CSV gives "10", which is more than 9); anything else as text. */
function compareValues(value: string, bound: string | number): number {
  const a = Number(value);
  const b = Number(bound);
  if (value.trim() !== "" && String(bound).trim() !== "" && Number.isFinite(a) && Number.isFinite(b)) return a - b;
  return value < String(bound) ? -1 : value > String(bound) ? 1 : 0;
}
