/**
 * A proxy in front of the shared Elasticsearch for fault tests: `answer` sees each `_bulk` request's
 * body and may answer it itself (a refusal) or wait first (a slow node) and return null to forward
 * it; everything else is forwarded unchanged.
 */
import { elasticsearchUrl } from "./harness.ts";

export function elasticsearchProxy(answer: (body: Uint8Array) => Response | null | Promise<Response | null>) {
  return Bun.serve({
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const body = req.body ? new Uint8Array(await req.arrayBuffer()) : undefined;
      if (url.pathname.endsWith("/_bulk") && body) {
        const own = await answer(body);
        if (own) return own;
      }
      const headers = new Headers(req.headers);
      headers.delete("accept-encoding");
      const res = await fetch(`${elasticsearchUrl}${url.pathname}${url.search}`, { method: req.method, headers, body });
      const out = new Headers(res.headers);
      out.delete("content-encoding");
      out.delete("content-length");
      return new Response(await res.arrayBuffer(), { status: res.status, headers: out });
    },
  });
}
