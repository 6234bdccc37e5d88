/**
 * deleteIds against a local `_bulk` endpoint (Bun.serve) answering as Elasticsearch 8 does: ids it
 * holds are deleted (200), others are absent (404), "locked" is refused for good (409), and ids
 * named in `busy` are rejected with 429 the first `busy` times they are seen. The test against the
 * real engine is in test/faults-more.test.ts (the filtered twin's deletes).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { esJson, type FakeSearchNode, fakeSearchNode } from "../../test/support/fake-search-node.ts";
import { deleteIds, type SearchClient } from "./elasticsearch.ts";

const held = new Set<string>();
const busy = new Map<string, number>();
const requests: string[][] = [];
let node: FakeSearchNode;
let client: SearchClient;

beforeAll(async () => {
  node = await fakeSearchNode(async (req) => {
    const actions = (await req.text()).split("\n").filter(Boolean).map((line) => (JSON.parse(line) as { delete: { _index: string; _id: string } }).delete);
    requests.push(actions.map((a) => a._id));
    const items = actions.map(({ _index, _id }) => {
      const left = busy.get(_id) ?? 0;
      if (left > 0) {
        busy.set(_id, left - 1);
        return { delete: { _index, _id, status: 429, error: { type: "es_rejected_execution_exception", reason: "queue full" } } };
      }
      if (_id === "locked") return { delete: { _index, _id, status: 409, error: { type: "version_conflict_engine_exception", reason: "locked" } } };
      return { delete: { _index, _id, status: held.delete(_id) ? 200 : 404 } };
    });
    return esJson({ errors: true, items });
  });
  client = node.client;
});

afterAll(() => node.stop());

const quick = { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 };

test("ids rejected with 429 are resent alone until taken; absent ids are not failures; other refusals are counted by type", async () => {
  for (const id of ["a", "b", "c", "d"]) held.add(id);
  busy.set("b", 1).set("c", 2);
  requests.length = 0;
  const retries: [string, number][] = [];
  const outcome = await deleteIds(client, "x", ["a", "b", "c", "d", "gone", "locked"], { itemPolicy: quick, onRetry: (reason, n) => retries.push([reason, n]) });
  expect(outcome).toEqual({ deleted: 4, absent: 1, failed: { version_conflict_engine_exception: 1 } });
  expect(requests).toEqual([["a", "b", "c", "d", "gone", "locked"], ["b", "c"], ["c"]]);
  expect(retries).toEqual([["item_429", 2], ["item_429", 1]]);
});

test("an id still rejected when the resends are used up counts as failed, not deleted", async () => {
  held.add("e");
  busy.set("e", 5);
  requests.length = 0;
  const outcome = await deleteIds(client, "x", ["e"], { itemPolicy: quick });
  expect(outcome).toEqual({ deleted: 0, absent: 0, failed: { es_rejected_execution_exception: 1 } });
  expect(requests).toEqual([["e"], ["e"], ["e"]]);
});
