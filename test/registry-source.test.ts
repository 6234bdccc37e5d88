/** The CKAN listing parser and pager (src/sources/registry.ts), against a local Bun.serve registry. */
import { afterAll, describe, expect, test } from "bun:test";
import { SluiceError } from "../src/errors.ts";
import { listRegistry, pageUrl, parseRegistryPage } from "../src/sources/registry.ts";

describe("parseRegistryPage", () => {
  test("reads packages as the IATI registry serves them", () => {
    const page = parseRegistryPage({
      success: true,
      result: {
        count: 3,
        results: [
          {
            id: "0a1b",
            name: "org-activities",
            organization: { name: "org", title: "Org" },
            resources: [{ url: " https://org.example/a.xml ", hash: "9f86d0" }],
            metadata_modified: "2024-05-01T10:00:00.123456",
          },
          { id: "2c3d", name: "no-resources", organization: null, owner_org: "owner-1", resources: [], metadata_modified: "bad" },
          { name: "", organization: { name: "x" } },
        ],
      },
    });
    expect(page.count).toBe(3);
    expect(page.listed).toBe(3);
    expect(page.documents).toEqual([
      { id: "0a1b", name: "org-activities", publisher: "org", url: "https://org.example/a.xml", hash: "9f86d0", modified: "2024-05-01T10:00:00.123Z" },
      { id: "2c3d", name: "no-resources", publisher: "owner-1", url: null, hash: "", modified: null },
    ]);
    expect(page.problems).toEqual([expect.objectContaining({ key: null, reason: "missing_id" })]);
  });

  test("keeps a zoned timestamp and tolerates a missing count", () => {
    const page = parseRegistryPage({ success: true, result: { results: [{ id: "a", metadata_modified: "2024-01-01T01:00:00+01:00" }] } });
    expect(page.count).toBe(1);
    expect(page.documents[0]!.modified).toBe("2024-01-01T00:00:00.000Z");
  });

  test.each([[null], [{ success: false, error: { message: "no" } }], [{ success: true }], ["<html>"]])("rejects %p", (body) => {
    expect(() => parseRegistryPage(body)).toThrow(SluiceError);
  });

  test("pageUrl", () => {
    expect(pageUrl("http://r.example/api/3/action/", 100, 200)).toBe("http://r.example/api/3/action/package_search?rows=100&start=200");
  });
});

describe("listRegistry", () => {
  const packages = Array.from({ length: 25 }, (_, i) => ({ id: `p${i}`, name: `p${i}`, organization: { name: "o" }, resources: [{ url: `http://h/${i}`, hash: `${i}` }] }));
  let failures = 1;
  const server = Bun.serve({
    port: 0,
    fetch(req) {
      const url = new URL(req.url);
      if (url.pathname === "/flaky/package_search" && failures-- > 0) return new Response("busy", { status: 503 });
      if (url.pathname === "/gone/package_search") return new Response("no", { status: 404 });
      const rows = Number(url.searchParams.get("rows"));
      const start = Number(url.searchParams.get("start"));
      return Response.json({ success: true, result: { count: packages.length, results: packages.slice(start, start + rows) } });
    },
  });
  afterAll(() => server.stop(true));
  const signal = new AbortController().signal;

  test("pages through rows and start until the count is reached, retrying a 503", async () => {
    const seen: string[] = [];
    let pages = 0;
    for await (const page of listRegistry(`${server.url}flaky`, { pageSize: 10, signal })) {
      pages++;
      seen.push(...page.documents.map((d) => d.id));
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(packages.map((p) => p.id));
  });

  test("a 404 is one clear error", async () => {
    const run = async () => {
      for await (const _ of listRegistry(`${server.url}gone`, { pageSize: 10, signal })) void _;
    };
    expect(run()).rejects.toThrow(/registry answered HTTP 404/);
  });
});
