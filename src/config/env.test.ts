import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

describe("readEnv: Elasticsearch credentials and CA", () => {
  test("an API key, or a username and password, and nothing when unset", () => {
    expect(readEnv({}).elasticsearchAccess).toEqual({ apiKey: undefined, username: undefined, password: undefined, ca: undefined });
    expect(readEnv({ ELASTICSEARCH_API_KEY: " a2V5OnNlY3JldA== " }).elasticsearchAccess.apiKey).toBe("a2V5OnNlY3JldA==");
    expect(readEnv({ ELASTICSEARCH_USERNAME: "reader", ELASTICSEARCH_PASSWORD: "pw" }).elasticsearchAccess).toMatchObject({ username: "reader", password: "pw" });
  });

  test("a key beside a username, or a password alone, is a configuration error", () => {
    expect(() => readEnv({ ELASTICSEARCH_API_KEY: "k", ELASTICSEARCH_USERNAME: "u" })).toThrow(ConfigError);
    expect(() => readEnv({ ELASTICSEARCH_PASSWORD: "p" })).toThrow("ELASTICSEARCH_PASSWORD is set without ELASTICSEARCH_USERNAME");
  });

  test("ELASTICSEARCH_CA_CERT is read; a missing file or one without a certificate is a configuration error", () => {
    const dir = mkdtempSync(join(tmpdir(), "sluice-env-ca-"));
    try {
      const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
      writeFileSync(join(dir, "ca.pem"), pem);
      writeFileSync(join(dir, "not.pem"), "hello");
      expect(readEnv({ ELASTICSEARCH_CA_CERT: join(dir, "ca.pem") }).elasticsearchAccess.ca).toBe(pem);
      expect(() => readEnv({ ELASTICSEARCH_CA_CERT: join(dir, "nope.pem") })).toThrow(`ELASTICSEARCH_CA_CERT (${join(dir, "nope.pem")}) cannot be read (ENOENT)`);
      expect(() => readEnv({ ELASTICSEARCH_CA_CERT: join(dir, "not.pem") })).toThrow("holds no PEM certificate");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
