import { expect, test } from "bun:test";
import { errors } from "@elastic/elasticsearch";
import { bulkEndpoint, postBulk } from "./bulk-fetch.ts";
import { isConnectionFailure } from "./elasticsearch.ts";

test("POSTs NDJSON to <node>/_bulk with the Authorization header, never the URL's credentials", async () => {
  const seen: { url: string; auth: string | null; type: string | null; body: string }[] = [];
  const server = Bun.serve({
    port: 0,
    async fetch(req) {
      seen.push({ url: req.url, auth: req.headers.get("authorization"), type: req.headers.get("content-type"), body: await req.text() });
      return Response.json({ errors: false, items: [{ index: { status: 201 } }] });
    },
  });
  try {
    const endpoint = bulkEndpoint(`http://user:s3cret@127.0.0.1:${server.port}/prefix/`, "Basic abc", undefined, 5_000);
    expect(endpoint.url).not.toContain("s3cret");
    const res = await postBulk(endpoint, '{"index":{}}\n{"a":1}\n', "errors,items.*.status");
    expect(res).toEqual({ statusCode: 200, body: { errors: false, items: [{ index: { status: 201 } }] } });
    expect(seen).toEqual([{ url: `http://127.0.0.1:${server.port}/prefix/_bulk?filter_path=errors,items.*.status`, auth: "Basic abc", type: "application/x-ndjson", body: '{"index":{}}\n{"a":1}\n' }]);
  } finally {
    server.stop(true);
  }
});

test("no answer is the client's ConnectionError, a slow one its TimeoutError, a non-JSON refusal its text, an abort the caller's reason", async () => {
  const server = Bun.serve({
    port: 0,
    async fetch(req) {
      if (new URL(req.url).pathname === "/slow/_bulk") await Bun.sleep(2_000);
      return new Response("payload too large", { status: 413 });
    },
  });
  try {
    const refused = bulkEndpoint("http://127.0.0.1:1", null, undefined, 5_000);
    const down = await postBulk(refused, "x\n", "errors").catch((e: unknown) => e);
    expect(down).toBeInstanceOf(errors.ConnectionError);
    expect(isConnectionFailure(down)).toBe(true);
    const slow = bulkEndpoint(`http://127.0.0.1:${server.port}/slow`, null, undefined, 200);
    const late = await postBulk(slow, "x\n", "errors").catch((e: unknown) => e);
    expect(late).toBeInstanceOf(errors.TimeoutError);
    expect(await postBulk(bulkEndpoint(`http://127.0.0.1:${server.port}`, null, undefined, 5_000), "x\n", "errors")).toEqual({ statusCode: 413, body: "payload too large" });
    const controller = new AbortController();
    const pending = postBulk(bulkEndpoint(`http://127.0.0.1:${server.port}/slow`, null, undefined, 5_000), "x\n", "errors", controller.signal).catch((e: unknown) => e);
    controller.abort(new Error("stopped by the user"));
    expect(((await pending) as Error).message).toBe("stopped by the user");
  } finally {
    server.stop(true);
  }
});
