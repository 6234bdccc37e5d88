import { expect, test } from "bun:test";
import type { SourceRecord } from "../../sources/types.ts";
import { compareIds, type IndexEntry, reconcile } from "./reconcile.ts";

async function* from<T>(items: T[], failAfter?: number): AsyncGenerator<T> {
  for (const [i, item] of items.entries()) {
    if (failAfter !== undefined && i === failAfter) throw new Error("source cut");
    yield item;
  }
  if (failAfter !== undefined && failAfter >= items.length) throw new Error("source cut");
}

const rec = (id: string, version = "1"): SourceRecord => ({ id, version, doc: { id } });
const ent = (id: string, version: string | null = "1"): IndexEntry => ({ id, version });

async function steps(source: AsyncIterable<SourceRecord>, index: AsyncIterable<IndexEntry>) {
  const out: string[] = [];
  for await (const s of reconcile(source, index)) out.push(`${s.kind}:${"record" in s ? s.record.id : s.id}`);
  return out;
}

test("new, changed, unchanged and vanished in one pass", async () => {
  expect(await steps(from([rec("a"), rec("b", "2"), rec("d"), rec("e")]), from([ent("a"), ent("b"), ent("c"), ent("d"), ent("f")]))).toEqual([
    "unchanged:a", "changed:b", "vanished:c", "unchanged:d", "new:e", "vanished:f",
  ]);
  expect(await steps(from([]), from([ent("a")]))).toEqual(["vanished:a"]);
  expect(await steps(from([rec("a")]), from([ent("a", null)]))).toEqual(["changed:a"]);
});

test("a source cut short deletes nothing it had not passed", async () => {
  const seen: string[] = [];
  const run = async () => {
    for await (const s of reconcile(from([rec("a"), rec("c"), rec("e")], 2), from([ent("a"), ent("b"), ent("c"), ent("d"), ent("f")]))) seen.push(`${s.kind}:${"record" in s ? s.record.id : s.id}`);
  };
  await expect(run()).rejects.toThrow("source cut");
  // b was passed (the source gave c); d and f were not, so they are not declared vanished.
  expect(seen).toEqual(["unchanged:a", "vanished:b", "unchanged:c"]);
});

test("an ordered source out of order is refused", async () => {
  await expect(steps(from([rec("b"), rec("a")]), from([]))).rejects.toThrow(/gave id "a" after "b", out of id order/);
  await expect(steps(from([rec("a"), rec("a")]), from([]))).rejects.toThrow(/a duplicate id/);
});

test("ids compare as UTF-8 bytes, as Postgres COLLATE C and keyword sorts do", () => {
  const ids = ["b", "a", "B", "é", "\uffff", "😀", "aa", "10", "9"];
  const bytes = [...ids].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  expect([...ids].sort(compareIds)).toEqual(bytes);
});
