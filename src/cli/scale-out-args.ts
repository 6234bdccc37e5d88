/** The flags of `index` and `run` that spread the index stage over workers (stages/scale-out). */
import { UsageError } from "../errors.ts";
import { SCALE_OUT_DEFAULTS, type ScaleOutOptions } from "../stages/scale-out/coordinator.ts";
import { intFlag } from "./args.ts";

export const scaleOutArgs = {
  workers: { type: "string", description: "index with up to N local worker processes sharing leased key ranges, added one at a time while each raises the rate (0: only workers started elsewhere)", valueHint: "N" },
  "fixed-workers": { type: "boolean", description: "with --workers: start all N local workers at once, whatever they do to the rate", default: false },
  ranges: { type: "string", description: `with --workers: key ranges to cut staging into (default ${SCALE_OUT_DEFAULTS.rangesPerWorker} per worker)`, valueHint: "N" },
  lease: { type: "string", description: `seconds a worker's lease on a range lasts without renewal (default ${SCALE_OUT_DEFAULTS.leaseSeconds})`, valueHint: "seconds" },
} as const;

export function leaseSeconds(value: string | undefined): number {
  const seconds = intFlag("lease", value) ?? SCALE_OUT_DEFAULTS.leaseSeconds;
  if (seconds < 3) throw new UsageError(`--lease must be at least 3 seconds, got ${seconds}`, "a lease is renewed every third of it");
  return seconds;
}

/** ScaleOutOptions from the flags, or null when --workers is not given (one process, as before). */
export function scaleOutOptions(
  args: { workers?: string | undefined; ranges?: string | undefined; lease?: string | undefined; "fixed-workers"?: boolean | undefined },
  config: string | undefined,
): ScaleOutOptions | null {
  const workers = intFlag("workers", args.workers);
  if (workers === undefined) {
    if (args.ranges !== undefined) throw new UsageError("--ranges needs --workers", "e.g. --workers 4 --ranges 16");
    if (args["fixed-workers"]) throw new UsageError("--fixed-workers needs --workers", "e.g. --workers 3 --fixed-workers");
    return null;
  }
  const ranges = intFlag("ranges", args.ranges);
  if (ranges === 0) throw new UsageError("--ranges must be at least 1");
  return { workers, ranges, leaseSeconds: leaseSeconds(args.lease), config, ramp: !args["fixed-workers"] };
}
