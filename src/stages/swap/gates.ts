/**
 * What must be true before a generation may replace live. Each refusal names the figures and the
 * flag that overrides it.
 */
import type { Dataset } from "../../config/types.ts";
import { shortFingerprint } from "../../generations/fingerprint.ts";

export interface SwapFigures {
  stagingRows: number;
  liveRows: number | null;
  indexDocuments: number | null;
  liveDocuments: number | null;
  indexFailures: number;
  /** The configuration the generation was built from, and the one swapping it (see fingerprint.ts). */
  builtUnder: string | null;
  swappingUnder: string;
}

/** Pure: the reasons to refuse, empty when the swap may go ahead. */
export function swapRefusals(dataset: Dataset, f: SwapFigures): string[] {
  const refusals: string[] = [];
  const limit = dataset.swap.maxShrink;
  const shrunk = (now: number, before: number | null) => before !== null && before > 0 && now < before * (1 - limit);
  const pct = (now: number, before: number) => `${(((before - now) / before) * 100).toFixed(1)}%`;
  if (shrunk(f.stagingRows, f.liveRows)) {
    refusals.push(`staging has ${f.stagingRows} rows, ${pct(f.stagingRows, f.liveRows!)} fewer than live's ${f.liveRows} (limit ${limit * 100}%)`);
  }
  if (f.indexDocuments !== null && shrunk(f.indexDocuments, f.liveDocuments)) {
    refusals.push(`the new index has ${f.indexDocuments} documents, ${pct(f.indexDocuments, f.liveDocuments!)} fewer than live's ${f.liveDocuments} (limit ${limit * 100}%)`);
  }
  if (f.indexFailures > 0) refusals.push(`the new index had ${f.indexFailures} failed documents`);
  if (f.builtUnder !== f.swappingUnder) {
    refusals.push(`it was built from another configuration (fingerprint ${shortFingerprint(f.builtUnder)}, this one ${shortFingerprint(f.swappingUnder)})`);
  }
  return refusals;
}
