/**
 * How many `_bulk` requests to keep in flight, adapted to what the cluster digests. The rule is a
 * concurrency gradient (as in Netflix's concurrency-limits): the fastest answer per megabyte seen
 * in the run is what a request costs when the cluster has room for it; an answer slower than that
 * by a factor r, with n requests in flight, says the cluster works on about n / r of them at once
 * and queues the rest. The limit follows that figure plus one request waiting, so the cluster never
 * waits for sluice, one step per answer:
 *
 *   - start at `start` slots; never more than `max` (index.concurrency), never fewer than 1;
 *   - an answer while every slot was busy, with ⌈n × best / this⌉ + 1 above the limit → one slot more
 *     (latency held: the cluster took the extra request in parallel);
 *   - such an answer with that figure below the limit → one slot fewer (the extra requests only
 *     queued inside the cluster, where on a node of few cores each concurrent writer costs CPU);
 *   - an answer while slots were free changes nothing (the producer set the pace, or the last
 *     requests are draining);
 *   - any 429 (the whole request, or some of its items) → half the slots, at least 1 (the cluster
 *     said it is full).
 *
 * Why not "grow while latency is within 1.5× of the recent best", the rule before: the best of the
 * last answers was measured at the raised limit, so the baseline crept up with it and the limit
 * reached its ceiling on any cluster. On a 2-core node with 2 write threads it sat at 6, where 3
 * indexed 8% faster with 8% less Elasticsearch CPU (3 alternated rounds of `sluice index`, 94,817
 * image documents). A slower answer from other work on the machine lowers the figure by as much
 * as it slows every request, so the limit still keeps one request waiting and never drops to 1 for it.
 */
const MB = 1024 * 1024;

export class AdaptiveLimit {
  #limit: number;
  /** The fastest answer so far, in ms per MB. */
  #best = Number.POSITIVE_INFINITY;
  /** The fewest and most slots used so far, for the stage's log. */
  lowest: number;
  highest: number;

  constructor(
    readonly max: number,
    start = Math.min(2, max),
  ) {
    this.#limit = Math.max(1, Math.min(max, start));
    this.lowest = this.highest = this.#limit;
  }

  #set(limit: number): void {
    this.#limit = limit;
    this.lowest = Math.min(this.lowest, limit);
    this.highest = Math.max(this.highest, limit);
  }

  get current(): number {
    return this.#limit;
  }

  /** A request of `bytes` answered in `ms` without a 429, with `inFlight` requests (itself included) in flight. */
  onAnswer(ms: number, bytes: number, inFlight: number): void {
    // Below 64 KiB the fixed cost of a request dominates: count it as 64 KiB.
    const perMb = ms / (Math.max(bytes, 64 * 1024) / MB);
    this.#best = Math.min(this.#best, perMb);
    // With slots free the producer, not the cluster, set the pace: the answer says nothing of its room.
    if (inFlight < this.#limit) return;
    const target = Math.ceil((inFlight * this.#best) / perMb) + 1;
    if (target > this.#limit) this.#set(Math.min(this.max, this.#limit + 1));
    else if (target < this.#limit) this.#set(Math.max(1, this.#limit - 1));
  }

  /** The cluster answered 429 to a request or to some of its items. */
  onRejected(): void {
    this.#set(Math.max(1, Math.floor(this.#limit / 2)));
  }
}
