/** The datasets sluice knows without a config file. */
import type { DatasetConfig } from "../config/types.ts";
import { iatiDataset } from "./iati/dataset.ts";
import { openverseDatasets } from "./openverse/datasets.ts";

export function builtinDatasets(): Record<string, DatasetConfig> {
  return { ...openverseDatasets, iati: iatiDataset() };
}
