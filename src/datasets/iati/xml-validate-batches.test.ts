import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_XML_LIMITS } from "./xml-guard.ts";
import { ActivitiesValidation, validateActivities } from "./xml-validate.ts";

/**
 * A large document is validated a batch of activities at a time. Its report must be the one of
 * the whole document: each case is checked in batches of one activity and in one single batch
 * (which is the whole document handed to libxml2 at once, as before batches existed).
 */
const FIXTURES = join(import.meta.dir, "../../../test/fixtures/iati");
const fixture = (path: string) => readFileSync(join(FIXTURES, path), "utf8");

const activity = (id: string, extra = "") =>
  `<iati-activity><iati-identifier>${id}</iati-identifier><reporting-org type="xx" ref="xx"><narrative>O</narrative></reporting-org>` +
  `<title><narrative>T</narrative></title><description><narrative>D</narrative></description>${extra}<participating-org role="1"/>` +
  `<activity-status code="2"/><activity-date type="1" iso-date="2013-11-27"/></iati-activity>`;
const BAD = (id: string) => `<iati-activity><iati-identifier>${id}</iati-identifier></iati-activity>`;
const doc = (body: string, root = `<iati-activities version="2.03">`) => `<?xml version="1.0"?>\n${root}\n${body}\n</iati-activities>\n`;

function report(xml: string, batchChars: number, parts = 1) {
  const validation = new ActivitiesValidation(DEFAULT_XML_LIMITS, { batchChars, keepRemoved: true });
  const size = Math.ceil(xml.length / parts);
  for (let i = 0; i < xml.length; i += size) validation.push(xml.slice(i, i + size));
  if (xml.length === 0) validation.push("");
  const result = validation.end();
  const cleanable = validation.cleanable();
  const positions = Array.from({ length: result.activitiesTotal }, (_, i) => i + 1);
  return { ...result, cleanable: cleanable === null ? null : positions.filter((p) => cleanable.has(p)) };
}

const multiActivity = (() => {
  const text = fixture("activities/test-org-1-activity-1.xml");
  const start = text.indexOf("<iati-activity ");
  const end = text.lastIndexOf("</iati-activity>") + "</iati-activity>".length;
  const one = text.slice(start, end);
  return text.slice(0, start) + [1, 2, 3].map((n) => one.replace("TEST-ORG-01-SPA-2020", `TEST-ORG-01-SPA-${n}`)).join("\n") + text.slice(end);
})();

const CASES: Record<string, string> = {
  "valid, several activities": doc([activity("A"), activity("B"), activity("C")].join("\n  ")),
  "the real fixture, three times": multiActivity,
  "invalid activities among valid ones": doc([activity("A"), BAD("B"), activity("C"), BAD("D")].join("\n  ")),
  "single line": doc([BAD("A"), activity("B"), BAD("C")].join("")).replace(/\n/g, ""),
  "root attributes wrong": doc([activity("A"), BAD("B"), activity("C")].join("\n"), `<iati-activities version="2" generated-datetime="nope" foo="1">`),
  "no version": doc([activity("A"), activity("B")].join("\n"), `<iati-activities>`),
  "a foreign element between activities, twice": doc([activity("A"), "<foo/>", activity("B"), "<foo/>", activity("C")].join("\n")),
  "extension elements between and after activities": doc(
    [activity("A"), "<x:foo/>", activity("B"), "<x:foo>t</x:foo>", activity("C"), "<x:bar/>"].join("\n"),
    `<iati-activities version="2.03" xmlns:x="urn:x">`,
  ),
  "prefixed elements inside activities": doc(
    [activity("A", `<x:ext a="1">t</x:ext>`), activity("B", `<x:ext/>`)].join("\n"),
    `<iati-activities version="2.03" xmlns:x="urn:x">`,
  ),
  "stray text between activities": doc([activity("A"), "hello", activity("B"), "world", activity("C")].join("\n")),
  "comments and processing instructions between": doc([activity("A"), "<!-- c -->", activity("B"), "<?pi x?>", activity("C")].join("\n  ")),
  "an empty activity": doc([activity("A"), "<iati-activity/>", activity("C")].join("\n")),
  "tag mismatch in a later activity": doc([activity("A"), activity("B"), `<iati-activity><x></y></iati-activity>`, activity("D")].join("\n")),
  "undeclared prefix in a later activity": doc([activity("A"), activity("B"), `<iati-activity><p:x/></iati-activity>`].join("\n")),
  "root end tag misspelt": doc([activity("A"), activity("B")].join("\n")).replace("</iati-activities>", "</iati-activitie>"),
  "content after the root": `${doc([activity("A"), activity("B")].join("\n"))}<extra/>`,
  "cut short in the middle": doc([activity("A"), activity("B"), activity("C")].join("\n")).slice(0, 700),
  "cut short after an activity": doc([activity("A"), activity("B")].join("\n")).replace(/\n<\/iati-activities>\n$/, ""),
  "undefined entity in a later activity": doc([activity("A"), activity("B&bad;")].join("\n")),
  "self-closing root": `<iati-activities version="2.03"/>`,
  "not IATI": `<other><iati-activity/><iati-activity/></other>`,
  "DOCTYPE after activities": doc([activity("A"), activity("B")].join("\n")).replace("</iati-activities>", "<!DOCTYPE x></iati-activities>"),
  "empty": "",
  "binary": "\u0000\u0001garbage",
};

describe("batches give the whole document's report", () => {
  for (const [name, xml] of Object.entries(CASES)) {
    test(name, () => {
      const whole = report(xml, Number.POSITIVE_INFINITY);
      expect(report(xml, 1)).toEqual(whole);
      expect(report(xml, 1, 7)).toEqual(whole);
      expect(report(xml, 600, 3)).toEqual(whole);
    });
  }

  test("the cases cover what they claim", () => {
    expect(report(CASES["invalid activities among valid ones"]!, 1).cleanable).toEqual([2, 4]);
    expect(report(CASES["a foreign element between activities, twice"]!, 1).errors).toHaveLength(1);
    expect(report(CASES["stray text between activities"]!, 1).errors).toHaveLength(2);
    expect(report(CASES["extension elements between and after activities"]!, 1).valid).toBe(true);
    expect(report(CASES["tag mismatch in a later activity"]!, 1).errors[0]?.message).toContain("Opening and ending tag mismatch: x line 5 and y");
    expect(report(CASES["root end tag misspelt"]!, 1).errors[0]?.message).toContain("iati-activities line 2");
    expect(report(CASES["DOCTYPE after activities"]!, 1).errors[0]?.message).toContain("DOCTYPE is not allowed");
  });

  test("cleaning a batched document gives the same text", () => {
    const xml = CASES["invalid activities among valid ones"]!;
    expect(validateActivities(xml).cleanedXml).toBe(doc([activity("A"), activity("C")].join("\n  ")));
  });
});

describe("limits", () => {
  const LIMITS = { ...DEFAULT_XML_LIMITS, maxPieceBytes: 4096 };
  const X = `<iati-activities version="2.03" xmlns:x="urn:x">`;
  const oversized = (id: string) => activity(id, `\n<x:ext>${"y".repeat(5000)}</x:ext>\n`);
  const tooLarge = (id: string | undefined, line: number, position: number, bytes: number) => ({
    line,
    column: 1,
    severity: "error" as const,
    message:
      `activity_too_large: <iati-activity>${id ? ` "${id}"` : ""} at line ${line} is ${bytes} bytes, over the limit of 4096 bytes for one activity; ` +
      "it is left out and the document's other activities are checked",
    ...(id ? { activity: id } : {}),
    activityIndex: position,
    code: "activity_too_large" as const,
  });
  /** The report and cleaned text, read in parts of `partChars` (the activity is still open when it passes the limit) and whole. */
  function checkedInParts(xml: string, partChars: number) {
    const validation = new ActivitiesValidation(LIMITS, { keepRemoved: true, batchChars: 1 });
    for (let i = 0; i < xml.length; i += partChars) validation.push(xml.slice(i, i + partChars));
    const result = validation.end();
    const cleanable = validation.cleanable();
    return { result, cleanable: cleanable && Array.from({ length: result.activitiesTotal }, (_, i) => i + 1).filter((p) => cleanable.has(p)) };
  }

  test("an activity larger than maxPieceBytes is that activity's problem: the others are validated and the document cleaned of it", () => {
    const big = oversized("B");
    const xml = doc([activity("A"), big, BAD("C"), activity("D")].join("\n"), X);
    const bytes = Buffer.byteLength(big);
    const badC = { line: 7, column: 0, severity: "error", activity: "C", activityIndex: 3 };
    for (const partChars of [1000, xml.length]) {
      const { result, cleanable } = checkedInParts(xml, partChars);
      expect(result).toMatchObject({ valid: false, activitiesTotal: 4, activitiesValid: 2, errorCount: 2 });
      expect(result.errors[0]).toEqual(tooLarge("B", 4, 2, bytes));
      expect(result.errors[1]).toMatchObject(badC);
      expect(cleanable).toEqual([2, 3]);
    }
    const whole = validateActivities(xml, { limits: LIMITS });
    expect(whole.cleanedXml).toBe(doc([activity("A"), activity("D")].join("\n"), X));
    expect(whole.removedActivities).toEqual([{ position: 2, iatiIdentifier: "B" }, { position: 3, iatiIdentifier: "C" }]);
  });

  test("an oversized first or last activity, or one without an identifier at its start, is counted the same", () => {
    const first = doc([oversized("A"), activity("B")].join("\n"), X);
    expect(checkedInParts(first, 1000)).toEqual({
      result: { valid: false, errors: [tooLarge("A", 3, 1, Buffer.byteLength(oversized("A")))], errorCount: 1, activitiesTotal: 2, activitiesValid: 1 },
      cleanable: [1],
    });
    expect(validateActivities(first, { limits: LIMITS }).cleanedXml).toBe(doc(activity("B"), X));
    const noId = `<iati-activity>${"<x:ext/>".repeat(600)}</iati-activity>`;
    const last = doc([activity("A"), activity("B"), noId].join("\n"), X);
    expect(checkedInParts(last, 700).result).toEqual({
      valid: false,
      errors: [tooLarge(undefined, 5, 3, noId.length)],
      errorCount: 1,
      activitiesTotal: 3,
      activitiesValid: 2,
    });
    // The limit is in UTF-8 bytes: 2,000 characters of three bytes each pass it.
    const wide = doc([activity("A", `<x:ext>${"€".repeat(2000)}</x:ext>`), activity("B")].join("\n"), X);
    expect(validateActivities(wide, { limits: LIMITS }).errors[0]?.code).toBe("activity_too_large");
    expect(validateActivities(wide)).toMatchObject({ activitiesTotal: 2, errors: [{ activity: "A", message: expect.not.stringContaining("activity_too_large") }] });
  });

  test("what lies between activities over maxPieceBytes still refuses the document", () => {
    const xml = doc([activity("A"), `<x:ext>${"y".repeat(5000)}</x:ext>`, activity("B")].join("\n"), X);
    const result = checkedInParts(xml, 1000).result;
    expect(result).toMatchObject({ valid: false, activitiesTotal: 0 });
    expect(result.errors).toEqual([
      { line: 3, column: activity("A").length + 1, severity: "fatal", message: "A part of the document starting here is more than 4096 bytes, above the limit of 4096 bytes for one activity" },
    ]);
  });

  test("maxIssues keeps the first issues and the exact count", () => {
    const xml = doc(Array.from({ length: 20 }, (_, i) => BAD(`B${i}`)).join("\n"));
    const validation = new ActivitiesValidation(DEFAULT_XML_LIMITS, { maxIssues: 5, batchChars: 1 });
    validation.push(xml);
    const result = validation.end();
    expect(result.errors).toHaveLength(5);
    expect(result.errorCount).toBe(20);
    expect(result.activitiesValid).toBe(0);
  });
});

test("all schema test files give the same report in batches", () => {
  for (const dir of ["should-pass", "should-fail"]) {
    for (const name of readdirSync(join(FIXTURES, "schema-tests", dir))) {
      const xml = fixture(`schema-tests/${dir}/${name}`);
      expect({ name, ...report(xml, 1, 5) }).toEqual({ name, ...report(xml, Number.POSITIVE_INFINITY) });
    }
  }
});
