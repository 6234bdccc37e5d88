import { expect, test } from "bun:test";
import { DEFAULT_XML_LIMITS } from "./xml-guard.ts";
import { IatiFlattenError } from "./flatten.ts";
import { identifierAtStart, type XmlPiece, XmlSplitter } from "./xml-split.ts";
import { iterateFlatActivityParts } from "./xml-stream.ts";

const LIMITS = { ...DEFAULT_XML_LIMITS, maxPieceBytes: 4096 };

function split(xml: string, partChars: number, limits = LIMITS): { pieces: XmlPiece[]; splitter: XmlSplitter; maxHeld: number } {
  const splitter = new XmlSplitter(limits);
  const pieces: XmlPiece[] = [];
  let maxHeld = 0;
  for (let i = 0; i < xml.length; i += partChars) {
    pieces.push(...splitter.push(xml.slice(i, i + partChars)));
    maxHeld = Math.max(maxHeld, splitter.heldChars);
  }
  pieces.push(...splitter.end());
  return { pieces, splitter, maxHeld };
}

const big = (id: string, filler: string) =>
  `<iati-activity>\n  <iati-identifier>${id}</iati-identifier>\n${filler}\n</iati-activity>`;
const small = (id: string) => `<iati-activity><iati-identifier>${id}</iati-identifier></iati-activity>`;

test("an activity over the piece limit is streamed past: one empty piece with its size and identifier, the others whole", () => {
  const filler = Array.from({ length: 2000 }, (_, i) => `  <transaction><value>${i}</value><!-- é ${"-".repeat(i % 7)} --><![CDATA[<x>]]></transaction>`).join("\n");
  const oversized = big("ORG-&amp;-BIG", filler);
  const xml = `<?xml version="1.0"?>\n<iati-activities version="2.03">\n${small("A")}\n${oversized}\n${small("C")}\n</iati-activities>\n`;
  for (const partChars of [100, 1000, 4096, 70_000, xml.length]) {
    const { pieces, splitter, maxHeld } = split(xml, partChars);
    expect(splitter.rejection).toBeNull();
    const activities = pieces.filter((p) => p.kind === "activity");
    expect(activities.map((p) => p.text)).toEqual([small("A"), "", small("C")]);
    expect(activities[1]).toMatchObject({ line: 4, column: 1, oversized: { bytes: Buffer.byteLength(oversized), iatiIdentifier: "ORG-&-BIG" } });
    expect(activities[2]).toMatchObject({ line: 4 + oversized.split("\n").length, column: 1 });
    // The text around it is handed out unchanged, and the oversized one was never held whole.
    expect(pieces.map((p) => p.text).join("")).toBe(xml.replace(oversized, ""));
    if (partChars < xml.length) expect(maxHeld).toBeLessThan(4096 + partChars + 16);
  }
});

test("a long comment, CDATA section or text inside an oversized activity is passed a part at a time", () => {
  for (const [open, close] of [["<!--", "-->"], ["<![CDATA[", "]]>"], ["<?pi ", "?>"], ["", ""]]) {
    const oversized = big("LONG", `<description>${open}${"x".repeat(200_000)}${close}</description>`);
    const xml = `<iati-activities>${small("A")}${oversized}${small("C")}</iati-activities>`;
    const { pieces, splitter, maxHeld } = split(xml, 1000);
    expect(splitter.rejection).toBeNull();
    expect(pieces.filter((p) => p.kind === "activity").map((p) => p.oversized?.bytes ?? p.text)).toEqual([small("A"), oversized.length, small("C")]);
    expect(maxHeld).toBeLessThan(4096 + 1000 + 16);
  }
});

test("what cannot be skipped still refuses the document: a stretch between activities, a start tag over the limit, a DOCTYPE inside", () => {
  const between = `<iati-activities>${small("A")}<!--${"c".repeat(5000)}-->${small("B")}</iati-activities>`;
  expect(split(between, 1000).splitter.rejection?.message).toBe(
    "A part of the document starting here is more than 4096 bytes, above the limit of 4096 bytes for one activity",
  );
  const tag = `<iati-activities>${small("A")}${big("T", `<title x="${"v".repeat(20_000)}"/>`)}</iati-activities>`;
  expect(split(tag, 1000).splitter.rejection?.message).toBe("A tag inside an oversized <iati-activity> is more than 4096 bytes, above the limit of 4096 bytes");
  const doctype = `<iati-activities>${big("D", `${"<a/>".repeat(2000)}<!DOCTYPE x>`)}</iati-activities>`;
  expect(split(doctype, 1000).splitter.rejection?.message).toContain("DOCTYPE is not allowed");
});

test("identifierAtStart reads the activity's first iati-identifier, decoded, or nothing", () => {
  expect(identifierAtStart(`<iati-activity a="1">\n <iati-identifier>  X-1&#x41;&#66;&lt; </iati-identifier><x>`)).toBe("X-1AB<");
  expect(identifierAtStart(`<iati-activity><iati-identifier/><title>`)).toBeUndefined();
  expect(identifierAtStart(`<iati-activity><iati-identifier>cut off`)).toBeUndefined();
});

test("flattening refuses a document that still holds an oversized activity (validation cuts it out first)", async () => {
  const xml = `<iati-activities version="2.03">${small("A")}${big("B", "<x/>".repeat(2000))}</iati-activities>`;
  const parts = async function* () {
    yield xml;
  };
  const flattened: string[] = [];
  const error = await (async () => {
    for await (const activity of iterateFlatActivityParts(parts(), { limits: { maxPieceBytes: 4096 } })) flattened.push(String(activity.iati_identifier));
  })().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(IatiFlattenError);
  expect((error as Error).message).toBe(
    `XML could not be read (line 1): an <iati-activity> of ${big("B", "<x/>".repeat(2000)).length} bytes is over the limit of 4096 bytes for one activity; validate the document again`,
  );
});
