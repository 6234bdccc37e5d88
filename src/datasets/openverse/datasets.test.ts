/**
 * Issue 10, point 6: with no SLUICE_INDEX_PREFIX the built-ins' aliases are exactly the index
 * names the Openverse API queries (`image`, `audio`), and generations are `<alias>-gN` behind
 * them. Moderation reads Openverse's API tables.
 */
import { describe, expect, test } from "bun:test";
import { resolveDataset } from "../../config/resolve.ts";
import { generationIndices } from "../../generations/names.ts";
import { openverseDatasets } from "./datasets.ts";

describe("the built-in Openverse datasets", () => {
  test.each(["image", "audio"] as const)("%s: aliases exactly %s and its -filtered twin with no prefix, generations behind them", (media) => {
    const dataset = resolveDataset(media, openverseDatasets[media], `datasets.${media}`, { indexPrefix: "" });
    expect(dataset.index!.alias).toBe(media);
    expect(generationIndices(dataset, 3)).toEqual([
      { alias: media, index: `${media}-g3` },
      { alias: `${media}-filtered`, index: `${media}-filtered-g3` },
    ]);
    expect(dataset.table.name).toBe(media);
  });

  test.each(["image", "audio"] as const)("%s: moderation from api_deleted%s and api_mature%s", (media) => {
    const dataset = resolveDataset(media, openverseDatasets[media], `datasets.${media}`);
    expect(dataset.table.deletedTable).toBe(`api_deleted${media}`);
    expect(dataset.table.matureTable).toBe(`api_mature${media}`);
  });
});
