/**
 * A throwaway TCP proxy in front of the shared Elasticsearch, for faults at the moment of a swap
 * without touching the real server. It passes bytes through untouched until it sees an
 * `POST /_aliases` request, then, by mode:
 *
 *   cut-request   closes the client's connection without forwarding it (Elasticsearch never sees it)
 *   cut-response  forwards it, and closes the client's connection when Elasticsearch answers
 *                 (applied, but the client never hears)
 *   die           closes the connection unforwarded and stops listening: every later request is
 *                 refused, as if Elasticsearch had been killed, until `restart()`
 *
 * `cutNext(line, n)` closes the connection, unforwarded, on the next n requests whose request line
 * matches, whatever the mode: a node restarting, or closing a kept-alive connection, under one call.
 * `cutAnswerNext(line, n)` forwards them and closes the connection when the answer comes: a node
 * that did the work and restarted before the client heard.
 */
import type { Socket, TCPSocketListener } from "bun";
import { elasticsearchUrl } from "./harness.ts";

export type ProxyMode = "pass" | "cut-request" | "cut-response" | "die";

export interface EsProxy {
  url: string;
  mode: ProxyMode;
  /** `POST /_aliases` requests seen. */
  aliasCalls: number;
  /** Closes the client's connection, unforwarded, on the next `times` requests whose line matches (any mode). */
  cutNext(requestLine: RegExp, times: number): void;
  /** Forwards the next `times` requests whose line matches, and closes the client's connection when Elasticsearch answers (any mode). */
  cutAnswerNext(requestLine: RegExp, times: number): void;
  /** Requests cut by `cutNext` or `cutAnswerNext`. */
  cuts: number;
  /** Listens again on the same port (after `die`), passing everything through. */
  restart(): void;
  stop(): void;
}

interface Pair {
  server: Socket<undefined> | null;
  /** Bytes from the client waiting for the upstream connection, or for it to drain. */
  toServer: Uint8Array[];
  toClient: Uint8Array[];
  /** Drop Elasticsearch's answer to the current request and close the client instead. */
  swallowAnswer: boolean;
  closed: boolean;
}

export function startEsProxy(): EsProxy {
  const upstream = new URL(elasticsearchUrl);
  let listener: TCPSocketListener<Pair>;
  const clients = new Set<Socket<Pair>>();
  const pendingCuts: { requestLine: RegExp; left: number }[] = [];
  const pendingAnswerCuts: { requestLine: RegExp; left: number }[] = [];
  const proxy: EsProxy = {
    url: "",
    mode: "pass",
    aliasCalls: 0,
    cuts: 0,
    cutNext(requestLine, times) {
      pendingCuts.push({ requestLine, left: times });
    },
    cutAnswerNext(requestLine, times) {
      pendingAnswerCuts.push({ requestLine, left: times });
    },
    restart() {
      listener = listen(port);
      proxy.mode = "pass";
    },
    stop() {
      for (const client of clients) client.terminate();
      listener.stop(true);
    },
  };
  const flush = (socket: Socket<any>, queue: Uint8Array[]) => {
    while (queue.length) {
      const chunk = queue[0]!;
      const sent = socket.write(chunk);
      if (sent < chunk.length) {
        queue[0] = chunk.subarray(Math.max(0, sent));
        return;
      }
      queue.shift();
    }
  };
  const close = (client: Socket<Pair>) => {
    client.data.closed = true;
    client.data.server?.terminate();
    client.terminate();
    clients.delete(client);
  };
  const listen = (at: number) =>
    Bun.listen<Pair>({
      hostname: "127.0.0.1",
      port: at,
      socket: {
        open(client) {
          client.data = { server: null, toServer: [], toClient: [], swallowAnswer: false, closed: false };
          clients.add(client);
          Bun.connect<undefined>({
            hostname: upstream.hostname,
            port: Number(upstream.port || 80),
            socket: {
              open(server) {
                if (client.data.closed) return server.terminate();
                client.data.server = server;
                flush(server, client.data.toServer);
              },
              data(_server, chunk) {
                if (client.data.swallowAnswer) return close(client);
                client.data.toClient.push(new Uint8Array(chunk));
                flush(client, client.data.toClient);
              },
              drain(server) {
                flush(server, client.data.toServer);
              },
              close() {
                if (!client.data.closed) client.end();
              },
              error() {
                close(client);
              },
            },
          }).catch(() => close(client));
        },
        data(client, chunk) {
          const head = new TextDecoder().decode(chunk.subarray(0, 32));
          const line = new TextDecoder().decode(chunk.subarray(0, 512)).split("\r\n", 1)[0]!;
          const cut = pendingCuts.find((c) => c.left > 0 && c.requestLine.test(line));
          if (cut) {
            cut.left--;
            proxy.cuts++;
            return close(client);
          }
          const cutAnswer = pendingAnswerCuts.find((c) => c.left > 0 && c.requestLine.test(line));
          if (cutAnswer) {
            cutAnswer.left--;
            proxy.cuts++;
            client.data.swallowAnswer = true;
          }
          if (/^POST \/_aliases[ ?]/.test(head)) {
            proxy.aliasCalls++;
            if (proxy.mode === "cut-request") return close(client);
            if (proxy.mode === "die") {
              close(client);
              proxy.stop();
              return;
            }
            if (proxy.mode === "cut-response") client.data.swallowAnswer = true;
          }
          client.data.toServer.push(new Uint8Array(chunk));
          if (client.data.server) flush(client.data.server, client.data.toServer);
        },
        drain(client) {
          flush(client, client.data.toClient);
        },
        close(client) {
          client.data.closed = true;
          client.data.server?.end();
          clients.delete(client);
        },
      },
    });
  listener = listen(0);
  const port = listener.port;
  proxy.url = `http://127.0.0.1:${port}`;
  return proxy;
}
