/**
 * The sink against local `_bulk` endpoints (Bun.serve): one answers like an overloaded cluster
 * (some items rejected with 429 on first sight, one item always refused with a mapping error);
 * one like a cluster with a small http.max_content_length that also rejects its first requests
 * whole with 429 (a storm), each answer shaped as Elasticsearch 8 shapes it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { SearchClient } from "../../adapters/elasticsearch.ts";
import { esJson, type FakeSearchNode, fakeSearchNode } from "../../../test/support/fake-search-node.ts";
import { ByteBuilder } from "../../transforms/byte-builder.ts";
import { appendBulkLines, BulkSink, sliceBatch } from "./bulk-sink.ts";

const indexed = new Map<string, unknown>();
const seen = new Set<string>();
let inFlight = 0;
let maxInFlight = 0;
const batchSizes: number[] = [];
let node: FakeSearchNode;
let client: SearchClient;

beforeAll(async () => {
  node = await fakeSearchNode(async (req) => {
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
    return esJson({ errors: true, items });
  });
  client = node.client;
});

afterAll(() => node.stop());

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

describe("BulkSink's ready gate (indices created while the first batches are read)", () => {
  test("sends nothing before it settles, then every batch it held", async () => {
    batchSizes.length = 0;
    let open!: () => void;
    const ready = new Promise<void>((resolve) => (open = resolve));
    const sink = new BulkSink(client, { batchDocuments: 10, batchBytes: 1024 * 1024, concurrency: 3, signal: new AbortController().signal, ready });
    // Three full batches fill the requests allowed in flight; the fourth waits for a slot.
    const adding = (async () => {
      for (let i = 0; i < 40; i++) await sink.add("gated", `g-${i}`, { i });
    })();
    await Bun.sleep(50);
    expect(batchSizes).toEqual([]);
    open();
    await adding;
    await sink.close();
    expect(batchSizes.reduce((a, b) => a + b, 0)).toBe(40);
    expect(sink.tallies.get("gated")).toEqual({ sent: 40, indexed: 40, failed: 0 });
  });

  test("a refusal sends nothing and is the error the next add throws", async () => {
    batchSizes.length = 0;
    const refused = new Error("index gated-g1 belongs to another API database");
    const ready = Promise.reject(refused);
    ready.catch(() => {});
    const sink = new BulkSink(client, { batchDocuments: 10, batchBytes: 1024 * 1024, concurrency: 2, signal: new AbortController().signal, ready });
    let thrown: unknown = null;
    try {
      for (let i = 0; i < 100; i++) await sink.add("gated-refused", `r-${i}`, { i });
      await sink.close();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBe(refused);
    expect(batchSizes).toEqual([]);
  });
});

describe("BulkSink's request bodies", () => {
  test("are reused once answered (at most one per request in flight, plus the one waiting for a slot and the one filling), and every document arrives intact", async () => {
    // The client's own transport, recording which buffer each _bulk body lies in.
    const buffers = new Set<ArrayBufferLike>();
    const recording: SearchClient = {
      ...client,
      bulkEndpoint: undefined,
      transport: {
        request: (params, options) => {
          buffers.add((params as { bulkBody: Buffer }).bulkBody.buffer);
          return client.transport.request(params, options);
        },
      },
    };
    batchSizes.length = 0;
    const sink = new BulkSink(recording, { batchDocuments: 1000, batchBytes: 4 * 1024, concurrency: 2, signal: new AbortController().signal });
    const doc = (i: number) => ({ n: i, text: `${"é✓".repeat(i % 50)} ${"x".repeat(300 + (i % 97))}` });
    for (let i = 0; i < 400; i++) await sink.add("reused", `r-${i}`, doc(i));
    await sink.close();
    expect(batchSizes.length).toBeGreaterThanOrEqual(30);
    expect(buffers.size).toBeLessThanOrEqual(4);
    for (let i = 0; i < 400; i++) expect(indexed.get(`r-${i}`)).toEqual(doc(i));
    expect(sink.tallies.get("reused")).toEqual({ sent: 400, indexed: 400, failed: 0 });
  });
});

/** Elasticsearch's answer to a body over http.max_content_length: 413, no body at all (checked against 8.19). */
const tooLarge = () => new Response(null, { status: 413, statusText: "Request Entity Too Large" });
/** Elasticsearch's answer when its write queue is full. */
const rejected = () =>
  esJson(
    {
      error: { root_cause: [{ type: "es_rejected_execution_exception", reason: "rejected execution of coordinating operation" }], type: "es_rejected_execution_exception", reason: "rejected execution of coordinating operation" },
      status: 429,
    },
    429,
  );

describe("BulkSink against a size limit and a 429 storm", () => {
  const LIMIT = 8 * 1024;
  let stormLeft = 0;
  let requests = 0;
  const stored = new Map<string, unknown>();
  let limited: FakeSearchNode;
  let limitedClient: SearchClient;

  beforeAll(async () => {
    limited = await fakeSearchNode(async (req) => {
      requests++;
      const body = await req.text();
      if (stormLeft > 0) {
        stormLeft--;
        return rejected();
      }
      if (Buffer.byteLength(body) > LIMIT) return tooLarge();
      const lines = body.split("\n").filter(Boolean);
      const items = [];
      for (let i = 0; i < lines.length; i += 2) {
        const { index } = JSON.parse(lines[i]!);
        stored.set(index._id, JSON.parse(lines[i + 1]!));
        items.push({ index: { _index: index._index, _id: index._id, status: 201 } });
      }
      return esJson({ errors: false, items });
    });
    limitedClient = limited.client;
  });
  afterAll(() => limited.stop());


  test("a request refused for its size is halved until the documents too large stand alone; they fail as too_large", async () => {
    stored.clear();
    const failed: { id: string; index: string; reason: string | undefined }[] = [];
    const retries: Record<string, number> = {};
    const sink = new BulkSink(limitedClient, {
      batchDocuments: 40,
      batchBytes: 1024 * 1024,
      concurrency: 2,
      signal: new AbortController().signal,
      onItemFailed: (item) => failed.push({ id: item.id, index: item.index, reason: item.error?.type }),
      onRetry: (reason) => (retries[reason] = (retries[reason] ?? 0) + 1),
    });
    for (let i = 1; i <= 100; i++) {
      if (i === 17 || i === 64) await sink.add("things", `big-${i}`, { body: "z".repeat(LIMIT) });
      await sink.add("things", String(i), { title: `small ${i}` });
    }
    await sink.close();
    expect(failed.sort((a, b) => a.id.localeCompare(b.id))).toEqual([
      { id: "big-17", index: "things", reason: "too_large" },
      { id: "big-64", index: "things", reason: "too_large" },
    ]);
    expect(sink.failuresByType).toEqual({ too_large: 2 });
    expect(stored.size).toBe(100);
    expect(stored.get("64")).toEqual({ title: "small 64" });
    expect(sink.tallies.get("things")).toEqual({ sent: 102, indexed: 100, failed: 2 });
    expect(retries.split_too_large).toBeGreaterThanOrEqual(2);
  });

  test("a 429 storm: every rejected request is retried and counted, and every document lands once", async () => {
    stored.clear();
    requests = 0;
    stormLeft = 5;
    const retries: Record<string, number> = {};
    const sink = new BulkSink(limitedClient, {
      batchDocuments: 10,
      batchBytes: 1024 * 1024,
      concurrency: 1,
      signal: new AbortController().signal,
      requestPolicy: { attempts: 8, baseDelayMs: 1, maxDelayMs: 5 },
      onRetry: (reason) => (retries[reason] = (retries[reason] ?? 0) + 1),
    });
    for (let i = 1; i <= 30; i++) await sink.add("storm", `s${i}`, { n: i });
    await sink.close();
    expect(retries).toEqual({ http_429: 5 });
    expect(requests).toBe(3 + 5);
    expect(stored.size).toBe(30);
    expect(sink.tallies.get("storm")).toEqual({ sent: 30, indexed: 30, failed: 0 });
  });

  test("a storm longer than the policy fails the sink with one line naming the refusal", async () => {
    stormLeft = 100;
    const sink = new BulkSink(limitedClient, {
      batchDocuments: 10,
      batchBytes: 1024 * 1024,
      concurrency: 1,
      signal: new AbortController().signal,
      requestPolicy: { attempts: 3, baseDelayMs: 1, maxDelayMs: 1 },
    });
    await sink.add("storm", "x", { n: 1 });
    await expect(sink.close()).rejects.toThrow("Elasticsearch refused a _bulk request 3 times: rejected execution of coordinating operation (HTTP 429)");
    stormLeft = 0;
  });
});

describe("an answer without errors", () => {
  test("counts every document indexed, under its own index, without reading the items; `push` asks to wait only when a batch went out", async () => {
    let requests = 0;
    // Elasticsearch's flag alone, items left out: only the flag can have counted these documents.
    const quiet = await fakeSearchNode(async (req) => {
      requests++;
      await req.text();
      return esJson({ errors: false });
    });
    try {
      const done: number[] = [];
      const sink = new BulkSink(quiet.client, { batchDocuments: 4, batchBytes: 1024 * 1024, concurrency: 2, signal: new AbortController().signal, onBatchDone: (n) => done.push(n) });
      const waits: boolean[] = [];
      for (let i = 1; i <= 10; i++) {
        const room = sink.push(i % 3 === 0 ? "children" : "parents", String(i), { i });
        waits.push(room !== undefined);
        await room;
      }
      await sink.close();
      expect(waits).toEqual([false, false, false, true, false, false, false, true, false, false]);
      expect(requests).toBe(3);
      expect(done).toEqual([4, 4, 2]);
      expect(sink.tallies.get("parents")).toEqual({ sent: 7, indexed: 7, failed: 0 });
      expect(sink.tallies.get("children")).toEqual({ sent: 3, indexed: 3, failed: 0 });
    } finally {
      quiet.stop();
    }
  });
});

test("appendBulkLines writes a document's action line and source line, as UTF-8, each ended by LF", () => {
  const body = new ByteBuilder(4);
  appendBulkLines(body, "idx-g1", 'a"b', { title: "café ✓ 😀", n: 1, tags: [{ name: "x" }], none: null });
  appendBulkLines(body, "idx-g1", "2", {});
  expect(body.take().toString("utf8")).toBe('{"index":{"_index":"idx-g1","_id":"a\\"b"}}\n{"title":"café ✓ 😀","n":1,"tags":[{"name":"x"}],"none":null}\n{"index":{"_index":"idx-g1","_id":"2"}}\n{}\n');
});

describe("sliceBatch", () => {
  test("cuts documents out of a batch, sharing its bytes", () => {
    const lines = ['{"index":{"_id":"a"}}\n{"x":1}\n', '{"index":{"_id":"b"}}\n{"x":22}\n', '{"index":{"_id":"c"}}\n{"x":333}\n'];
    const body = Buffer.from(lines.join(""));
    const starts = [0, lines[0]!.length, lines[0]!.length + lines[1]!.length];
    const tail = sliceBatch({ body, starts }, 1, 3);
    expect(tail.body.toString()).toBe(lines[1]! + lines[2]!);
    expect(tail.starts).toEqual([0, lines[1]!.length]);
    expect(sliceBatch({ body, starts }, 0, 1).body.toString()).toBe(lines[0]!);
  });
});
