/**
 * waitForReplicas against a local `_cluster/health` (Bun.serve) answering as Elasticsearch does:
 * 408 with `timed_out` while the asked indices are not green, 200 once they are. The real cluster's
 * case (replicas held off, then recovering) is in test/scale-out-cluster.test.ts.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { SearchClient } from "../../adapters/elasticsearch.ts";
import { esJson, type FakeSearchNode, fakeSearchNode } from "../../../test/support/fake-search-node.ts";
import { waitForReplicas } from "./replicas-ready.ts";

/** Per index: replicas asked for, and how many health calls it stays yellow for (Infinity: for ever). */
let indices: Record<string, { replicas: number; yellowFor: number }> = {};
let dataNodes = 3;
/** The cluster's cluster.routing.allocation.enable, when set. */
let allocation: string | null = null;
const asked: string[] = [];
let node: FakeSearchNode;
let client: SearchClient;

beforeAll(async () => {
  node = await fakeSearchNode((_req, url) => {
    if (url.pathname === "/_cluster/settings") return esJson({ persistent: {}, transient: allocation ? { "cluster.routing.allocation.enable": allocation } : {} });
    const names = decodeURIComponent(url.pathname.replace(/^\/_cluster\/health\/?/, "")).split(",").filter(Boolean);
    asked.push(`${names.join(",")} ${url.searchParams.get("timeout")}`);
    const report = Object.fromEntries(
      names.map((name) => {
        const index = indices[name]!;
        const yellow = index.yellowFor-- > 0;
        return [name, { status: yellow ? "yellow" : "green", number_of_replicas: index.replicas, unassigned_shards: yellow ? 1 : 0, initializing_shards: yellow ? 2 : 0 }];
      }),
    );
    const green = Object.values(report).every((r) => r.status === "green");
    return esJson({ status: green ? "green" : "yellow", timed_out: !green, number_of_data_nodes: dataNodes, indices: report }, green ? 200 : 408);
  });
  client = node.client;
});

afterAll(() => node.stop());

test("polls until every index is green, asking only for those still waiting, and says what is missing", async () => {
  indices = { full: { replicas: 1, yellowFor: 3 }, twin: { replicas: 1, yellowFor: 1 } };
  dataNodes = 3;
  asked.length = 0;
  const heard: string[] = [];
  const outcome = await waitForReplicas(client, ["full", "twin"], 60, { onWait: (missing) => heard.push(missing) });
  expect(outcome).toEqual({ refusals: [], warnings: [] });
  expect(asked).toEqual(["full,twin 0s", "full,twin 5s", "full 5s", "full 5s"]);
  expect(heard[0]).toBe("full (2 initializing, 1 unassigned), twin (2 initializing, 1 unassigned)");
});

test("an index still yellow when the wait ends refuses, naming the setting", async () => {
  indices = { full: { replicas: 1, yellowFor: Infinity } };
  dataNodes = 3;
  expect(await waitForReplicas(client, ["full"], 0)).toEqual({ refusals: ["replicas not ready: full (2 initializing, 1 unassigned)"], warnings: [] });
  const waited = await waitForReplicas(client, ["full"], 1);
  expect(waited.refusals).toEqual(["replicas not ready after 1 s (swap.replicaWaitSeconds): full (2 initializing, 1 unassigned)"]);
});

test("replicas the data nodes cannot hold are warned about and not waited for", async () => {
  indices = { full: { replicas: 1, yellowFor: Infinity }, small: { replicas: 0, yellowFor: 0 } };
  dataNodes = 1;
  asked.length = 0;
  const outcome = await waitForReplicas(client, ["full", "small"], 600);
  expect(outcome.refusals).toEqual([]);
  expect(outcome.warnings).toEqual([
    "index full asks for 1 replica of each shard, which the cluster's 1 data node cannot hold (a copy per node): it stays yellow; give its body number_of_replicas 0 or fewer, or add nodes",
  ]);
  expect(asked).toEqual(["full,small 0s", "small 0s"]);
});

test("replicas held back by the cluster's allocation setting (a rolling restart): the refusal says so", async () => {
  indices = { full: { replicas: 1, yellowFor: Infinity } };
  dataNodes = 3;
  allocation = "primaries";
  const heard: string[] = [];
  const outcome = await waitForReplicas(client, ["full"], 1, { onWait: (missing) => heard.push(missing) });
  allocation = null;
  const held = `the cluster's cluster.routing.allocation.enable is "primaries", so no replica is assigned until it is "all" again`;
  expect(outcome.refusals).toEqual([`replicas not ready after 1 s (swap.replicaWaitSeconds): full (2 initializing, 1 unassigned); ${held}`]);
  expect(heard[0]).toEndWith(held);
});
