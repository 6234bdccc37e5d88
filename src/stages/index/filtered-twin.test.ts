import { expect, test } from "bun:test";
import { KeptOutList } from "./filtered-twin.ts";

test("kept-out ids beyond spillAt leave memory, and come back in order, a batch at a time", async () => {
  const list = new KeptOutList(100);
  // Ids that a line-per-id file must survive: a newline, a quote, a non-BMP character.
  const ids = Array.from({ length: 1234 }, (_, i) => (i === 5 ? "a\nb" : i === 6 ? 'q"uote' : i === 7 ? "😀" : `id-${i}`));
  for (const id of ids) {
    list.add(id);
    expect(list.held).toBeLessThan(100);
  }
  expect(list.count).toBe(1234);
  const batches: string[][] = [];
  for await (const batch of list.batches(500)) batches.push(batch);
  expect(batches.map((b) => b.length)).toEqual([500, 500, 234]);
  expect(batches.flat()).toEqual(ids);
  // The spill file's clean-up on exit goes with it (a worker indexes many generations in one process).
  const listeners = process.listenerCount("exit");
  list.discard();
  expect(process.listenerCount("exit")).toBe(listeners - 1);
});

test("a short list stays in memory and needs no file", async () => {
  const list = new KeptOutList(100);
  for (const id of ["a", "b"]) list.add(id);
  const batches: string[][] = [];
  for await (const batch of list.batches(1000)) batches.push(batch);
  expect(batches).toEqual([["a", "b"]]);
});
