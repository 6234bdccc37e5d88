import { describe, expect, test } from "bun:test";
import { ConfigError } from "../errors.ts";
import { DEFAULT_REFRESH_LIMIT, readEnv, requireEnv } from "./env.ts";

describe("readEnv", () => {
  test("limits refreshes outside production by default", () => {
    expect(readEnv({}).dataRefreshLimit).toBe(DEFAULT_REFRESH_LIMIT);
    expect(readEnv({ ENVIRONMENT: "prod" }).dataRefreshLimit).toBeNull();
    expect(readEnv({ ENVIRONMENT: "Production" }).dataRefreshLimit).toBeNull();
    expect(readEnv({}).dataRefreshLimitByDefault).toBe(true);
    expect(readEnv({ ENVIRONMENT: "prod" }).dataRefreshLimitByDefault).toBe(false);
    expect(readEnv({ DATA_REFRESH_LIMIT: "100000" }).dataRefreshLimitByDefault).toBe(false);
  });
  test("an explicit limit always wins", () => {
    expect(readEnv({ ENVIRONMENT: "production", DATA_REFRESH_LIMIT: "50" }).dataRefreshLimit).toBe(50);
    expect(readEnv({ DATA_REFRESH_LIMIT: "0" }).dataRefreshLimit).toBeNull();
  });
  test.each([
    [{ DATA_REFRESH_LIMIT: "ten" }, /DATA_REFRESH_LIMIT must be a whole number/],
    [{ DATABASE_URL: "not a url" }, /DATABASE_URL is not a valid URL/],
    [{ DATABASE_URL: "mysql://x@y/z" }, /DATABASE_URL must start with postgres:\/\//],
    [{ ELASTICSEARCH_URL: "ftp://x" }, /ELASTICSEARCH_URL must start with http:\/\//],
  ])("rejects %p", (vars, message) => {
    expect(() => readEnv(vars)).toThrow(message);
    expect(() => readEnv(vars)).toThrow(ConfigError);
  });
  test("requireEnv names the missing variable", () => {
    expect(() => requireEnv(readEnv({}), "databaseUrl", "DATABASE_URL")).toThrow(/DATABASE_URL is not set/);
  });
});
