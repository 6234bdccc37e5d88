/**
 * How many `_bulk` requests to keep in flight, adapted to what the cluster digests: additive
 * increase, multiplicative decrease, on latency and 429s (the rule TCP uses for its window).
 *
 *   - start at `start` slots; never more than `max` (index.concurrency), never fewer than 1;
 *   - an answer with no 429 in it, while every slot was busy, that took at most 1.5× the best time
 *     per megabyte of the last 20 answers → one slot more (the cluster kept up; more may fit);
 *   - a slower answer holds the count: on a shared machine latency also rises with other work, and
 *     giving slots back for that left the cluster's second core idle (measured: stuck at 1 slot);
 *   - any 429 (the whole request, or some of its items) → half the slots, at least 1 (the cluster
 *     said it is full).
 *
 * A fixed concurrency either leaves a quiet cluster idle between requests or keeps pushing a busy
 * one into rejections; this follows the cluster as other work on it comes and goes.
 */
const WINDOW = 20;
const GROW_BELOW = 1.5;
const MB = 1024 * 1024;

export class AdaptiveLimit {
  #limit: number;
  #recent: number[] = [];
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

  /** A request of `bytes` answered in `ms` without a 429; `saturated` when every slot was in use. */
  onAnswer(ms: number, bytes: number, saturated: boolean): void {
    // Below 64 KiB the fixed cost of a request dominates: count it as 64 KiB.
    const perMb = ms / (Math.max(bytes, 64 * 1024) / MB);
    this.#recent.push(perMb);
    if (this.#recent.length > WINDOW) this.#recent.shift();
    const best = Math.min(...this.#recent);
    if (saturated && perMb <= best * GROW_BELOW) this.#set(Math.min(this.max, this.#limit + 1));
  }

  /** The cluster answered 429 to a request or to some of its items. */
  onRejected(): void {
    this.#set(Math.max(1, Math.floor(this.#limit / 2)));
  }
}
