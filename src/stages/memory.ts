/**
 * Keeps peak memory flat on long streams. Bun's collector lets short-lived line strings and
 * buffers pile up to ~150 MB between full collections, so the worst peak grew with the run's
 * length; a full collection at most once a second costs ~1 CPU-second per million rows.
 * `minWork`: also wait for that much work (rows) since the last one, so that a stage held back by
 * a slow consumer does not collect by the clock: indexing at 2,000 docs/s paid 1.07 of its 8.4
 * CPU-seconds (43 collections for 190k rows) before.
 */
export function periodicCollector(everyMs = 1000, minWork = 0): (work?: number) => void {
  let last = performance.now();
  let done = 0;
  return (work = 0) => {
    done += work;
    const now = performance.now();
    if (now - last < everyMs || done < minWork) return;
    last = now;
    done = 0;
    Bun.gc(true);
  };
}

/**
 * For a stream of rows turned into documents (the index stage, a scale-out worker's ranges): a full
 * collection per 20,000 rows (at most once a second), and a young one per 2,000 rows. Without the
 * young ones the garbage of 20,000 rows reached ~100 MB between full collections, so the peak grew
 * with the run's length (`sluice index` of 949,737 documents, A/B of 2 pairs: peak 285/281 MB →
 * 176/173 MB, and less CPU, 21.5/21.2 → 18.3/19.6 CPU-s, half the kernel time in page faults).
 */
export function rowStreamCollector(): (rows: number) => void {
  const full = periodicCollector(1000, 20_000);
  let sinceYoung = 0;
  return (rows) => {
    full(rows);
    if ((sinceYoung += rows) < 2_000) return;
    sinceYoung = 0;
    Bun.gc(false);
  };
}

/**
 * For one long synchronous run that makes garbage (flattening a large activity): a quick, young
 * generation collection every `every` calls, which keeps the heap from growing by tens of MB
 * before the run yields, at a small fraction of a full collection's cost.
 */
export function countingCollector(every = 2000): () => void {
  let calls = 0;
  return () => {
    if (++calls % every === 0) Bun.gc(false);
  };
}
