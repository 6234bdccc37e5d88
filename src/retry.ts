/**
 * The one backoff policy: exponential, capped, with equal jitter (a delay drawn uniformly from half
 * the capped exponential to all of it), so that many clients rejected at once do not come back at
 * once, while every policy's retries still span at least half their nominal time. Full jitter (from
 * 0) let the bulk path's six tries all fall inside a 1.5 s node restart (1 run in 8 of a restart
 * sweep); with the floor they span 3.9 s at least. Bulk requests, item resends, downloads, registry
 * pages and Slack messages all retry through here.
 *
 *   retry n (1-based) waits (1 + random()) / 2 × min(maxDelayMs, baseDelayMs × 2^(n-1))
 *
 * Hand-written rather than p-retry: p-retry's `randomize` multiplies by 1–2 instead of drawing full
 * jitter, and the bulk sink needs the delay alone (it resends a part of a batch, not a function).
 */

export interface RetryPolicy {
  /** Tries in all, the first one included. */
  attempts: number;
  /** The cap of the first retry's delay; each later retry doubles it. */
  baseDelayMs: number;
  /** No retry waits longer than this. */
  maxDelayMs: number;
}

/** Named defaults; callers override a field with `{ ...RETRY_DEFAULTS.bulk, attempts: 3 }`. */
export const RETRY_DEFAULTS = {
  /** Whole `_bulk` requests answered 429/5xx or cut: 6 tries over 3.9 to 7.8 s. */
  bulk: { attempts: 6, baseDelayMs: 250, maxDelayMs: 15_000 },
  /** Documents a `_bulk` response rejected one by one with 429: 5 resends. */
  bulkItems: { attempts: 6, baseDelayMs: 500, maxDelayMs: 10_000 },
  /** A payload download that failed to connect or got 429/5xx. */
  download: { attempts: 3, baseDelayMs: 500, maxDelayMs: 5_000 },
  /** A registry page. */
  registryPage: { attempts: 3, baseDelayMs: 250, maxDelayMs: 5_000 },
  /** Writing a job's outcome while the API database restarts: 6 tries over 5.8 to 11.5 s. */
  recordOutcome: { attempts: 6, baseDelayMs: 500, maxDelayMs: 4_000 },
  /** Creating an index that a crashed earlier attempt's late create keeps bringing back. */
  indexCreate: { attempts: 3, baseDelayMs: 500, maxDelayMs: 1_500 },
  /** An idempotent search-engine call (create, settings, refresh, count) while the node restarts: 5 tries over 3.8 to 7.5 s. */
  searchControl: { attempts: 5, baseDelayMs: 500, maxDelayMs: 4_000 },
  /** A Slack message: it must never hold the pipeline up, so few and short. */
  slack: { attempts: 3, baseDelayMs: 200, maxDelayMs: 1_000 },
} as const satisfies Record<string, RetryPolicy>;

/** The wait before retry `retry` (1 for the first retry). `random` is injectable for tests. */
export function backoffDelay(retry: number, policy: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs">, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return ((1 + random()) / 2) * ceiling;
}

/**
 * `work`, or the signal's reason as soon as it aborts. For an await that a dropped connection could
 * leave unsettled forever (postgres.js did, for a query handed over as the socket reset; patched in
 * patches/), so that the job's heartbeat, which sees the lock gone and aborts, still ends it.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Waits `ms`, or less when `signal` aborts (then throws its reason). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (!signal) return Bun.sleep(ms);
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** What one failed try means: retry it (with the reason it is counted under), or give up. */
export type Verdict<T> = { retry: string } | { done: T };

export interface RetryOptions {
  policy: RetryPolicy;
  signal?: AbortSignal | undefined;
  /** Called before each wait, e.g. to count the retry under its reason. */
  onRetry?: ((retry: number, reason: string, delayMs: number) => void) | undefined;
  random?: () => number;
}

/**
 * Runs `attempt` until it returns `{ done }` or the policy's attempts are used up; then the last
 * `{ retry }` is returned as `{ exhausted: reason }` for the caller to turn into its own error.
 * A thrown error is not retried: `attempt` decides what is retryable and says so.
 */
export async function withRetries<T>(attempt: (n: number) => Promise<Verdict<T>>, options: RetryOptions): Promise<{ done: T } | { exhausted: string; attempts: number }> {
  for (let n = 1; ; n++) {
    const verdict = await attempt(n);
    if ("done" in verdict) return verdict;
    if (n >= options.policy.attempts) return { exhausted: verdict.retry, attempts: n };
    const delay = backoffDelay(n, options.policy, options.random);
    options.onRetry?.(n, verdict.retry, delay);
    await sleep(delay, options.signal);
  }
}

/**
 * `call`, tried again by `policy` while the error it throws is `transient` (a server restarting);
 * any other error at once, and the last transient one once the policy is spent.
 */
export async function retryWhile<T>(call: () => Promise<T>, transient: (error: unknown) => boolean, policy: RetryPolicy, signal?: AbortSignal): Promise<T> {
  let lastError: unknown = null;
  const outcome = await withRetries<T>(
    () =>
      call().then(
        (done) => ({ done }),
        (error) => {
          if (signal?.aborted || !transient(error)) throw error;
          lastError = error;
          return { retry: "unreachable" };
        },
      ),
    { policy, signal },
  );
  if ("done" in outcome) return outcome.done;
  throw lastError;
}
