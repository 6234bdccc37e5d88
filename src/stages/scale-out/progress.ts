/** What `sluice job show` prints for an index job spread over workers: each range, and each worker's share. */
import type { IndexRange } from "./ranges.ts";

export interface RangeLine {
  range: number;
  bounds: string;
  state: string;
  holder: string | null;
  attempts: number;
  read: number;
  sent: number;
  failed: number;
  checkpoint: string | null;
}

export interface WorkerLine {
  holder: string;
  /** Ranges it finished, and the one it holds now (if any). */
  done: number;
  working: number | null;
  read: number;
  sent: number;
  failed: number;
}

export function rangeLines(ranges: readonly IndexRange[]): RangeLine[] {
  return ranges.map((r) => ({
    range: r.number,
    bounds: `[${r.lower ?? "-∞"}, ${r.upper ?? "+∞"})`,
    state: r.state,
    holder: r.holder,
    attempts: r.attempts,
    read: r.rowsRead,
    sent: r.docsSent,
    failed: r.docsFailed,
    checkpoint: r.checkpoint,
  }));
}

/** Per worker (lease holder): the ranges it holds or finished last, with their counts. A range taken over counts for its last holder. */
export function workerLines(ranges: readonly IndexRange[]): WorkerLine[] {
  const byHolder = new Map<string, WorkerLine>();
  for (const r of ranges) {
    if (!r.holder) continue;
    const line = byHolder.get(r.holder) ?? { holder: r.holder, done: 0, working: null, read: 0, sent: 0, failed: 0 };
    if (r.state === "done") line.done++;
    if (r.state === "leased") line.working = r.number;
    line.read += r.rowsRead;
    line.sent += r.docsSent;
    line.failed += r.docsFailed;
    byHolder.set(r.holder, line);
  }
  return [...byHolder.values()].sort((a, b) => a.holder.localeCompare(b.holder));
}
