import { describe, expect, test } from "bun:test";
import { bundleFingerprint, parseMetadata } from "./metadata.ts";
import { BundleRejectedError } from "./rejection.ts";

const fixtures = new URL("../../../test/fixtures/pacifica/", import.meta.url).pathname;
const read = (name: string) => Bun.file(`${fixtures}${name}`).text();
const good = () => read("metadata-files/good-md.json");

/** The parse error for `text`, which must be a bad_metadata rejection. */
function rejection(text: string): string {
  try {
    parseMetadata(text);
  } catch (error) {
    expect(error).toBeInstanceOf(BundleRejectedError);
    expect((error as BundleRejectedError).reason).toBe("bad_metadata");
    return (error as BundleRejectedError).toLine();
  }
  throw new Error("parseMetadata accepted it");
}

/** good-md.json with `edit` applied to its parsed list. */
async function edited(edit: (items: Record<string, unknown>[]) => void): Promise<string> {
  const items = JSON.parse(await good());
  edit(items);
  return JSON.stringify(items);
}

describe("parseMetadata", () => {
  test("reads Pacifica's good metadata, normalizing subdirs", async () => {
    const meta = parseMetadata(await good());
    expect(meta.transaction).toEqual({ submitter: "10", project: "1234a", instrument: "54" });
    expect(meta.keyValues).toEqual([
      { key: "Temp C", value: "27" },
      { key: "Temp F", value: "27" },
      { key: "Tag", value: "foo" },
    ]);
    expect(meta.files.map((f) => f.path)).toEqual(["data/a/b/foo.txt", "data/a/b/bar.txt", "data/a/c/パソコン資産管理台帳（S&T HK）_現地調達PC.xls"]);
    expect(meta.files[1]).toMatchObject({ subdir: "data/a/b", name: "bar.txt", size: 4, hashtype: "sha1", hashsum: "e242ed3bffccdf271b7fbaf34ed72d089537b42f", mimetype: "text/plain", mtime: "Tue Nov 29 14:09:05 PST 2016" });
  });

  test("refuses Pacifica's broken fixtures, naming the field", async () => {
    expect(rejection(await read("metadata-files/bad-json-md.notjson"))).toContain("metadata.txt: is not valid JSON");
    expect(rejection(await read("metadata-files/bad-hashsum-md.json"))).toContain('hashsum "deadbeef" is not a sha1 digest (40 hex digits)');
    expect(rejection(await read("metadata-files/bad-mimetype-md.json"))).toContain('mimetype "lame-mime-type" is not a media type');
    expect(rejection(await read("move-md.json"))).toContain("has a source path (a Pacifica move ingest)");
  });

  test("bad-project-md.json parses (its sizes are wrong, which only the archive can show)", async () => {
    const meta = parseMetadata(await read("metadata-files/bad-project-md.json"));
    expect(meta.files.map((f) => f.size)).toEqual([128, 47]);
  });

  test("each required field is required", async () => {
    for (const field of ["submitter", "project", "instrument"]) {
      const text = await edited((items) => items.splice(items.findIndex((i) => i.destinationTable === `Transactions.${field}`), 1));
      expect(rejection(text)).toContain(`Transactions.${field} is missing`);
    }
    for (const field of ["name", "subdir", "size", "hashtype", "hashsum", "mimetype"]) {
      const text = await edited((items) => delete items[6]![field]);
      expect(rejection(text)).toMatch(new RegExp(`item 7 .*${field}`));
    }
    expect(rejection(await edited((items) => items.splice(6)))).toContain("lists no Files");
    expect(rejection("{}")).toContain("must be a JSON list");
  });

  test("refuses unsafe paths, duplicates and unknown tables", async () => {
    expect(rejection(await edited((items) => (items[6]!.subdir = "data/../../etc")))).toContain("climbs out of the bundle");
    expect(rejection(await edited((items) => (items[6]!.subdir = "/etc")))).toContain("is an absolute path");
    expect(rejection(await edited((items) => (items[7]!.subdir = "data/a//b/", items[7]!.name = "foo.txt")))).toContain("lists data/a/b/foo.txt a second time");
    expect(rejection(await edited((items) => (items[0]!.destinationTable = "Users")))).toContain('unknown destinationTable "Users"');
    expect(rejection(await edited((items) => (items[6]!.hashtype = "crc32")))).toContain("use one of md5, sha1");
  });
});

describe("bundleFingerprint", () => {
  test("ignores formatting and path spelling, not contents", async () => {
    const base = bundleFingerprint(parseMetadata(await good()));
    const reformatted = await edited((items) => {
      items.reverse();
      items.find((i) => i.name === "bar.txt")!.subdir = "data/a/b";
    });
    expect(bundleFingerprint(parseMetadata(reformatted))).toBe(base);
    const changed = await edited((items) => (items[5]!.value = "bar"));
    expect(bundleFingerprint(parseMetadata(changed))).not.toBe(base);
  });
});
