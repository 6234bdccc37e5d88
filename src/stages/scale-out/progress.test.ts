import { expect, test } from "bun:test";
import type { IndexRange } from "./ranges.ts";
import { rangeLines, workerLines } from "./progress.ts";

const range = (number: number, state: IndexRange["state"], holder: string | null, rowsRead: number): IndexRange => ({
  dataset: "d", generation: 1, number, lower: number === 1 ? null : String(number * 10), upper: null, jobId: 1, keyType: "integer",
  state, holder, leaseExpiresAt: null, attempts: holder ? 1 : 0, checkpoint: null, rowsRead, rowsSkipped: 0, docsSent: rowsRead, docsFailed: 0,
  failedByType: {}, error: null, startedAt: null, finishedAt: null,
});

test("each worker's share: ranges done, the one it works on, its counts", () => {
  const ranges = [range(1, "done", "a", 5), range(2, "leased", "a", 3), range(3, "done", "b", 7), range(4, "pending", null, 0)];
  expect(workerLines(ranges)).toEqual([
    { holder: "a", done: 1, working: 2, read: 8, sent: 8, failed: 0 },
    { holder: "b", done: 1, working: null, read: 7, sent: 7, failed: 0 },
  ]);
  expect(rangeLines(ranges).map((l) => l.bounds)).toEqual(["[-∞, +∞)", "[20, +∞)", "[30, +∞)", "[40, +∞)"]);
});
