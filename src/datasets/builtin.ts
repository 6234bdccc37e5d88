/** The datasets sluice knows without a config file. */
import type { DatasetConfig } from "../config/types.ts";

export function builtinDatasets(): Record<string, DatasetConfig> {
  return {};
}
