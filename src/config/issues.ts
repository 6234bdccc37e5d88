/**
 * Turns the schema's problems into the one line an operator reads:
 *
 *   datasets.photos.swap.maxShrinkage is not a known key; did you mean maxShrink?
 *   datasets.photos.index.concurrency must be a whole number ≥ 1, got "3"
 *
 * A misspelled key is reported before anything else, since it is usually why a required key
 * looks missing.
 */
import { closestMatch } from "leven";
import type { z } from "zod";

type Issue = z.core.$ZodIssue;


/**
 * `("datasets.photos", ["table", "indexes", 0])` → `datasets.photos.table.indexes[0]`;
 * `("sluice.config.ts:", ["datasets"])` → `sluice.config.ts: datasets`.
 */
export function joinPath(where: string, path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, part) => {
    if (typeof part === "number") return `${out}[${part}]`;
    if (!/^[A-Za-z_$][\w$-]*$/.test(String(part))) return `${out}[${JSON.stringify(String(part))}]`;
    if (!out) return String(part);
    return out.endsWith(":") ? `${out} ${String(part)}` : `${out}.${String(part)}`;
  }, where);
}

/** The closest key to a misspelled one, if it is close enough to be what was meant. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const sameLetters = known.find((k) => k.toLowerCase() === lower);
  if (sameLetters) return sameLetters;
  // A prefix or an extension (maxShrinkage → maxShrink, indxes → indexes) is what was meant.
  const extension = known.find((k) => lower.startsWith(k.toLowerCase()) || k.toLowerCase().startsWith(lower));
  if (extension && Math.min(key.length, extension.length) >= 3) return extension;
  return closestMatch(key, known, { maxDistance: Math.max(2, Math.floor(key.length / 3)) });
}

/** A short picture of the value that was given: `"3"`, `0`, `a list`, `an object`. */
export function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "function") return "a function";
  return "an object";
}

/** What follows an unknown key's path: the closest known key, or the list of them. */
export function unknownKeyPhrase(key: string, known: readonly string[]): string {
  const suggestion = closestKey(key, known);
  return suggestion ? `is not a known key; did you mean ${suggestion}?` : `is not a known key (known keys: ${known.join(", ")})`;
}

/**
 * The one line for the first problem of a failed parse. `where` names what was parsed and goes in
 * front of every path: `sluice.config.ts: datasets.photos`.
 */
export function describeIssues(issues: readonly Issue[], where: string): string {
  const first = issues.find((i) => i.code === "unrecognized_keys") ?? issues[0];
  return first ? describeIssue(first, where) : `${where} is not valid`;
}

function describeIssue(issue: Issue, where: string): string {
  const formatPath = (path: readonly PropertyKey[]) => joinPath(where, path);
  const path = formatPath(issue.path);
  switch (issue.code) {
    case "unrecognized_keys":
      // The strict object's own message (see schema.ts) already holds the suggestion.
      return `${formatPath([...issue.path, issue.keys[0]!])} ${issue.message}`;
    case "invalid_union": {
      if (issue.discriminator && "options" in issue) {
        const kind = (issue.input as Record<string, unknown> | undefined)?.[issue.discriminator ?? "kind"];
        if (kind === undefined) return `${path} is required (use ${(issue.options ?? []).join(" or ")})`;
        return `${path} ${describeValue(kind)} ${issue.message}`;
      }
      // `false` or an object (index, clean.tags): an object's problems are those of the object branch.
      const branch = issue.errors.find((errors) => errors.every((e) => e.path.length > 0 || e.code === "unrecognized_keys"));
      if (branch?.length) return describeIssues(branch.map((e) => ({ ...e, path: [...issue.path, ...e.path] })), where);
      return `${path} must be false or an object, got ${describeValue(issue.input)}`;
    }
    case "invalid_key": {
      const inner = issue.issues[0];
      return `${path} ${inner?.message ?? issue.message}`;
    }
    default: {
      const got = "input" in issue && issue.input !== undefined ? `, got ${describeValue(issue.input)}` : "";
      return `${path} ${issue.message}${got}`;
    }
  }
}
