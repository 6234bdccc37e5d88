import { expect, test } from "bun:test";
import { refreshLimitWarning } from "./refresh-limit.ts";

test("a default limit that cuts names itself, the rows left out and both ways to lift it", () => {
  expect(refreshLimitWarning({ dataset: "image", limit: 100_000, eligible: 100_010, byDefault: true, environment: "local" })).toBe(
    "DATA_REFRESH_LIMIT is not set, so this local refresh copies at most 100,000 rows (the default outside production): 10 of 100,010 rows of image left out (over_refresh_limit); set DATA_REFRESH_LIMIT=0 or ENVIRONMENT=production to copy every row",
  );
});

test("an explicit limit that cuts says so; a limit that cuts nothing says nothing", () => {
  expect(refreshLimitWarning({ dataset: "image", limit: 100, eligible: 1374, byDefault: false, environment: "local" })).toBe(
    "DATA_REFRESH_LIMIT=100 caps this refresh: 1,274 of 1,374 rows of image left out (over_refresh_limit); set DATA_REFRESH_LIMIT=0 to copy every row",
  );
  expect(refreshLimitWarning({ dataset: "image", limit: 100_000, eligible: 100_000, byDefault: true, environment: "local" })).toBeNull();
});
