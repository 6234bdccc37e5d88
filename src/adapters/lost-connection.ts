/**
 * The one line for a lost connection that reached the top of a command (or of a job) without a
 * step naming it: which service's variable, from the error itself. PostgreSQL's errors carry the
 * server's address (adapters/postgres.ts lostConnectionOf); the search client's are its own types.
 */
import type { Env } from "../config/env.ts";
import type { SluiceError } from "../errors.ts";
import { isConnectionFailure, searchError } from "./elasticsearch.ts";
import { lostConnectionOf } from "./postgres.ts";

export function unnamedConnectionFailure(error: unknown, env: Pick<Env, "databaseUrl" | "upstreamDatabaseUrl" | "elasticsearchUrl">): SluiceError | null {
  const lost = lostConnectionOf(error, { DATABASE_URL: env.databaseUrl, UPSTREAM_DATABASE_URL: env.upstreamDatabaseUrl });
  if (lost) return lost;
  if (isConnectionFailure(error)) return searchError(error, env.elasticsearchUrl ?? "", "reach");
  return null;
}
