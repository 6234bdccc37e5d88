/**
 * A local stand-in for one Elasticsearch node (Bun.serve), for unit tests of code that reads one
 * kind of answer (a `_bulk` response, a cluster health): the client's start-up probes get a 9.x
 * node's answers and `_cluster/health` without an index is green; every other request goes to
 * `answer`. `esJson` shapes a reply as Elasticsearch does (its product header included), which
 * the client checks on every response.
 */
import { openSearch, type SearchClient } from "../../src/adapters/elasticsearch.ts";

export interface FakeSearchNode {
  client: SearchClient;
  port: number;
  stop(): Promise<void>;
}

/** A JSON answer with Elasticsearch's headers. */
export function esJson(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", "x-elastic-product": "Elasticsearch", ...headers } });
}

export async function fakeSearchNode(answer: (req: Request, url: URL) => Response | Promise<Response>): Promise<FakeSearchNode> {
  const server = Bun.serve({
    port: 0,
    fetch(req) {
      const url = new URL(req.url);
      if (url.pathname === "/" || url.pathname === "/_nodes/_local") return esJson({ version: { number: "9.1.0" }, tagline: "You Know, for Search", nodes: { local: { version: "9.1.0" } } });
      if (url.pathname === "/_cluster/health") return esJson({ status: "green" });
      return answer(req, url);
    },
  });
  const client = await openSearch(`http://127.0.0.1:${server.port}`);
  return {
    client,
    port: server.port!,
    async stop() {
      await client.close();
      server.stop(true);
    },
  };
}
