import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type TagRemovalCounts,
  URL_FIELDS,
  addOpenverseUrlScheme,
  addUrlScheme,
  cleanTags,
  defaultTagRules,
  ingestionServerTagRules,
  knownSchemeForUrl,
  normalizeFiletype,
} from "./clean.ts";

describe("cleanTags", () => {
  const flickr = (name: string, extra: Record<string, unknown> = {}) => ({ name, provider: "flickr", ...extra });

  test("keeps clean tags and returns the same array", () => {
    const tags = [flickr("cat"), flickr("dog", { accuracy: 0.95 })];
    const result = cleanTags(tags, defaultTagRules);
    expect(result.changed).toBe(false);
    expect(result.tags).toBe(tags);
    expect(result.malformed).toBe(false);
  });

  test("drops denylisted names case-insensitively", () => {
    const result = cleanTags([flickr("No Person"), flickr("SquareFormat"), flickr("cat")], defaultTagRules);
    expect(result.tags).toEqual([flickr("cat")]);
    expect(result.removed.denylisted).toBe(2);
    expect(result.changed).toBe(true);
  });

  test("drops names containing a denylisted fragment", () => {
    const result = cleanTags(
      [flickr("uploaded:by=flickrmobile"), flickr("iphoneography:filter"), flickr("license=cc0"), flickr("by-nc-sa 2.0")],
      defaultTagRules,
    );
    // The first is on the exact list and is counted there.
    expect(result.removed).toMatchObject({ denylisted: 1, denylisted_fragment: 3 });
    expect(result.tags).toEqual([]);
  });

  test("fragments match as plain text, whatever characters they hold", () => {
    const rules = { denylist: [], denylistFragments: ["a.b", "(x", "C++", "[1]"], minAccuracy: 0 };
    const names = ["axb", "a.b!", "(x)", "x", "c++ code", "c+", "tag[1]", "tag1"];
    const result = cleanTags(names.map((n) => flickr(n)), rules);
    expect(result.tags!.map((t) => t.name)).toEqual(["axb", "x", "c+", "tag1"]);
    expect(result.removed.denylisted_fragment).toBe(4);
    expect(cleanTags(names.map((n) => flickr(n)), { ...rules, denylistFragments: [] }).changed).toBe(false);
  });

  test('"by" is exact in the default rules but a fragment in the ingestion server\'s', () => {
    const tags = [flickr("by"), flickr("baby"), flickr("bypass")];
    expect(cleanTags(tags, defaultTagRules).tags).toEqual([flickr("baby"), flickr("bypass")]);
    expect(cleanTags(tags, ingestionServerTagRules).tags).toEqual([]);
  });

  test("drops machine tags below the accuracy threshold, boundary included", () => {
    const clarifai = (name: string, accuracy: unknown) => ({ name, provider: "clarifai", accuracy });
    const tags = [clarifai("a", 0.9), clarifai("b", 0.8999), clarifai("c", "0.85"), clarifai("d", "0.95"), clarifai("e", null)];
    const result = cleanTags(tags, defaultTagRules);
    expect(result.tags?.map((t) => t.name)).toEqual(["a", "d", "e"]);
    expect(result.removed.low_accuracy).toBe(2);
  });

  test("custom minAccuracy", () => {
    const tags = [{ name: "a", accuracy: 0.6 }];
    expect(cleanTags(tags, { ...defaultTagRules, minAccuracy: 0.5 }).changed).toBe(false);
  });

  test("drops tags from denied providers", () => {
    const result = cleanTags([{ name: "cat", provider: "rekognition", accuracy: 0.99 }], defaultTagRules);
    expect(result.removed.denied_provider).toBe(1);
    expect(cleanTags([{ name: "cat", provider: "rekognition" }], ingestionServerTagRules).changed).toBe(false);
  });

  test("drops malformed tags inside an array", () => {
    const result = cleanTags(["cat", null, { provider: "x" }, { name: 5 }, { name: "ok", accuracy: "high" }, flickr("dog")]);
    expect(result.tags).toEqual([flickr("dog")]);
    expect(result.removed.malformed_tag).toBe(5);
    expect(result.malformed).toBe(false);
  });

  test("null stays null; [] stays []", () => {
    expect(cleanTags(null)).toMatchObject({ tags: null, changed: false, malformed: false });
    expect(cleanTags(undefined)).toMatchObject({ tags: null, changed: false, malformed: false });
    expect(cleanTags([])).toMatchObject({ tags: [], changed: false, malformed: false });
  });

  test("coerces what is not an array", () => {
    expect(cleanTags({})).toMatchObject({ tags: [], changed: true, malformed: true });
    expect(cleanTags("cat")).toMatchObject({ tags: [], changed: true, malformed: true });
    expect(cleanTags(7)).toMatchObject({ tags: [], changed: true, malformed: true });
    expect(cleanTags(flickr("cat"))).toMatchObject({ tags: [flickr("cat")], changed: true, malformed: true });
    expect(cleanTags(JSON.stringify([flickr("cat"), flickr("no person")]))).toMatchObject({
      tags: [flickr("cat")],
      changed: true,
      malformed: true,
      removed: { denylisted: 1 },
    });
  });

  test("keeps extra keys of kept tags", () => {
    const tag = { name: "cat", provider: "flickr", extra: { x: 1 } };
    expect(cleanTags([tag, flickr("no person")]).tags?.[0]).toBe(tag);
  });
});

describe("addUrlScheme", () => {
  test.each([
    ["www.flickr.com/photos/1", "https://www.flickr.com/photos/1"],
    ["example.com/x", "https://example.com/x"],
    ["//example.com/x", "https://example.com/x"],
    ["localhost:8080/x", "https://localhost:8080/x"],
    ["example.com:8080", "https://example.com:8080"],
    ["  example.com/x ", "https://example.com/x"],
  ])("%p gains a scheme", (input, output) => {
    expect(addUrlScheme(input)).toEqual({ url: output, changed: true });
  });

  test.each(["https://example.com", "http://example.com", "HTTPS://EXAMPLE.COM", "ftp://x", "mailto:a@b.c", "/relative/path", ""])(
    "%p is left alone",
    (input) => {
      expect(addUrlScheme(input)).toEqual({ url: input, changed: false });
    },
  );

  test("null and another scheme", () => {
    expect(addUrlScheme(null)).toEqual({ url: null, changed: false });
    expect(addUrlScheme("example.com", "http")).toEqual({ url: "http://example.com", changed: true });
  });

  test("Openverse's known hosts", () => {
    expect(knownSchemeForUrl("collections.musee-mccord.qc.ca/x")).toBe("http");
    expect(knownSchemeForUrl("geograph.org.uk/profile/1")).toBe("https");
    expect(knownSchemeForUrl("https://www.flickr.com/x")).toBe("https");
    expect(knownSchemeForUrl("unknown.example/x")).toBeUndefined();
    expect(addOpenverseUrlScheme("collections.musee-mccord.qc.ca/x")).toEqual({
      url: "http://collections.musee-mccord.qc.ca/x",
      changed: true,
    });
    expect(addOpenverseUrlScheme("unknown.example/x").url).toBe("https://unknown.example/x");
  });
});

test("normalizeFiletype", () => {
  expect(normalizeFiletype("JPG")).toBe("jpg");
  expect(normalizeFiletype("jpeg")).toBe("jpg");
  expect(normalizeFiletype("TIF")).toBe("tiff");
  expect(normalizeFiletype("")).toBeNull();
  expect(normalizeFiletype(null)).toBeNull();
});

// ---------------------------------------------------------------- the sample

/** A minimal CSV reader: RFC 4180 quoting, no line breaks inside fields (true of the fixture). */
function readCsv(path: string): Record<string, string>[] {
  const lines = readFileSync(path, "utf8").split("\n").filter((l) => l !== "");
  const parseLine = (line: string): string[] => {
    const fields: string[] = [];
    let i = 0;
    for (;;) {
      let field = "";
      if (line[i] === '"') {
        i++;
        for (;;) {
          const q = line.indexOf('"', i);
          if (q === -1) throw new Error(`unterminated quote: ${line}`);
          field += line.slice(i, q);
          if (line[q + 1] === '"') {
            field += '"';
            i = q + 2;
          } else {
            i = q + 1;
            break;
          }
        }
      } else {
        const comma = line.indexOf(",", i);
        const end = comma === -1 ? line.length : comma;
        field = line.slice(i, end);
        i = end;
      }
      fields.push(field);
      if (i >= line.length) return fields;
      if (line[i] !== ",") throw new Error(`bad CSV at ${i}: ${line}`);
      i++;
    }
  };
  const header = parseLine(lines[0] as string);
  return lines.slice(1).map((line) => {
    const values = parseLine(line);
    if (values.length !== header.length) throw new Error(`expected ${header.length} fields, got ${values.length}`);
    return Object.fromEntries(header.map((h, k) => [h, values[k] as string]));
  });
}

describe("sample_images_to_clean.csv", () => {
  const rows = readCsv(join(import.meta.dir, "../../../test/fixtures/openverse/sample_images_to_clean.csv"));
  // An empty CSV field is SQL NULL (SCHEMA.md).
  const tagsOf = (row: Record<string, string>): unknown => (row.tags ? JSON.parse(row.tags) : null);

  type RuleName = keyof TagRemovalCounts;
  const rowsChangedBy = (rules = defaultTagRules): Record<RuleName | "any" | "malformed", number> => {
    const counts = { malformed_tag: 0, low_accuracy: 0, denied_provider: 0, denylisted: 0, denylisted_fragment: 0, any: 0, malformed: 0 };
    for (const row of rows) {
      const result = cleanTags(tagsOf(row), rules);
      for (const rule of Object.keys(result.removed) as RuleName[]) if (result.removed[rule] > 0) counts[rule]++;
      if (result.changed) counts.any++;
      if (result.malformed) counts.malformed++;
    }
    return counts;
  };

  test("has the documented shape", () => {
    expect(rows.length).toBe(1899);
  });

  // Literals checked with Python's csv and json modules, independently of this code:
  //   python3 -c "import csv,json;R=list(csv.DictReader(open('test/fixtures/openverse/sample_images_to_clean.csv')));T=[json.loads(r['tags']) for r in R if r['tags']];L=[t for t in T if isinstance(t,list)];D={'no person','squareformat','uploaded:by=flickrmobile','uploaded:by=instagram','flickriosapp:filter=flamingo','by'};F=['flickriosapp','uploaded',':','=','cc0','by-nc','by-nd','by-sa','by-nc-nd','by-nc-sa','pdm'];lo=lambda t:'accuracy' in t and float(t['accuracy'])<0.9;print(len(T)-len(L),sum(any(lo(t) for t in l) for l in L),sum(any(not lo(t) and t['name'].lower() in D for t in l) for l in L),sum(any(not lo(t) and t['name'].lower() not in D and any(f in t['name'].lower() for f in F) for t in l) for l in L))"
  //   → 131 259 214 2   (with 'by' moved into F and dropped from D: the last number is 7)
  test("rows whose tags each rule changes (default rules)", () => {
    expect(rowsChangedBy(defaultTagRules)).toEqual({
      malformed_tag: 0,
      low_accuracy: 259,
      denied_provider: 0,
      denylisted: 214,
      denylisted_fragment: 2,
      any: 317 + 131, // 317 rows lose tags, 131 `{}` rows become []
      malformed: 131,
    });
  });

  test("rows whose tags each rule changes (ingestion server rules)", () => {
    expect(rowsChangedBy(ingestionServerTagRules)).toMatchObject({
      low_accuracy: 259,
      denylisted: 214,
      denylisted_fragment: 7,
      any: 321 + 131,
      malformed: 131,
    });
  });

  test("the same counts by a plain loop over the rows", () => {
    const exact = ["no person", "squareformat", "uploaded:by=flickrmobile", "uploaded:by=instagram", "flickriosapp:filter=flamingo", "by"];
    const fragment = /flickriosapp|uploaded|:|=|cc0|by-n[cd]|by-sa|pdm/;
    let lowAccuracyRows = 0;
    let exactRows = 0;
    let fragmentRows = 0;
    let objectRows = 0;
    for (const row of rows) {
      if (row.tags === "") continue;
      const tags = JSON.parse(row.tags as string);
      if (!Array.isArray(tags)) {
        objectRows++;
        continue;
      }
      let low = false;
      let hitExact = false;
      let hitFragment = false;
      for (const tag of tags) {
        if (tag.accuracy !== undefined && Number(tag.accuracy) < 0.9) {
          low = true;
          continue;
        }
        const name = String(tag.name).toLowerCase();
        if (exact.includes(name)) hitExact = true;
        else if (fragment.test(name)) hitFragment = true;
      }
      if (low) lowAccuracyRows++;
      if (hitExact) exactRows++;
      if (hitFragment) fragmentRows++;
    }
    const counts = rowsChangedBy(defaultTagRules);
    expect([counts.low_accuracy, counts.denylisted, counts.denylisted_fragment, counts.malformed]).toEqual([
      lowAccuracyRows,
      exactRows,
      fragmentRows,
      objectRows,
    ]);
  });

  // Literals checked with:
  //   python3 -c "import csv,re;R=list(csv.DictReader(open('test/fixtures/openverse/sample_images_to_clean.csv')));print([sum(1 for r in R if r[f] and not re.match(r'[a-zA-Z][a-zA-Z0-9+.-]*://',r[f])) for f in ['url','thumbnail','foreign_landing_url','creator_url']])"
  //   → [2, 0, 294, 405]
  test("URLs that gain a scheme, per field", () => {
    const gained: Record<string, number> = {};
    const plainCount: Record<string, number> = {};
    for (const field of URL_FIELDS) {
      gained[field] = 0;
      plainCount[field] = 0;
      for (const row of rows) {
        const value = row[field] ? (row[field] as string) : null;
        if (addUrlScheme(value).changed) gained[field]++;
        if (value !== null && !value.startsWith("http://") && !value.startsWith("https://")) plainCount[field]++;
      }
    }
    expect(gained).toEqual({ url: 2, thumbnail: 0, foreign_landing_url: 294, creator_url: 405 });
    expect(gained).toEqual(plainCount);
  });

  test("Openverse's known plain-http host gets http", () => {
    const http = rows
      .map((row) => addOpenverseUrlScheme(row.foreign_landing_url ? (row.foreign_landing_url as string) : null).url)
      .filter((url) => url?.startsWith("http://collections.musee-mccord.qc.ca/"));
    expect(http.length).toBe(2);
  });
});
