import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { checkWellFormed, validateActivities } from "./xml-validate.ts";

const FIXTURES = join(import.meta.dir, "../../../test/fixtures/iati");
const SCHEMA_TESTS = join(FIXTURES, "schema-tests");
const read = (path: string) => readFileSync(path, "utf8");
const filesIn = (dir: string) => readdirSync(dir).filter((name) => name.endsWith(".xml"));

/** A schema-valid activity body, from IATI-Schemas' minimal test document. */
function activity(identifier: string, { withTitle = true } = {}): string {
  return `  <iati-activity>
    <iati-identifier>${identifier}</iati-identifier>
    <reporting-org type="xx" ref="xx"><narrative>Organisation name</narrative></reporting-org>
${withTitle ? "    <title><narrative>Title</narrative></title>\n" : ""}    <description><narrative>Description</narrative></description>
    <participating-org role="1"/>
    <activity-status code="2"/>
    <activity-date type="1" iso-date="2013-11-27"/>
  </iati-activity>`;
}
const documentOf = (...activities: string[]) =>
  `<?xml version="1.0"?>\n<iati-activities version="2.03">\n${activities.join("\n")}\n</iati-activities>\n`;

describe("validateActivities against the IATI 2.03 schema", () => {
  const passing = filesIn(join(SCHEMA_TESTS, "should-pass"));
  const failing = filesIn(join(SCHEMA_TESTS, "should-fail"));

  test("all schema test files are present", () => {
    expect(passing).toHaveLength(8);
    expect(failing).toHaveLength(8);
  });

  for (const name of passing) {
    test(`should-pass/${name} validates`, () => {
      const report = validateActivities(read(join(SCHEMA_TESTS, "should-pass", name)));
      expect(report.errors).toEqual([]);
      expect(report.valid).toBe(true);
      expect(report.activitiesTotal).toBeGreaterThan(0);
      expect(report.activitiesValid).toBe(report.activitiesTotal);
      expect(report.cleanedXml).toBeUndefined();
    });
  }

  for (const name of failing) {
    test(`should-fail/${name} fails with a located error`, () => {
      const report = validateActivities(read(join(SCHEMA_TESTS, "should-fail", name)));
      expect(report.valid).toBe(false);
      expect(report.errors.some((issue) => issue.severity !== "warning" && issue.line > 0)).toBe(true);
      expect(report.activitiesValid).toBe(0);
    });
  }

  test("the real activity fixtures validate", () => {
    for (const name of filesIn(join(FIXTURES, "activities"))) {
      const report = validateActivities(read(join(FIXTURES, "activities", name)));
      expect({ name, errors: report.errors }).toEqual({ name, errors: [] });
      expect(report.activitiesTotal).toBe(1);
    }
  });

  test("errors name the activity they are in", () => {
    const report = validateActivities(read(join(SCHEMA_TESTS, "should-fail", "budget__03-missing-value.xml")));
    expect(report.errors[0]).toMatchObject({ severity: "error", line: 19, activityIndex: 1 });
    expect(report.errors[0]?.message).toContain("Expected is ( value )");
  });

  test("a non-IATI root is reported as such", () => {
    const report = validateActivities(read(join(FIXTURES, "flatten", "not-iati.input.xml")));
    expect(report.valid).toBe(false);
    expect(report.errors[0]?.message).toBe(
      "Not an IATI activities document: the root element is <not-iati-xml>, expected <iati-activities>",
    );
  });

  test("text is read as UTF-8 whatever its XML declaration says", () => {
    const xml = documentOf(activity("CAFÉ-€-1")).replace(`<?xml version="1.0"?>`, `<?xml version="1.0" encoding="ISO-8859-1"?>`);
    const report = validateActivities(xml);
    expect(report.valid).toBe(true);
  });
});

describe("partly valid documents", () => {
  test("cleanedXml keeps only the valid activities, byte for byte, and says which were removed", () => {
    const xml = documentOf(activity("GOOD-1"), activity("BAD-2", { withTitle: false }), activity("GOOD-3"), activity("BAD-4", { withTitle: false }));
    const report = validateActivities(xml);
    expect(report.valid).toBe(false);
    expect(report.activitiesTotal).toBe(4);
    expect(report.activitiesValid).toBe(2);
    expect(report.errors.map((issue) => issue.activity)).toEqual(["BAD-2", "BAD-4"]);
    expect(report.removedActivities).toEqual([
      { position: 2, iatiIdentifier: "BAD-2" },
      { position: 4, iatiIdentifier: "BAD-4" },
    ]);
    expect(report.cleanedXml).toBe(documentOf(activity("GOOD-1"), activity("GOOD-3")));
    expect(validateActivities(report.cleanedXml ?? "").valid).toBe(true);
  });

  test("works on single-line files, where line numbers cannot tell activities apart", () => {
    const oneLine = (xml: string) => xml.replace(/\n\s*/g, "");
    const xml = oneLine(documentOf(activity("BAD-1", { withTitle: false }), activity("GOOD-2")));
    const report = validateActivities(xml);
    expect(report.errors.map((issue) => [issue.line, issue.activityIndex])).toEqual([[1, 1]]);
    expect(report.cleanedXml).toBe(oneLine(documentOf(activity("GOOD-2"))));
  });

  test("an invalid activity without an identifier is removed by position", () => {
    const xml = documentOf(activity("GOOD-1"), `  <iati-activity/>`);
    const report = validateActivities(xml);
    expect(report.removedActivities).toEqual([{ position: 2 }]);
    expect(report.cleanedXml).toBe(documentOf(activity("GOOD-1")));
  });

  test("no cleanedXml when every activity is invalid", () => {
    const report = validateActivities(documentOf(activity("BAD-1", { withTitle: false })));
    expect(report.activitiesValid).toBe(0);
    expect(report.cleanedXml).toBeUndefined();
  });

  test("no cleanedXml when the document itself is invalid", () => {
    const xml = documentOf(activity("GOOD-1"), activity("BAD-2", { withTitle: false })).replace(` version="2.03"`, "");
    const report = validateActivities(xml);
    expect(report.errors.some((issue) => issue.activityIndex === undefined)).toBe(true);
    expect(report.cleanedXml).toBeUndefined();
  });
});

describe("checkWellFormed", () => {
  test("accepts well-formed XML whatever its vocabulary", () => {
    expect(checkWellFormed(`<anything><at all="1"/></anything>`)).toEqual({ wellFormed: true, errors: [] });
  });

  test("reports parse errors with positions", () => {
    const report = checkWellFormed(`<a>\n<b></a>`);
    expect(report.wellFormed).toBe(false);
    expect(report.errors[0]).toMatchObject({ line: 2, severity: "fatal" });
  });
});

describe("hostile XML", () => {
  const BILLION_LAUGHS = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<iati-activities version="2.03"><iati-activity><iati-identifier>&lol9;</iati-identifier></iati-activity></iati-activities>`;
  const XXE = `<?xml version="1.0"?>
<!DOCTYPE iati-activities [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<iati-activities version="2.03"><iati-activity><iati-identifier>&xxe;</iati-identifier></iati-activity></iati-activities>`;
  const EXTERNAL_DTD = `<?xml version="1.0"?>
<!DOCTYPE iati-activities SYSTEM "http://127.0.0.1:1/x.dtd">
<iati-activities version="2.03"/>`;
  const DEEP = `<iati-activities version="2.03">${"<a>".repeat(10_000)}${"</a>".repeat(10_000)}</iati-activities>`;
  const TRUNCATED = read(join(FIXTURES, "activities", "test-org-1-activity-1.xml")).slice(0, 5000);

  const rejectedWith = (xml: string, message: RegExp) => {
    const started = performance.now();
    const report = validateActivities(xml);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(report.valid).toBe(false);
    expect(report.activitiesTotal).toBe(0);
    expect(report.errors[0]?.severity).toBe("fatal");
    expect(report.errors[0]?.message).toMatch(message);
    expect(checkWellFormed(xml).wellFormed).toBe(false);
    return report;
  };

  test("billion laughs", () => {
    const report = rejectedWith(BILLION_LAUGHS, /^DOCTYPE is not allowed in IATI documents/);
    expect(report.errors[0]).toMatchObject({ line: 2, column: 1 });
  });

  test("XXE reading file:///etc/passwd", () => {
    const report = rejectedWith(XXE, /^DOCTYPE is not allowed/);
    expect(JSON.stringify(report)).not.toContain("root:");
  });

  test("external DTD on the network", () => {
    rejectedWith(EXTERNAL_DTD, /^DOCTYPE is not allowed/);
  });

  test("10,000-deep nesting", () => {
    rejectedWith(DEEP, /^Elements are nested more than 256 levels deep$/);
  });

  test("a raised depth limit still stops at libxml2's hard limit, without throwing", () => {
    const report = validateActivities(DEEP, { limits: { maxDepth: 100_000 } });
    expect(report.valid).toBe(false);
    expect(report.errors[0]?.message).toMatch(/depth/i);
  });

  test("a truncated file", () => {
    const report = rejectedWith(TRUNCATED, /./);
    expect(report.errors[0]?.line).toBeGreaterThan(1);
  });

  test("an oversized file, with a configurable limit", () => {
    rejectedWith(`<iati-activities version="2.03">${" ".repeat(50 * 1024 * 1024)}</iati-activities>`, /above the limit of 52428800 bytes$/);
    const report = validateActivities(documentOf(activity("A")), { limits: { maxBytes: 100 } });
    expect(report.valid).toBe(false);
    expect(report.errors[0]?.message).toMatch(/^Document is \d+ bytes, above the limit of 100 bytes$/);
  });

  test("entity references without a DTD are undefined entities, not expansions", () => {
    const report = validateActivities(`<iati-activities version="2.03"><iati-activity><iati-identifier>&xxe;</iati-identifier></iati-activity></iati-activities>`);
    expect(report.valid).toBe(false);
    expect(report.errors[0]?.message).toContain("Entity 'xxe' not defined");
  });

  test("empty and binary input", () => {
    expect(validateActivities("").valid).toBe(false);
    expect(validateActivities("\u0000\u0001garbage").valid).toBe(false);
  });
});
