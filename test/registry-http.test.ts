/** Downloads (src/adapters/http.ts) and the blob store against real local servers. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DirectoryBlobStore, sha256Hex } from "../src/adapters/blob-store.ts";
import { download, DownloadError, downloadErrorReason, HostScheduler } from "../src/adapters/http.ts";

const server = Bun.serve({
  port: 0,
  async fetch(req) {
    const url = new URL(req.url);
    switch (url.pathname) {
      case "/ok":
        return new Response("<x/>", { headers: { "content-type": "application/xml; charset=utf-8" } });
      case "/missing":
        return new Response("no", { status: 404 });
      case "/broken":
        return new Response("oops", { status: 500 });
      case "/slow":
        await Bun.sleep(2000);
        return new Response("late");
      case "/loop":
        return new Response(null, { status: 302, headers: { location: "/loop" } });
      case "/hop":
        return new Response(null, { status: 301, headers: { location: `/ok` } });
      case "/to-ftp":
        return new Response(null, { status: 302, headers: { location: "ftp://example.org/x.xml" } });
      case "/big":
        return new Response("x".repeat(5000));
      case "/big-stream":
        return new Response(
          new ReadableStream({
            pull(c) {
              c.enqueue(new TextEncoder().encode("y".repeat(1000)));
            },
          }),
        );
      default:
        return new Response("?", { status: 400 });
    }
  },
});
const closed = Bun.serve({ port: 0, fetch: () => new Response("") });
const closedUrl = `${closed.url}x`;
closed.stop(true);
afterAll(() => server.stop(true));

const options = { timeoutMs: 500, maxRedirects: 3, maxBytes: 4096 };

describe("download", () => {
  test("a plain 200", async () => {
    const got = await download(`${server.url}ok`, options);
    expect(got).toMatchObject({ ok: true, contentType: "application/xml; charset=utf-8" });
    if (got.ok) expect(new TextDecoder().decode(got.bytes)).toBe("<x/>");
  });
  test("follows a redirect", async () => {
    const got = await download(`${server.url}hop`, options);
    expect(got).toMatchObject({ ok: true, finalUrl: `${server.url}ok` });
  });
  test.each<[string, string, number, RegExp]>([
    ["404", "missing", 404, /HTTP 404/],
    ["500", "broken", 500, /HTTP 500/],
    ["too slow", "slow", DownloadError.connection, /timed out after 500 ms/],
    ["a redirect loop", "loop", DownloadError.tooManyRedirects, /more than 3 redirects/],
    ["a redirect to ftp", "to-ftp", DownloadError.notHttp, /non-HTTP URL/],
    ["a Content-Length over the cap", "big", DownloadError.tooLarge, /over the 4096-byte cap/],
    ["a stream over the cap", "big-stream", DownloadError.tooLarge, /body is over the 4096-byte cap/],
  ])("%s", async (_, path, code, detail) => {
    const got = await download(`${server.url}${path}`, options);
    expect(got).toMatchObject({ ok: false, code });
    if (!got.ok) expect(got.detail).toMatch(detail);
  });
  test("a refused connection is 0", async () => {
    expect(await download(closedUrl, options)).toMatchObject({ ok: false, code: 0 });
  });
  test.each([["ftp://example.org/a.xml"], ["not a url"], [null], ["file:///etc/passwd"]])("%p is not an HTTP URL (3)", async (url) => {
    expect(await download(url, options)).toMatchObject({ ok: false, code: 3 });
  });
  test("reasons", () => {
    expect([0, 1, 2, 3, 4, 5, 404].map(downloadErrorReason)).toEqual([
      "connection_failed", "tls_failed", "charset_unknown", "not_http_url", "too_large", "too_many_redirects", "http_404",
    ]);
  });
});

describe("HostScheduler", () => {
  test("never runs more than the total or the per-host cap", async () => {
    const scheduler = new HostScheduler(4, 2);
    const active = new Map<string, number>();
    let total = 0;
    let peakTotal = 0;
    let peakHost = 0;
    const task = (host: string) => async () => {
      total++;
      active.set(host, (active.get(host) ?? 0) + 1);
      peakTotal = Math.max(peakTotal, total);
      peakHost = Math.max(peakHost, active.get(host)!);
      await Bun.sleep(5);
      total--;
      active.set(host, active.get(host)! - 1);
      return host;
    };
    const hosts = Array.from({ length: 60 }, (_, i) => (i < 40 ? "a" : `h${i % 5}`));
    const results = await Promise.all(hosts.map((h) => scheduler.run(h, task(h))));
    expect(results).toEqual(hosts);
    expect(peakTotal).toBe(4);
    expect(peakHost).toBe(2);
    expect(scheduler.pending).toBe(0);
  });
});

describe("DirectoryBlobStore", () => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-blobs-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  test("content-addressed, sharded, idempotent", async () => {
    const store = new DirectoryBlobStore(dir);
    const bytes = new TextEncoder().encode("hello");
    const sha = await store.put(bytes);
    expect(sha).toBe(sha256Hex(bytes));
    expect(await Bun.file(join(dir, sha.slice(0, 2), sha.slice(2, 4), sha)).text()).toBe("hello");
    expect(await store.put(bytes)).toBe(sha);
    expect(await store.has(sha)).toBe(true);
    expect(new TextDecoder().decode(await store.read(sha))).toBe("hello");
    await store.delete(sha);
    expect(await store.has(sha)).toBe(false);
    expect(store.read(sha)).rejects.toThrow(/not in the blob store/);
    expect(store.read("../../etc/passwd")).rejects.toThrow(/not a sha256/);
  });
});
