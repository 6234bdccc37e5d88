import { UsageError } from "../errors.ts";

/** Flags several commands share, defined once so that help text cannot drift. */
export const configArg = {
  type: "string",
  description: "dataset config file (default: sluice.config.ts in the working directory)",
  valueHint: "path",
} as const;

export const jsonArg = { type: "boolean", description: "print the result as JSON on stdout", default: false } as const;

export const dryRunArg = {
  type: "boolean",
  description: "read the upstream and report what would change and which gates would refuse; leaves nothing behind",
  default: false,
} as const;

export const datasetArg = { type: "positional", description: "dataset name (built-in or from the config)", required: true } as const;

/**
 * Parses a whole number given as a flag (`--keep 2`: pass "keep") or as a positional (`job show 42`:
 * pass `{ positional: "job id" }`), naming it as the operator typed it when it is not one.
 */
export function intFlag(name: string | { positional: string }, value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  const label = typeof name === "string" ? `--${name}` : name.positional;
  if (!/^\d+$/.test(String(value))) throw new UsageError(`${label} must be a whole number, got "${value}"`);
  return Number(value);
}
