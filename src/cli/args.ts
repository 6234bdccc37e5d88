import { UsageError } from "../errors.ts";

/** Flags several commands share, defined once so that help text cannot drift. */
export const configArg = {
  type: "string",
  description: "dataset config file (default: sluice.config.ts in the working directory)",
  valueHint: "path",
} as const;

export const jsonArg = { type: "boolean", description: "print the result as JSON on stdout", default: false } as const;

export const datasetArg = { type: "positional", description: "dataset name (built-in or from the config)", required: true } as const;

/** Parses a whole-number flag, naming the flag when it is not one. */
export function intFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^\d+$/.test(String(value))) throw new UsageError(`--${name} must be a whole number, got "${value}"`);
  return Number(value);
}
