/**
 * A throwaway TCP proxy on a free 127.0.0.1 port, for fault tests that must cut a connection to a
 * shared service (PostgreSQL) without touching the service itself: `dropAll()` closes every
 * proxied connection at once, as a server restart does; `pause()` refuses new ones until `resume()`;
 * `dropAllOn(text)` does the same the moment a client sends `text` (a statement), before forwarding it.
 */
import type { Socket, TCPSocketListener } from "bun";

interface Pair {
  client: Socket<Pair>;
  upstream: Socket<Pair> | null;
  /** Bytes from the client that arrived before the upstream connection was open. */
  early: Uint8Array[];
  /** Bytes waiting for each side to drain (Bun's write may take only part). */
  toClient: Uint8Array[];
  toUpstream: Uint8Array[];
}

function pump(socket: Socket<Pair>, queue: Uint8Array[]): void {
  while (queue.length) {
    const chunk = queue[0]!;
    const n = socket.write(chunk);
    if (n === chunk.byteLength) queue.shift();
    else {
      queue[0] = chunk.subarray(Math.max(0, n));
      return;
    }
  }
}

function send(socket: Socket<Pair> | null, queue: Uint8Array[], data: Uint8Array): void {
  // Bun reuses the buffer handed to `data`, so keep a copy of whatever must wait.
  if (!socket || queue.length) {
    queue.push(data.slice());
    return;
  }
  const n = socket.write(data);
  if (n < data.byteLength) queue.push(data.slice(Math.max(0, n)));
}

export class TcpProxy {
  readonly #pairs = new Set<Pair>();
  #listener: TCPSocketListener<Pair>;
  #dropOn: { text: Buffer; then: () => void } | null = null;
  #accepting = true;
  connections = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {
    this.#listener = Bun.listen<Pair>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open: (client) => {
          if (!this.#accepting) {
            client.end();
            return;
          }
          this.connections++;
          const pair: Pair = { client, upstream: null, early: [], toClient: [], toUpstream: [] };
          client.data = pair;
          this.#pairs.add(pair);
          Bun.connect<Pair>({
            hostname: this.targetHost,
            port: this.targetPort,
            data: pair,
            socket: {
              open: (upstream) => {
                pair.upstream = upstream;
                for (const chunk of pair.early.splice(0)) send(upstream, pair.toUpstream, chunk);
              },
              data: (_upstream, data) => send(pair.client, pair.toClient, data),
              drain: (upstream) => pump(upstream, pair.toUpstream),
              close: () => this.#close(pair),
              error: () => this.#close(pair),
            },
          }).catch(() => this.#close(pair));
        },
        data: (client, data) => {
          const pair = client.data;
          if (this.#dropOn && Buffer.from(data.buffer, data.byteOffset, data.byteLength).includes(this.#dropOn.text)) {
            const { then } = this.#dropOn;
            this.#dropOn = null;
            this.dropAll();
            then();
            return;
          }
          if (!pair.upstream) pair.early.push(data.slice());
          else send(pair.upstream, pair.toUpstream, data);
        },
        drain: (client) => pump(client, client.data.toClient),
        close: (client) => client.data && this.#close(client.data),
        error: (client) => client.data && this.#close(client.data),
      },
    });
  }

  get port(): number {
    return this.#listener.port;
  }

  /** Closes every proxied connection, both ends, as a restarting server does. */
  dropAll(): number {
    const n = this.#pairs.size;
    for (const pair of [...this.#pairs]) this.#close(pair);
    return n;
  }

  /**
   * The next time a client sends `text` (say, a statement), every connection is closed before it is
   * forwarded and `then` runs (pause, then resume later): a restart at that exact statement.
   */
  dropAllOn(text: string, then: () => void = () => {}): void {
    this.#dropOn = { text: Buffer.from(text), then };
  }

  /** New connections are closed at once (a server still starting) until `resume()`. */
  pause(): void {
    this.#accepting = false;
  }

  resume(): void {
    this.#accepting = true;
  }

  stop(): void {
    this.dropAll();
    this.#listener.stop(true);
  }

  #close(pair: Pair): void {
    if (!this.#pairs.delete(pair)) return;
    pair.client.terminate();
    pair.upstream?.terminate();
  }
}

/** A proxy in front of the PostgreSQL server `databaseUrl` names, and that URL pointed at the proxy. */
export function proxiedDatabase(databaseUrl: string): { proxy: TcpProxy; url: string } {
  const db = new URL(databaseUrl);
  const proxy = new TcpProxy(db.hostname, Number(db.port || 5432));
  const url = new URL(databaseUrl);
  url.port = String(proxy.port);
  return { proxy, url: url.toString() };
}
