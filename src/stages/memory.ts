/**
 * Keeps peak memory flat on long streams. Bun's collector lets short-lived line strings and
 * buffers pile up to ~150 MB between full collections, so the worst peak grew with the run's
 * length; a full collection at most once a second costs ~1 CPU-second per million rows.
 */
export function periodicCollector(everyMs = 1000): () => void {
  let last = performance.now();
  return () => {
    const now = performance.now();
    if (now - last < everyMs) return;
    last = now;
    Bun.gc(true);
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
