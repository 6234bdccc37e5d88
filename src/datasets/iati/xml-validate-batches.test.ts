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
  test("an activity larger than maxPieceBytes refuses the document before it is parsed", () => {
    const xml = doc([activity("A"), activity("B", `<x:ext>${"y".repeat(5000)}</x:ext>`)].join("\n"), `<iati-activities version="2.03" xmlns:x="urn:x">`);
    const limits = { ...DEFAULT_XML_LIMITS, maxPieceBytes: 4096 };
    const refusal = [
      { line: 4, column: 1, severity: "fatal" as const, message: "An <iati-activity> starting here is more than 4096 bytes, above the limit of 4096 bytes for one activity" },
    ];
    // Read in parts (the activity is still open when it passes the limit) and whole.
    for (const partSize of [1000, xml.length]) {
      const validation = new ActivitiesValidation(limits);
      for (let i = 0; i < xml.length; i += partSize) validation.push(xml.slice(i, i + partSize));
      const result = validation.end();
      expect(result).toMatchObject({ valid: false, activitiesTotal: 0 });
      expect(result.errors).toEqual(refusal);
    }
    // The limit is in UTF-8 bytes: 2,000 characters of three bytes each pass it.
    const wide = doc(activity("A", `<x:ext>${"€".repeat(2000)}</x:ext>`), `<iati-activities version="2.03" xmlns:x="urn:x">`);
    expect(validateActivities(wide, { limits }).errors[0]?.message).toContain("above the limit of 4096 bytes for one activity");
    expect(validateActivities(wide).activitiesTotal).toBe(1);
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
