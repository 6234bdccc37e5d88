/**
 * The sink against a local `_bulk` endpoint (Bun.serve) that answers like an overloaded cluster:
 * some items rejected with 429 on first sight, one item always refused with a mapping error.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { openSearch, type SearchClient } from "../../adapters/elasticsearch.ts";
import { BulkSink } from "./bulk-sink.ts";

const indexed = new Map<string, unknown>();
const seen = new Set<string>();
let inFlight = 0;
let maxInFlight = 0;
const batchSizes: number[] = [];
let server: ReturnType<typeof Bun.serve>;
let client: SearchClient;

beforeAll(async () => {
  server = Bun.serve({
    port: 0,
    async fetch(req) {
      const headers = { "content-type": "application/json", "x-elastic-product": "Elasticsearch" };
      const url = new URL(req.url);
      if (url.pathname === "/_cluster/health") return new Response(JSON.stringify({ status: "green" }), { headers });
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const lines = (await req.text()).split("\n").filter(Boolean);
      await Bun.sleep(5);
      const items = [];
      for (let i = 0; i < lines.length; i += 2) {
        const { index } = JSON.parse(lines[i]!);
        const doc = JSON.parse(lines[i + 1]!);
        const id = index._id as string;
        const firstSight = !seen.has(id);
        seen.add(id);
        if (id === "bad") items.push({ index: { _index: index._index, _id: id, status: 400, error: { type: "mapper_parsing_exception", reason: "no" } } });
        else if (Number(id) % 7 === 0 && firstSight) items.push({ index: { _index: index._index, _id: id, status: 429, error: { type: "es_rejected_execution_exception", reason: "busy" } } });
        else {
          indexed.set(id, doc);
          items.push({ index: { _index: index._index, _id: id, status: 201 } });
        }
      }
      batchSizes.push(lines.length / 2);
      inFlight--;
      return new Response(JSON.stringify({ errors: true, items }), { headers });
    },
  });
  client = await openSearch(`http://127.0.0.1:${server.port}`);
});

afterAll(async () => {
  await client.close();
  server.stop(true);
});

describe("BulkSink", () => {
  test("resends items rejected with 429, counts the others, and keeps the batch and concurrency limits", async () => {
    const failed: string[] = [];
    const sink = new BulkSink(client, {
      batchDocuments: 50,
      batchBytes: 1024 * 1024,
      concurrency: 2,
      signal: new AbortController().signal,
      onItemFailed: (item) => failed.push(item.id),
    });
    for (let i = 1; i <= 500; i++) await sink.add("things", String(i), { id: i, title: `naïve café ${i} ✓`, tags: [{ name: "x" }] });
    await sink.add("things", "bad", { id: "bad" });
    await sink.close();

    expect(indexed.size).toBe(500);
    expect(indexed.get("350")).toEqual({ id: 350, title: "naïve café 350 ✓", tags: [{ name: "x" }] });
    expect(indexed.get("7")).toEqual({ id: 7, title: "naïve café 7 ✓", tags: [{ name: "x" }] });
    expect(failed).toEqual(["bad"]);
    expect(sink.failuresByType).toEqual({ mapper_parsing_exception: 1 });
    expect(sink.tallies.get("things")).toEqual({ sent: 501, indexed: 500, failed: 1 });
    expect(Math.max(...batchSizes)).toBeLessThanOrEqual(50);
    expect(maxInFlight).toBeLessThanOrEqual(2);
  });

  test("a batch closes at its byte limit before its document limit", async () => {
    batchSizes.length = 0;
    const sink = new BulkSink(client, { batchDocuments: 1000, batchBytes: 10 * 1024, concurrency: 1, signal: new AbortController().signal });
    for (let i = 1000; i < 1100; i++) await sink.add("big", String(i * 7 + 1), { body: "y".repeat(1000) });
    await sink.close();
    expect(batchSizes.length).toBeGreaterThanOrEqual(10);
    expect(batchSizes.reduce((a, b) => a + b, 0)).toBe(100);
  });
});
