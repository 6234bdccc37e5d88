/**
 * The sink's requests in flight follow the cluster (adaptive-limit.ts): against a local `_bulk`
 * endpoint that rejects every item with 429 for a while and then accepts all, the sink drops to
 * one request at a time during the storm and climbs back to its ceiling after it, without losing
 * or doubling a document.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { SearchClient } from "../../adapters/elasticsearch.ts";
import { esJson, type FakeSearchNode, fakeSearchNode } from "../../../test/support/fake-search-node.ts";
import { BulkSink } from "./bulk-sink.ts";

let storm = true;
let maxInFlight = 0;
let inFlight = 0;
const indexed = new Map<string, number>();
let node: FakeSearchNode;
let client: SearchClient;

beforeAll(async () => {
  node = await fakeSearchNode(async (req) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const lines = (await req.text()).split("\n").filter(Boolean);
    await Bun.sleep(40);
    const items = [];
    for (let i = 0; i < lines.length; i += 2) {
      const id = JSON.parse(lines[i]!).index._id as string;
      if (storm) items.push({ index: { status: 429, error: { type: "es_rejected_execution_exception", reason: "busy" } } });
      else {
        indexed.set(id, (indexed.get(id) ?? 0) + 1);
        items.push({ index: { status: 201 } });
      }
    }
    inFlight--;
    return esJson({ errors: storm, items });
  });
  client = node.client;
});

afterAll(() => node.stop());

test("drops to one request in flight during a 429 storm and climbs back to its ceiling after it", async () => {
  const sink = new BulkSink(client, {
    batchDocuments: 10,
    batchBytes: 1024 * 1024,
    concurrency: 4,
    signal: new AbortController().signal,
    itemPolicy: { attempts: 100, baseDelayMs: 5, maxDelayMs: 20 },
  });
  const during: number[] = [];
  let n = 0;
  const add = async (count: number) => {
    for (let i = 0; i < count; i++) {
      await sink.add("things", String(++n), { n });
      if (n % 10 === 0) during.push(sink.concurrency);
    }
  };
  // The storm lasts 400 ms; by then its 429s have brought the sink down to one request at a time.
  setTimeout(() => {
    during.push(-sink.concurrency);
    storm = false;
  }, 400);
  await add(460);
  await sink.close();
  expect(sink.concurrency).toBe(4);
  expect(during).toContain(-1);
  expect(Math.max(...during)).toBeLessThanOrEqual(4);
  expect(maxInFlight).toBeLessThanOrEqual(4);
  expect(indexed.size).toBe(460);
  expect([...indexed.values()].every((v) => v === 1)).toBe(true);
  expect(sink.tallies.get("things")).toEqual({ sent: 460, indexed: 460, failed: 0 });
});
