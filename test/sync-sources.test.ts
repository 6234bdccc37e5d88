/**
 * Issue 11, point 1: the sync sources through the Source interface — the file source (CSV, TSV,
 * JSONL, a glob, versions from a field or a content hash) and the example module source loaded
 * from its file and export as the binary loads it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileSource } from "../src/sources/file.ts";
import { loadModuleSource } from "../src/sources/module.ts";
import type { Source, SourceRecord } from "../src/sources/types.ts";

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sluice-sources-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function all(source: Source): Promise<SourceRecord[]> {
  const out: SourceRecord[] = [];
  for await (const r of source.docs(new AbortController().signal)) out.push(r);
  return out;
}

const context = { dataset: "things", key: "id" };

describe("file source", () => {
  test("CSV with quoted fields, TSV and JSONL through one glob; versions from a field", async () => {
    await Bun.write(join(dir, "a.csv"), 'id,title,rev\n1,"one, with comma",7\n2,two,8\n');
    await Bun.write(join(dir, "b.tsv"), "id\ttitle\trev\n3\tthree \"quoted\"\t9\n");
    await Bun.write(join(dir, "c.jsonl"), '{"id":"4","title":"four","rev":10}\n\n{"id":"5","title":"five","rev":11}\n');
    const source = new FileSource({ kind: "file", path: "*.{csv,tsv,jsonl}", versionField: "rev" }, context, dir);
    await source.ping();
    const records = await all(source);
    expect(records.map((r) => [r.id, r.version, r.doc.title])).toEqual([
      ["1", "7", "one, with comma"],
      ["2", "8", "two"],
      ["3", "9", 'three "quoted"'],
      ["4", "10", "four"],
      ["5", "11", "five"],
    ]);
    expect(source.ordered).toBe(false);
  });

  test("without a version field the version is a content hash that follows the content", async () => {
    const file = join(dir, "h.csv");
    await Bun.write(file, "id,title\n1,a\n");
    const before = (await all(new FileSource({ kind: "file", path: file }, context)))[0]!.version;
    await Bun.write(file, "id,title\n1,b\n");
    const after = (await all(new FileSource({ kind: "file", path: file }, context)))[0]!.version;
    expect(before).toMatch(/^[0-9a-f]{32}$/);
    expect(after).not.toBe(before);
  });

  test("changed() follows the files' size and time; a record without an id is named", async () => {
    const file = join(dir, "s.jsonl");
    await Bun.write(file, '{"id":"1"}\n');
    const source = new FileSource({ kind: "file", path: file }, context);
    const state = await source.state();
    expect(await source.changed(state)).toBe(false);
    await Bun.write(file, '{"id":"1"}\n{"title":"no id"}\n');
    expect(await source.changed(state)).toBe(true);
    await expect(all(source)).rejects.toThrow(/s\.jsonl: record 2 has no id/);
  });

  test("a missing file is named", async () => {
    await expect(new FileSource({ kind: "file", path: "nope.csv" }, context, dir).ping()).rejects.toThrow(/file nope\.csv does not exist/);
  });
});

describe("module source", () => {
  const example = "./examples/sources/json-directory.ts:JsonDirectorySource";

  test("the example module source loads by file and export, with its own options", async () => {
    const notes = join(dir, "notes");
    await Bun.write(join(notes, "b.json"), JSON.stringify({ title: "bee" }));
    await Bun.write(join(notes, "a.json"), JSON.stringify({ title: "ay" }));
    const source = await loadModuleSource({ kind: "module", module: example, options: { dir: notes } }, context);
    await source.ping();
    const records = (await all(source)).sort((x, y) => x.id.localeCompare(y.id));
    expect(records.map((r) => [r.id, r.doc.title])).toEqual([["a", "ay"], ["b", "bee"]]);
    expect(records[0]!.version).toMatch(/^\d+:\d/);
  });

  test("a wrong export or a non-source is refused with one line", async () => {
    await expect(loadModuleSource({ kind: "module", module: "./examples/sources/json-directory.ts:Nope" }, context)).rejects.toThrow(/has no export Nope \(it exports JsonDirectorySource\)/);
    const bad = join(dir, "bad.ts");
    await Bun.write(bad, "export class NotASource { constructor() {} }\n");
    await expect(loadModuleSource({ kind: "module", module: `${bad}:NotASource` }, context)).rejects.toThrow(/is not a sync source: it lacks ping, changed, docs, ordered/);
  });
});
