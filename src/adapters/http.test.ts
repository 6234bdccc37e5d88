/** Download retries against a local server that fails a few times before it answers. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BodyWriteError, download, downloadToFile } from "./http.ts";

const hits = new Map<string, number>();
const server = Bun.serve({
  port: 0,
  fetch(req) {
    const path = new URL(req.url).pathname;
    const n = (hits.get(path) ?? 0) + 1;
    hits.set(path, n);
    if (path === "/flaky" && n <= 2) return new Response("busy", { status: 503 });
    if (path === "/flaky-big" && n <= 1) return new Response("x".repeat(3000), { status: 503 });
    if (path === "/big") return new Response("y".repeat(5000));
    if (path === "/throttled") return new Response("slow down", { status: 429 });
    if (path === "/broken") return new Response("oops", { status: 500 });
    if (path === "/missing") return new Response("no", { status: 404 });
    return new Response("<ok/>");
  },
});
afterAll(() => server.stop(true));
const fast = { timeoutMs: 1000, maxRedirects: 3, maxBytes: 4096, policy: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 } };

describe("download retries", () => {
  test("a 503 is tried again under the shared policy until it answers", async () => {
    const reasons: string[] = [];
    const got = await download(`${server.url}flaky`, { ...fast, onRetry: (r) => reasons.push(r) });
    expect(got.ok).toBe(true);
    expect(reasons).toEqual(["http_503", "http_503"]);
    expect(hits.get("/flaky")).toBe(3);
  });
  test("a 429 that never clears fails after the policy's attempts, with its status", async () => {
    expect(await download(`${server.url}throttled`, fast)).toMatchObject({ ok: false, code: 429 });
    expect(hits.get("/throttled")).toBe(3);
  });
  test("404 and 500 are answers, not retried", async () => {
    expect(await download(`${server.url}missing`, fast)).toMatchObject({ ok: false, code: 404 });
    expect(await download(`${server.url}broken`, fast)).toMatchObject({ ok: false, code: 500 });
    expect([hits.get("/missing"), hits.get("/broken")]).toEqual([1, 1]);
  });
});

describe("downloadToFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-http-test-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("writes the body to the file; a retried download starts the file afresh", async () => {
    const path = join(dir, "flaky");
    expect(await downloadToFile(`${server.url}flaky-big`, path, fast)).toMatchObject({ ok: true, bytes: 5 });
    expect(readFileSync(path, "utf8")).toBe("<ok/>");
  });
  test("a body over the cap is refused as too large", async () => {
    expect(await downloadToFile(`${server.url}big`, join(dir, "big"), fast)).toMatchObject({ ok: false, code: 4, detail: expect.stringContaining("over the 4096-byte cap") });
  });
  test("a file that cannot be written is the disk's error, thrown at once, not a download failure tried again", async () => {
    const before = hits.get("/ok") ?? 0;
    const error = await downloadToFile(`${server.url}ok`, join(dir, "no-such-dir", "x"), fast).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BodyWriteError);
    expect((error as BodyWriteError).cause).toMatchObject({ code: "ENOENT" });
    expect(hits.get("/ok")).toBe(before + 1);
  });
});
