// A/B (bun bench/bulk-transport-ab.ts, ELASTICSEARCH_URL set): CPU of sendBulk through Bun's fetch vs through the client's transport, same bodies, alternating.
import { openSearch, sendBulk, type SearchClient } from "../src/adapters/elasticsearch.ts";
const url = process.env.ELASTICSEARCH_URL!;
const es = await openSearch(url);
const viaClient: SearchClient = { ...es, bulkEndpoint: undefined };
const index = `h24-ab-${Date.now()}`;
await es.indices.create({ index, settings: { number_of_replicas: 0, refresh_interval: "-1" } });
const bodies: string[] = [];
let n = 0;
for (let b = 0; b < 12; b++) {
  let s = "";
  for (let i = 0; i < 2000; i++, n++) s += `{"index":{"_index":"${index}","_id":"${n % 24000}"}}\n${JSON.stringify({ title: `t ${n} ${"x".repeat(300)}`, n, tags: [{ name: "a" }, { name: "b" }] })}\n`;
  bodies.push(s);
}
const results: Record<string, number[]> = { fetch: [], client: [] };
for (let round = 0; round < 6; round++) {
  for (const [name, client] of (round % 2 ? [["client", viaClient], ["fetch", es]] : [["fetch", es], ["client", viaClient]]) as [string, SearchClient][]) {
    Bun.gc(true);
    const before = process.cpuUsage();
    for (let i = 0; i < bodies.length; i += 3) await Promise.all(bodies.slice(i, i + 3).map((b) => sendBulk(client, b, { statusOnly: true })));
    const used = process.cpuUsage(before);
    results[name]!.push((used.user + used.system) / 1e6);
  }
}
await es.indices.delete({ index });
await es.close();
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
for (const [k, v] of Object.entries(results)) console.log(k, "median CPU-s per 24k docs", med(v).toFixed(3), "runs", v.map((x) => x.toFixed(3)).join(" "));
