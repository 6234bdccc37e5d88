/**
 * Reads a staging table as one JSON object per row. COPY in CSV mode with quote and delimiter set
 * to control bytes that JSON always escapes: the server does the JSON encoding and no field is
 * escaped twice, so parsing is one JSON.parse per row.
 */
import { ident, openDatabase, type Sql } from "../../adapters/postgres.ts";
import { CopyLineBuffer } from "../../transforms/copy-text.ts";

export async function* stagingRows(api: Sql, databaseUrl: string, table: string, signal: AbortSignal): AsyncGenerator<Record<string, unknown>[]> {
  // A connection of its own, ended afterwards: under Bun, postgres.js leaves a connection that
  // streamed a large COPY TO waiting forever on its next query.
  const sql = await openDatabase(databaseUrl, { variable: "DATABASE_URL", maxConnections: 1 });
  const [backend] = await sql`select pg_backend_pid() as pid`;
  const readable = await sql
    .unsafe(`COPY (SELECT row_to_json(t) FROM ${ident(table)} t) TO STDOUT WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')`)
    .readable();
  const onAbort = () => readable.destroy(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  const decoder = new TextDecoder();
  const lines = new CopyLineBuffer();
  let finished = false;
  try {
    for await (const chunk of readable as AsyncIterable<Uint8Array>) {
      const batch = lines.push(chunk);
      if (batch.length) yield batch.map((line) => JSON.parse(decoder.decode(line)));
    }
    const last = lines.end();
    if (last) yield [JSON.parse(decoder.decode(last))];
    finished = true;
  } finally {
    signal.removeEventListener("abort", onAbort);
    if (!finished) {
      readable.destroy();
      // The server may be blocked writing to a socket nobody reads, holding its lock on the
      // table that the rollback wants to drop: end it from another connection.
      await api`select pg_terminate_backend(${backend!.pid as number})`.catch(() => {});
    }
    await sql.end({ timeout: 0 });
  }
}
