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
