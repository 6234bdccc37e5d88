/**
 * How many local workers to run. `--workers N` is a ceiling: the coordinator starts one worker, and
 * adds the next only while the last one added raised the rate at which the index takes documents by
 * at least `minGain`. A worker that did not is stopped (its range goes back at its checkpoint) and no
 * more are added. On a machine where Elasticsearch shares the cores, a worker beyond what the node
 * digests takes CPU from the node and lowers the rate (2 cores: 1 worker 13,980 docs/s, 2 workers
 * 12,346, 4 workers 9,004), so asking for more workers must not cost throughput.
 *
 * Each rate is measured over `windowMs`, starting `settleMs` after the newest worker began sending
 * (its start-up and JIT warm-up excluded). No worker is even tried while the cluster's busiest node
 * ran its machine at `busyCpu` percent or more over the window: a node with no CPU to spare cannot
 * take documents faster, and a trial costs a worker's start-up and a window at a lower rate.
 * Pure: the coordinator feeds it observations.
 */

export interface RampOptions {
  /** The most local workers (`--workers N`). */
  max: number;
  settleMs: number;
  windowMs: number;
  /** The least relative rise in rate that keeps an added worker (0.05: 5%). */
  minGain: number;
  /** A node's machine CPU (percent) at which the cluster has none to spare. */
  busyCpu: number;
}

export const RAMP_DEFAULTS = { settleMs: 1000, windowMs: 3000, minGain: 0.05, busyCpu: 90 } as const;

export interface RampObservation {
  now: number;
  /** Documents the index has taken so far (all writers). */
  indexed: number;
  /** Whether the newest local worker holds a range and is sending. */
  newestSending: boolean;
  /** Rows not yet read, across every range. */
  remaining: number;
  /** The busiest node's machine CPU now (percent); null when the cluster did not say. */
  clusterCpu: number | null;
}

export type RampStep =
  | { action: "hold" }
  | { action: "add"; rate: number }
  /** The newest worker did not raise the rate enough: stop it, and add no more. */
  | { action: "retire"; rate: number; before: number }
  /** No more workers: at the ceiling, or too little work left to measure another. */
  | { action: "stay"; rate: number; reason: "ceiling" | "little work left" | "cluster busy"; cpu?: number };

export class WorkerRamp {
  readonly #o: RampOptions;
  #running = 0;
  /** rates[k − 1]: documents per second with k local workers. */
  readonly #rates: number[] = [];
  #settledAt: number | null = null;
  #window: { at: number; indexed: number; cpu: number[] } | null = null;
  #done = false;

  constructor(options: RampOptions) {
    this.#o = options;
  }

  get running(): number {
    return this.#running;
  }

  /** False once it has decided for good: no observation can change anything, so none need be taken. */
  get deciding(): boolean {
    return !this.#done;
  }

  get rates(): readonly number[] {
    return this.#rates;
  }

  /** A worker was started. */
  added(): void {
    this.#running++;
    this.#settledAt = null;
    this.#window = null;
  }

  observe(o: RampObservation): RampStep {
    if (this.#done || this.#running === 0) return { action: "hold" };
    if (!o.newestSending) {
      this.#settledAt = null;
      this.#window = null;
      return { action: "hold" };
    }
    this.#settledAt ??= o.now + this.#o.settleMs;
    if (o.now < this.#settledAt) return { action: "hold" };
    if (!this.#window) {
      this.#window = { at: o.now, indexed: o.indexed, cpu: [] };
      return { action: "hold" };
    }
    if (o.clusterCpu !== null) this.#window.cpu.push(o.clusterCpu);
    const elapsed = o.now - this.#window.at;
    if (elapsed < this.#o.windowMs) return { action: "hold" };
    const rate = ((o.indexed - this.#window.indexed) / elapsed) * 1000;
    this.#rates.push(rate);
    const k = this.#running;
    const before = this.#rates[k - 2];
    if (before !== undefined && rate < before * (1 + this.#o.minGain)) {
      this.#done = true;
      this.#running--;
      return { action: "retire", rate, before };
    }
    const cpu = this.#window.cpu;
    const busy = cpu.length ? cpu.reduce((a, b) => a + b, 0) / cpu.length : null;
    if (busy !== null && busy >= this.#o.busyCpu) {
      this.#done = true;
      return { action: "stay", rate, reason: "cluster busy", cpu: busy };
    }
    if (k >= this.#o.max) {
      this.#done = true;
      return { action: "stay", rate, reason: "ceiling" };
    }
    // Another worker is worth trying only if the work left outlasts its start-up and one window.
    const secondsLeft = rate > 0 ? o.remaining / rate : Infinity;
    if (secondsLeft < ((this.#o.settleMs + this.#o.windowMs) / 1000) * 2) {
      this.#done = true;
      return { action: "stay", rate, reason: "little work left" };
    }
    return { action: "add", rate };
  }
}
