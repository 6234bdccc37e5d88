import { expect, test } from "bun:test";
import { errors } from "@elastic/elasticsearch";
import { unnamedConnectionFailure } from "./lost-connection.ts";

const env = {
  databaseUrl: "postgres://app:s3cret@127.0.0.1:6543/api",
  upstreamDatabaseUrl: "postgres://app:s3cret@127.0.0.1:5432/up",
  elasticsearchUrl: "http://elastic:s3cret@127.0.0.1:9200",
};

test("a lost connection no step named is told by its service: PostgreSQL by address, the search client by its error type", () => {
  // As the patched postgres.js gives a socket's own error.
  const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET", address: "127.0.0.1", port: 5432 });
  expect(unnamedConnectionFailure(reset, env)?.toLine()).toStartWith("lost the connection to UPSTREAM_DATABASE_URL: ECONNRESET (");
  const hangUp = new errors.ConnectionError("socket hang up - Local: 127.0.0.1:42082, Remote: unknown:unknown");
  const line = unnamedConnectionFailure(hangUp, env)!.toLine();
  expect(line).toStartWith("cannot reach ELASTICSEARCH_URL (http://elastic:***@127.0.0.1:9200/): socket hang up");
  expect(line).not.toContain("s3cret");
  expect(unnamedConnectionFailure(new TypeError("x is undefined"), env)).toBeNull();
});
