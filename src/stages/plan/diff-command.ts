/** `sluice diff`: read-only, so it takes no lock and records no job. */
import { openConfiguredSearch } from "../../adapters/elasticsearch.ts";
import { readEnv } from "../../config/env.ts";
import { loadDataset } from "../../config/load.ts";
import { withCurrentApiDatabase } from "../session.ts";
import { type DiffOptions, diffGeneration, type GenerationDiff } from "./generation-diff.ts";

export async function diffDataset(name: string | undefined, options: DiffOptions & { config?: string | undefined }): Promise<GenerationDiff> {
  const dataset = await loadDataset(name, options.config);
  return withCurrentApiDatabase(async (sql) => {
    const es = dataset.index ? await openConfiguredSearch(readEnv()) : null;
    try {
      return await diffGeneration(sql, es, dataset, options);
    } finally {
      await es?.close().catch(() => {});
    }
  });
}
