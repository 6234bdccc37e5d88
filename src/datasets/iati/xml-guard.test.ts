import { describe, expect, test } from "bun:test";
import { DEFAULT_XML_LIMITS, resolveLimits, scanXml } from "./xml-guard.ts";

describe("scanXml", () => {
  test("records the spans of top-level activities, skipping comments, CDATA, PIs and quoted '>'", () => {
    const xml = [
      `<?xml version="1.0"?>`,
      `<!-- <iati-activity> in a comment -->`,
      `<iati-activities version="2.03">`,
      `  <iati-activity a="x>y" b='<'><iati-identifier><![CDATA[<iati-activity>]]></iati-identifier></iati-activity>`,
      `  <?pi <iati-activity>?><iati-activity/>`,
      `  <other><iati-activity>nested, not top-level</iati-activity></other>`,
      `</iati-activities>`,
    ].join("\n");
    const scan = scanXml(xml, DEFAULT_XML_LIMITS);
    expect(scan.rejection).toBeNull();
    expect(scan.rootName).toBe("iati-activities");
    expect(scan.activitySpans.map(({ start, end }) => xml.slice(start, end))).toEqual([
      `<iati-activity a="x>y" b='<'><iati-identifier><![CDATA[<iati-activity>]]></iati-identifier></iati-activity>`,
      `<iati-activity/>`,
    ]);
  });

  test("rejects a DOCTYPE with its position", () => {
    const scan = scanXml(`<?xml version="1.0"?>\n  <!DOCTYPE a><a/>`, DEFAULT_XML_LIMITS);
    expect(scan.rejection).toMatchObject({ line: 2, column: 3, severity: "fatal" });
    expect(scan.rejection?.message).toContain("DOCTYPE is not allowed in IATI documents");
  });

  test("rejects stray DTD declarations too", () => {
    expect(scanXml(`<a><!ENTITY x "y"></a>`, DEFAULT_XML_LIMITS).rejection?.message).toContain("<!ENTITY>");
  });

  test("does not mistake a DOCTYPE inside a comment or CDATA for a real one", () => {
    expect(scanXml(`<!-- <!DOCTYPE a> --><a><![CDATA[<!DOCTYPE b>]]></a>`, DEFAULT_XML_LIMITS).rejection).toBeNull();
  });

  test("enforces the depth limit, counting self-closing elements", () => {
    const limits = resolveLimits({ maxDepth: 3 });
    expect(scanXml(`<a><b><c/></b><b><c></c></b></a>`, limits).rejection).toBeNull();
    expect(scanXml(`<a><b><c><d/></c></b></a>`, limits).rejection?.message).toBe(
      "Elements are nested more than 3 levels deep",
    );
  });

  test("enforces the size limit in UTF-8 bytes", () => {
    const limits = resolveLimits({ maxBytes: 13 });
    expect(scanXml(`<a>ééé</a>`, limits).rejection).toBeNull(); // 13 bytes, 10 UTF-16 units
    expect(scanXml(`<a>éééé</a>`, limits).rejection?.message).toBe("Document is 15 bytes, above the limit of 13 bytes");
  });

  test("stops quietly on truncated input", () => {
    for (const xml of [`<a><!-- open`, `<a><![CDATA[x`, `<a b="unclosed`, `<a><?pi`, `<a></a`, `<`]) {
      expect(scanXml(xml, DEFAULT_XML_LIMITS).rejection).toBeNull();
    }
  });
});
