import { beforeAll, describe, expect, test } from "bun:test";
import { errors } from "@elastic/elasticsearch";
import { errors as errors8 } from "es8client";
import { isConnectionFailure, isResponseError, openSearch, searchError, serverMajor, whileReachable } from "./elasticsearch.ts";

describe("the two Elasticsearch clients' errors", () => {
  // As in production, the 8 client (and so its error classes) is loaded by meeting an 8 server;
  // without this the outcome would hang on whether an earlier test file had met one.
  beforeAll(async () => {
    const eight = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: () => Response.json({ version: { number: "8.19.0" }, tagline: "You Know, for Search" }, { headers: { "x-elastic-product": "Elasticsearch" } }),
    });
    try {
      await openSearch(`http://127.0.0.1:${eight.port}`);
    } finally {
      eight.stop(true);
    }
  });

  // Each client brings its own @elastic/transport, so the same failure comes in two classes.
  const refusal = (E: typeof errors.ResponseError | typeof errors8.ResponseError) =>
    new E({ body: { error: { reason: "no such index [x]" } }, statusCode: 404, headers: {}, warnings: null, meta: {} as never } as never);

  test.each([
    ["9", errors],
    ["8", errors8],
  ] as const)("from the %s client: one line naming the refusal or the URL", (_, family) => {
    const refused = refusal(family.ResponseError);
    expect(isResponseError(refused)).toBe(true);
    expect(searchError(refused, "http://u:secret@es:9200", "read").toLine()).toContain("Elasticsearch refused to read: no such index [x] (HTTP 404)");
    const down = new family.ConnectionError("connect ECONNREFUSED 127.0.0.1:9200");
    expect(isConnectionFailure(down)).toBe(true);
    expect(isConnectionFailure(new family.TimeoutError("Request timed out"))).toBe(true);
    const line = searchError(down, "http://u:secret@es:9200", "reach").toLine();
    expect(line).toContain("cannot reach ELASTICSEARCH_URL (http://u:***@es:9200");
    expect(line).not.toContain("secret");
  });

  test("anything else is neither", () => {
    expect(isResponseError(new Error("x"))).toBe(false);
    expect(isConnectionFailure(new Error("x"))).toBe(false);
  });
});

test("serverMajor reads the major of the version the server gave", () => {
  expect(serverMajor({ product: "elasticsearch", version: "9.5.4" })).toBe(9);
  expect(serverMajor({ product: "elasticsearch", version: "8.19.21" })).toBe(8);
  expect(serverMajor({ product: "elasticsearch", version: null })).toBeNull();
});

test("Elasticsearch 7 is refused at connect, with one line naming the version", async () => {
  const seven = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: () => Response.json({ version: { number: "7.17.29" }, tagline: "You Know, for Search" }, { headers: { "x-elastic-product": "Elasticsearch" } }),
  });
  try {
    const url = `http://127.0.0.1:${seven.port}`;
    const error = await openSearch(url).then(() => null, (e: unknown) => e as { toLine(): string });
    expect(error?.toLine()).toContain(`ELASTICSEARCH_URL (${url}/) is Elasticsearch 7.17.29, which sluice does not support`);
  } finally {
    seven.stop(true);
  }
});

test("a node that closes the connection at connect (a restart) is one line without Bun's advice to developers", async () => {
  const closing = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: (socket) => void socket.terminate(), data() {} } });
  try {
    const url = `http://127.0.0.1:${closing.port}`;
    const error = await openSearch(url).then(() => null, (e: unknown) => e as { toLine(): string });
    expect(error?.toLine()).toStartWith(`cannot reach ELASTICSEARCH_URL (${url}/): ECONNRESET`);
    expect(error?.toLine()).not.toContain("verbose: true");
  } finally {
    closing.stop(true);
  }
});

describe("whileReachable", () => {
  test("tries again only while the node cannot be reached: not on a timeout, nor on an answer", async () => {
    let calls = 0;
    expect(await whileReachable(async () => (++calls < 3 ? Promise.reject(new errors.ConnectionError("socket hang up")) : "ok"))).toBe("ok");
    expect(calls).toBe(3);
    calls = 0;
    await expect(whileReachable(async () => (calls++, Promise.reject(new errors.TimeoutError("Request timed out"))))).rejects.toBeInstanceOf(errors.TimeoutError);
    expect(calls).toBe(1);
    calls = 0;
    await expect(whileReachable(async () => (calls++, Promise.reject(new Error("index_not_found"))))).rejects.toThrow("index_not_found");
    expect(calls).toBe(1);
  }, 20_000);
});
