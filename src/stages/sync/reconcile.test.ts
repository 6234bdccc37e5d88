import { expect, test } from "bun:test";
import type { SourceRecord } from "../../sources/types.ts";
import { compareIds, type IndexEntry, pagesOf, reconcile, reconcilePages } from "./reconcile.ts";

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

/** Pages of `size` from `items`, counting how often the merge asks for one. */
function paged<T>(items: T[], size: number, failAt?: number): { pages: AsyncIterable<T[]>; asked: () => number } {
  let asked = 0;
  let at = 0;
  return {
    asked: () => asked,
    pages: {
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          asked++;
          if (failAt !== undefined && at >= failAt) throw new Error("source cut");
          if (at >= items.length) return { done: true, value: undefined };
          const page = items.slice(at, at + size);
          at += size;
          return { done: false, value: page };
        },
      }),
    },
  };
}

test("the merge awaits each side once a page, not once a record", async () => {
  const ids = Array.from({ length: 5000 }, (_, i) => `id${String(i).padStart(5, "0")}`);
  const source = paged(ids.filter((_, i) => i % 7 !== 0).map((id) => rec(id)), 1000);
  const index = paged(ids.filter((_, i) => i % 11 !== 0).map((id) => ent(id)), 1000);
  const counts: Record<string, number> = {};
  let batches = 0;
  for await (const steps of reconcilePages(source.pages, index.pages)) {
    batches++;
    for (const s of steps) counts[s.kind] = (counts[s.kind] ?? 0) + 1;
  }
  const both = ids.filter((_, i) => i % 7 !== 0 && i % 11 !== 0).length;
  expect(counts).toEqual({ unchanged: both, new: ids.filter((_, i) => i % 7 !== 0).length - both, vanished: ids.filter((_, i) => i % 11 !== 0).length - both });
  // 5 pages (4 full, one part) and the end on each side; steps come in a batch per page read.
  expect(source.asked()).toBe(6);
  expect(index.asked()).toBe(6);
  expect(batches).toBeLessThanOrEqual(12);
});

test("a paged source cut short deletes nothing it had not passed, and its decided steps come first", async () => {
  const source = paged([rec("a"), rec("c"), rec("e")], 2, 2);
  const index = paged([ent("a"), ent("b"), ent("c"), ent("d"), ent("f")], 2);
  const seen: string[] = [];
  const run = async () => {
    for await (const steps of reconcilePages(source.pages, index.pages)) for (const s of steps) seen.push(`${s.kind}:${"record" in s ? s.record.id : s.id}`);
  };
  await expect(run()).rejects.toThrow("source cut");
  expect(seen).toEqual(["unchanged:a", "vanished:b", "unchanged:c"]);
});

test("pagesOf passes on a part-filled page before the stream's error", async () => {
  const got: string[][] = [];
  const run = async () => {
    for await (const page of pagesOf(from(["a", "b", "c"], 3), 2)) got.push(page);
  };
  await expect(run()).rejects.toThrow("source cut");
  expect(got).toEqual([["a", "b"], ["c"]]);
});

test("an out-of-order page is refused", async () => {
  const run = async () => {
    for await (const _ of reconcilePages(paged([rec("a"), rec("c"), rec("b")], 2).pages, paged<IndexEntry>([], 2).pages)) void _;
  };
  await expect(run()).rejects.toThrow(/gave id "b" after "c", out of id order/);
});
