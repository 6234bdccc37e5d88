/**
 * How local workers share one machine and one cluster: `index.concurrency` is the most `_bulk`
 * requests the dataset may have in flight, whether one process sends them or N local workers do.
 * Each of N local workers gets ⌈C / N⌉ (at least one), so N workers put about C requests in flight,
 * not N × C: on a small machine the extra workers add reading and encoding in parallel, not load
 * on the node. Workers started elsewhere (`--worker` on other machines) take the whole C each,
 * since each brings its own machine; `--concurrency` on a worker overrides it.
 */

/** Requests in flight for each of `workers` local workers sharing `concurrency`. */
export function workerConcurrency(concurrency: number, workers: number): number {
  return Math.max(1, Math.ceil(concurrency / Math.max(1, workers)));
}

/** The most requests `workers` local workers have in flight together. */
export function totalConcurrency(concurrency: number, workers: number): number {
  return workerConcurrency(concurrency, workers) * Math.max(1, workers);
}
