import { describe, expect, test } from "bun:test";
import { resolveDataset } from "../../config/resolve.ts";
import type { CleanConfig } from "../../config/types.ts";
import { ConfigError } from "../../errors.ts";
import { checkCleaningFits } from "./cleaning-fit.ts";
import type { StagingColumn } from "./row-transform.ts";

const dataset = (clean: CleanConfig) => resolveDataset("photos", { source: { kind: "postgres", table: "photos" }, table: { key: "id" }, clean });
const col = (name: string, type: string, upstreamType: string | null = type): StagingColumn => ({ name, type, upstreamType });
const base = [col("id", "uuid"), col("url", "character varying(3000)"), col("width", "integer")];

describe("checkCleaningFits", () => {
  test("accepts tags stored as jsonb (from jsonb, json or JSON text upstream) and URLs in text columns", () => {
    const ds = dataset({ tags: {}, urlColumns: ["url"] });
    for (const upstream of ["jsonb", "json", "text", null]) {
      expect(() => checkCleaningFits(ds, [...base, col("tags", "jsonb", upstream)])).not.toThrow();
    }
    expect(() => checkCleaningFits(dataset({}), base)).not.toThrow();
  });

  test.each<[string, CleanConfig, StagingColumn[], RegExp]>([
    ["tags text[] upstream", { tags: {} }, [...base, col("tags", "text[]")], /^datasets\.photos\.clean\.tags cleans column tags, which is text\[\] upstream; tag cleaning needs a jsonb column/],
    ["tags declared jsonb but text[] upstream", { tags: {} }, [...base, col("tags", "jsonb", "text[]")], /which is text\[\] upstream/],
    ["tags staged as text", { tags: {} }, [...base, col("tags", "text")], /which would be staged as text; .*\(declare table\.columns\.tags: "jsonb"/],
    ["a tags column that is not there", { tags: { column: "labels" } }, base, /clean\.tags cleans column labels, which dataset photos does not have/],
    ["a URL column of integers", { urlColumns: ["width"] }, base, /^datasets\.photos\.clean\.urlColumns names column width, which is integer; URL cleaning needs a text column .*\(remove width from clean\.urlColumns\)/],
    ["a URL column that is an array upstream", { urlColumns: ["url"] }, [col("id", "uuid"), col("url", "text", "text[]")], /column url, which is text\[\] upstream/],
    ["a URL column that is not there", { urlColumns: ["link"] }, base, /clean\.urlColumns names column link, which dataset photos does not have/],
  ])("rejects %s as a configuration error", (_, clean, columns, message) => {
    const ds = dataset(clean);
    expect(() => checkCleaningFits(ds, columns)).toThrow(ConfigError);
    let line = "";
    try {
      checkCleaningFits(ds, columns);
    } catch (error) {
      line = (error as ConfigError).toLine();
    }
    expect(line).toMatch(message);
  });
});
