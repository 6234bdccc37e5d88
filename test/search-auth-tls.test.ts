/**
 * ELASTICSEARCH_API_KEY, ELASTICSEARCH_USERNAME/_PASSWORD and ELASTICSEARCH_CA_CERT. The pinned
 * Elasticsearch has no security module, so a Bun TLS proxy in front of it (certificate from a CA
 * made here) demands the credentials on every request and answers 401 otherwise.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createTestEnvironment, elasticsearchUrl, nodeVersion, opensearchUrl, spawnSluice, type TestEnvironment } from "./support/harness.ts";
import { loadOpenverseSample } from "./support/openverse.ts";
import { makeTestCa, type TestCa } from "./support/test-ca.ts";

const API_KEY = "c2x1aWNlLXRlc3Qta2V5OnZlcnktc2VjcmV0LWFwaS1rZXk=";
const USERNAME = "sluice_reader";
const PASSWORD = "correct-horse-battery-staple";

interface AuthProxy {
  url: string;
  authorized: number;
  refused: number;
  stop(): void;
}

function startAuthProxy(ca: TestCa, upstreamUrl = elasticsearchUrl): AuthProxy {
  const allowed = new Set([`ApiKey ${API_KEY}`, `Basic ${btoa(`${USERNAME}:${PASSWORD}`)}`]);
  const upstream = new URL(upstreamUrl);
  const proxy: AuthProxy = { url: "", authorized: 0, refused: 0, stop: () => server.stop(true) };
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    tls: { cert: ca.cert, key: ca.key },
    async fetch(req) {
      if (!allowed.has(req.headers.get("authorization") ?? "")) {
        proxy.refused++;
        return Response.json({ error: { type: "security_exception", reason: "missing or wrong credentials" }, status: 401 }, { status: 401, headers: { "www-authenticate": 'ApiKey, Basic realm="security"' } });
      }
      proxy.authorized++;
      const incoming = new URL(req.url);
      const target = new URL(`${incoming.pathname}${incoming.search}`, upstream);
      const headers = new Headers(req.headers);
      for (const name of ["host", "authorization", "accept-encoding", "content-length"]) headers.delete(name);
      const hasBody = req.method !== "GET" && req.method !== "HEAD";
      const res = await fetch(target, { method: req.method, headers, body: hasBody ? await req.arrayBuffer() : undefined });
      const out = new Headers(res.headers);
      // fetch has already decoded the body.
      for (const name of ["content-encoding", "content-length", "transfer-encoding"]) out.delete(name);
      return new Response(req.method === "HEAD" ? null : await res.arrayBuffer(), { status: res.status, headers: out });
    },
  });
  proxy.url = `https://127.0.0.1:${server.port}`;
  return proxy;
}

let t: TestEnvironment;
let ca: TestCa;
let proxy: AuthProxy;

beforeAll(async () => {
  ca = makeTestCa();
  proxy = startAuthProxy(ca);
  t = await createTestEnvironment("auth_tls");
  expect((await t.sluice("migrate", "up")).code).toBe(0);
  await loadOpenverseSample(t, ["image"]);
});

afterAll(async () => {
  proxy?.stop();
  ca?.remove();
  await t?.drop();
});

async function runChild(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawnSluice(args, { ...t.childEnv(), ELASTICSEARCH_API_KEY: "", ELASTICSEARCH_USERNAME: "", ELASTICSEARCH_PASSWORD: "", ELASTICSEARCH_CA_CERT: "", ...env });
  const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code, stdout, stderr };
}

function lines(text: string): string[] {
  return text.split("\n").filter((l) => l.trim());
}

describe("Elasticsearch behind TLS and authentication", () => {
  test("an API key and a CA certificate: run image goes through the proxy, every request authorized", async () => {
    const before = { ...proxy };
    const res = await t.sluiceWith({ ELASTICSEARCH_URL: proxy.url, ELASTICSEARCH_API_KEY: API_KEY, ELASTICSEARCH_CA_CERT: ca.caPath }, "run", "image");
    expect(res.code).toBe(0);
    expect(proxy.authorized - before.authorized).toBeGreaterThan(5);
    expect(proxy.refused - before.refused).toBe(0);
    const count = await fetch(`${elasticsearchUrl}/${t.indexPrefix}image/_count`).then((r) => r.json() as Promise<{ count: number }>);
    expect(count.count).toBeGreaterThan(0);
  }, 120_000);

  test("status reads cluster health and the aliases through the proxy with the same key and CA", async () => {
    const before = { ...proxy };
    const res = await t.sluiceWith({ ELASTICSEARCH_URL: proxy.url, ELASTICSEARCH_API_KEY: API_KEY, ELASTICSEARCH_CA_CERT: ca.caPath }, "status", "--json");
    const report = JSON.parse(res.stdout) as { elasticsearch: { reachable: boolean }; datasets: { name: string; swap: { state: string } | null }[] };
    expect(report.elasticsearch.reachable).toBe(true);
    expect(report.datasets.find((d) => d.name === "image")?.swap?.state).toBe("agreed");
    expect(proxy.refused - before.refused).toBe(0);
    expect(res.stdout).not.toContain(API_KEY);
  }, 60_000);

  test("username and password: config check passes through the proxy, and --json never holds the password", async () => {
    const before = { ...proxy };
    const res = await runChild({ ELASTICSEARCH_URL: proxy.url, ELASTICSEARCH_USERNAME: USERNAME, ELASTICSEARCH_PASSWORD: PASSWORD, ELASTICSEARCH_CA_CERT: ca.caPath }, "config", "check", "image", "--json");
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`answers: Elasticsearch ${await nodeVersion()} cluster`);
    expect(res.stdout + res.stderr).not.toContain(PASSWORD);
    expect(proxy.authorized - before.authorized).toBeGreaterThan(0);
    expect(proxy.refused - before.refused).toBe(0);
  }, 60_000);

  test("OpenSearch behind the proxy: its client sends the API key and trusts the CA too", async () => {
    const osProxy = startAuthProxy(ca, opensearchUrl);
    try {
      const auths: Record<string, string>[] = [{ ELASTICSEARCH_API_KEY: API_KEY }, { ELASTICSEARCH_USERNAME: USERNAME, ELASTICSEARCH_PASSWORD: PASSWORD }];
      for (const auth of auths) {
        const res = await runChild({ ELASTICSEARCH_URL: osProxy.url, ELASTICSEARCH_CA_CERT: ca.caPath, SLUICE_INDEX_DEGRADE: "", ...auth }, "config", "check", "image", "--json");
        expect(res.stdout).toContain("answers: OpenSearch 2");
        expect(res.stdout + res.stderr).not.toContain(API_KEY);
        expect(res.stdout + res.stderr).not.toContain(PASSWORD);
      }
      expect(osProxy.authorized).toBeGreaterThan(2);
      expect(osProxy.refused).toBe(0);
    } finally {
      osProxy.stop();
    }
  }, 60_000);

  test("a wrong API key: exit 1, one line naming ELASTICSEARCH_URL and the 401, without the key", async () => {
    const wrong = "d3Jvbmcta2V5OnNob3VsZC1uZXZlci1iZS1wcmludGVk";
    const res = await runChild({ ELASTICSEARCH_URL: proxy.url, ELASTICSEARCH_API_KEY: wrong, ELASTICSEARCH_CA_CERT: ca.caPath }, "index", "image");
    expect(res.code).toBe(1);
    const out = lines(res.stderr);
    expect(out).toHaveLength(1);
    expect(out[0]).toContain(`ELASTICSEARCH_URL (${proxy.url}/) refused ELASTICSEARCH_API_KEY: HTTP 401`);
    expect(res.stdout + res.stderr).not.toContain(wrong);
  }, 60_000);

  test("no CA certificate: the TLS verification failure in one line, not a stack", async () => {
    const res = await runChild({ ELASTICSEARCH_URL: proxy.url, ELASTICSEARCH_API_KEY: API_KEY }, "index", "image");
    expect(res.code).toBe(1);
    const out = lines(res.stderr);
    expect(out).toHaveLength(1);
    expect(out[0]).toContain(`cannot reach ELASTICSEARCH_URL (${proxy.url}/): TLS certificate verification failed`);
    expect(out[0]).toContain("set ELASTICSEARCH_CA_CERT");
    expect(res.stdout + res.stderr).not.toContain(API_KEY);
  }, 60_000);

  test("a CA path that cannot be read, or an API key beside a username: exit 2, one line", async () => {
    const missing = join(ca.dir, "no-such-ca.pem");
    const unreadable = await runChild({ ELASTICSEARCH_URL: proxy.url, ELASTICSEARCH_API_KEY: API_KEY, ELASTICSEARCH_CA_CERT: missing }, "index", "image");
    expect(unreadable.code).toBe(2);
    expect(lines(unreadable.stderr)).toHaveLength(1);
    expect(unreadable.stderr).toContain(`ELASTICSEARCH_CA_CERT (${missing}) cannot be read (ENOENT)`);
    expect(unreadable.stdout + unreadable.stderr).not.toContain(API_KEY);

    const both = await runChild({ ELASTICSEARCH_URL: proxy.url, ELASTICSEARCH_API_KEY: API_KEY, ELASTICSEARCH_USERNAME: USERNAME, ELASTICSEARCH_PASSWORD: PASSWORD, ELASTICSEARCH_CA_CERT: ca.caPath }, "config", "check", "image", "--json");
    expect(both.code).toBe(2);
    expect(lines(both.stderr)).toHaveLength(1);
    expect(both.stderr).toContain("ELASTICSEARCH_API_KEY and ELASTICSEARCH_USERNAME/ELASTICSEARCH_PASSWORD are both set");
    expect(both.stdout + both.stderr).not.toContain(API_KEY);
    expect(both.stdout + both.stderr).not.toContain(PASSWORD);
  }, 60_000);
});
