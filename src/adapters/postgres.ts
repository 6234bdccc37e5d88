/**
 * The one place that opens PostgreSQL connections (postgres.js). Connection failures become one
 * line naming the variable, the masked URL and the likely fix.
 */
import { readFileSync } from "node:fs";
import { checkServerIdentity, type ConnectionOptions } from "node:tls";
import postgres from "postgres";
import { ConfigError, SluiceError } from "../errors.ts";
import { maskUrl } from "../redact.ts";
import { RETRY_DEFAULTS, retryWhile } from "../retry.ts";
import { parsePostgresTls, SslModeError } from "./postgres-tls.ts";
import { isCertificateError } from "./tls-errors.ts";

export type Sql = postgres.Sql<{}>;
export type ReservedSql = postgres.ReservedSql<{}>;
export type { PostgresError } from "postgres";

export interface OpenDatabaseOptions {
  /** The variable the URL came from, named in errors. */
  variable: "DATABASE_URL" | "UPSTREAM_DATABASE_URL";
  /** @default 4 */
  maxConnections?: number;
  /** Set for a SQL_ASCII server, whose bytes must arrive unconverted so that each row can be checked. */
  clientEncoding?: string;
}

/**
 * sluice's own timeouts, as pg_dump sets its own: none. A role or database that sets
 * statement_timeout (a common guard on application roles) cancelled refresh's COPY mid-way, and
 * each run again was cancelled the same way; one that sets idle_session_timeout ended the dataset
 * lock's connection, idle by design while the job works, and so every job longer than it. The
 * waits sluice needs are bounded by its own timers. Sent as a query after connecting rather than
 * as startup parameters, which PgBouncer refuses ("unsupported startup parameter"); set_config of
 * the names this server has, so that no version lacks one (idle_session_timeout is PostgreSQL
 * 14's, transaction_timeout 17's).
 */
const SESSION_INIT = `SELECT set_config(name, '0', false) FROM pg_catalog.pg_settings
  WHERE name IN ('statement_timeout', 'idle_in_transaction_session_timeout', 'idle_session_timeout', 'transaction_timeout')`;

/**
 * Opens a pool and proves it works, so that a bad URL fails here with a clear line. A server that
 * takes the connection and drops it, or answers that it is starting or shutting down, is asked
 * again for 5.8 to 11.5 s (RETRY_DEFAULTS.recordOutcome): that is a restart, which a timer's run
 * should ride out (one in five of a sweep's cuts landed on a command's first connection). A refused
 * connection, an unknown host or a refused password fail at once: those are usually the URL.
 * Each try has CONNECT_DEADLINE_MS: postgres.js reconnects for ever, silently, to a server that
 * closes each connection as it opens (a proxy whose backend is down), and its connect_timeout
 * starts again with every attempt.
 */
export async function openDatabase(url: string, options: OpenDatabaseOptions): Promise<Sql> {
  const tls = postgresTls(url, options.variable);
  const sql = postgres(tls.url, {
    ...(tls.ssl === undefined ? {} : { ssl: tls.ssl }),
    max: options.maxConnections ?? 4,
    connect_timeout: 10,
    idle_timeout: 30,
    onnotice: () => {},
    connection: { application_name: "sluice", ...(options.clientEncoding ? { client_encoding: options.clientEncoding } : {}) },
    // Run by every new connection before its first query (patches/postgres@3.4.9.patch).
    session_init: SESSION_INIT,
  } as postgres.Options<{}>);
  try {
    await retryWhile(() => withinDeadline(sql`select 1`, CONNECT_DEADLINE_MS), isRestartingAtConnect, RETRY_DEFAULTS.recordOutcome);
  } catch (error) {
    await sql.end({ timeout: 1 }).catch(() => {});
    throw connectionError(error, url, options.variable);
  }
  return sql;
}

/**
 * postgres.js's `ssl` for the URL's libpq parameters (./postgres-tls.ts): certificate files are read
 * here, so that a path that cannot be read is a configuration error naming the variable.
 */
function postgresTls(url: string, variable: string): { url: string; ssl: postgres.Options<{}>["ssl"] | undefined } {
  let tls;
  try {
    tls = parsePostgresTls(url, process.env);
  } catch (error) {
    if (error instanceof SslModeError) throw new ConfigError(`${variable} (${maskUrl(url)}): ${error.message}`, "use sslmode=verify-full with sslrootcert=<CA file> to verify the server");
    throw error;
  }
  const read = (parameter: string, path: string | undefined) => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path, "utf8");
    } catch (error) {
      const code = (error as { code?: string }).code;
      throw new ConfigError(`${variable}: ${parameter} (${path}) cannot be read${code ? ` (${code})` : ""}`, `point ${parameter} at a readable PEM file`);
    }
  };
  if (tls.mode === undefined || tls.mode === "disable" || tls.mode === "allow" || tls.mode === "prefer" || tls.mode === "require") {
    // postgres.js does these itself (require/allow/prefer: encrypted, unverified).
    return { url: tls.mode === undefined ? tls.url : withSslMode(tls.url, tls.mode), ssl: undefined };
  }
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  const ssl: ConnectionOptions = {
    rejectUnauthorized: true,
    ...(tls.rootCert && tls.rootCert !== "system" ? { ca: read("sslrootcert", tls.rootCert) } : {}),
    ...(tls.clientCert ? { cert: read("sslcert", tls.clientCert) } : {}),
    ...(tls.clientKey ? { key: read("sslkey", tls.clientKey) } : {}),
    // postgres.js names no server for an IP address, so Node would check "localhost"; check the URL's host.
    // verify-ca checks the chain only, as libpq does.
    checkServerIdentity: tls.mode === "verify-full" ? (_servername, cert) => checkServerIdentity(host, cert) : () => undefined,
  };
  return { url: tls.url, ssl: ssl as postgres.Options<{}>["ssl"] };
}

function withSslMode(url: string, mode: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set("sslmode", mode);
  return parsed.toString();
}

const CONNECT_DEADLINE_MS = 10_000;

/** `query`, or a CONNECT_TIMEOUT error (as postgres.js names its own) once `ms` have passed. */
function withinDeadline<T>(query: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${ms / 1000} s`), { code: "CONNECT_TIMEOUT" })), ms);
  });
  return Promise.race([query, deadline]).finally(() => clearTimeout(timer));
}

function isRestartingAtConnect(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return code === "ECONNRESET" || code === "CONNECTION_CLOSED" || (typeof code === "string" && RESTARTING_STATES.has(code));
}

export function connectionError(error: unknown, url: string, variable: string): SluiceError {
  const code = (error as { code?: string }).code;
  const where = `${variable} (${maskUrl(url)})`;
  const reason = describeConnectionFailure(code, error);
  return new SluiceError(`cannot connect to ${where}: ${reason.problem}`, { hint: reason.fix, cause: error });
}

function describeConnectionFailure(code: string | undefined, error: unknown): { problem: string; fix: string } {
  switch (code) {
    case "ECONNREFUSED":
      return { problem: "connection refused", fix: "is PostgreSQL running? `scripts/services up` starts a local one" };
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return { problem: "host not found", fix: "check the host name in the URL" };
    case "CONNECT_TIMEOUT":
    case "ETIMEDOUT":
      return { problem: "timed out", fix: "check the host, port and firewall" };
    case "28P01":
      return { problem: "authentication failed", fix: "check the user and password in the URL" };
    case "28000":
      // No pg_hba.conf line admits this host, user and encryption: the server's words say which.
      return { problem: `refused: ${(error as Error).message}`, fix: "check the user in the URL, and sslmode if the server accepts only TLS (hostssl)" };
    case "3D000":
      return { problem: "database does not exist", fix: "create it (createdb) or fix the database name in the URL" };
    case "ECONNRESET":
    case "CONNECTION_CLOSED":
      return { problem: `the server closed each connection as it opened (${code})`, fix: "it was restarting, or a proxy or pooler in front of it refuses connections; run the command again once PostgreSQL accepts them" };
    case "57P01":
    case "57P02":
    case "57P03":
      return { problem: (error as Error).message, fix: "the server is starting or shutting down; run the command again once it accepts connections" };
    default:
      if (isCertificateError(code)) {
        return {
          problem: `TLS certificate verification failed: ${(error as Error).message}`,
          fix: "add sslrootcert=<PEM file of the CA that signed the server's certificate> to the URL, and check that the certificate names the host",
        };
      }
      return {
        problem: (error as Error)?.message ?? String(error),
        fix: "check the URL and that the server accepts connections",
      };
  }
}

/** The server's major version: 15 for 15.18. */
export async function serverMajorVersion(sql: Sql): Promise<number> {
  const [row] = await sql`show server_version_num`;
  return Math.floor(Number(row?.server_version_num) / 10000);
}

/** Quotes an identifier for SQL built from config (table and column names). */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes a literal for the rare statements that take no parameters (DDL). */
export function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}


/** postgres.js's own codes for a connection that went away, and the socket errors it passes on. */
const LOST_CONNECTION_CODES = new Set(["CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED", "CONNECT_TIMEOUT", "ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT"]);

/** True for an error raised by postgres.js: a server error (it has a SQLSTATE and severity) or a lost connection. */
export function isDatabaseFailure(error: unknown): boolean {
  const e = error as { code?: unknown; severity?: unknown; name?: unknown };
  if (e?.name === "PostgresError" || (typeof e?.severity === "string" && typeof e?.code === "string")) return true;
  return typeof e?.code === "string" && LOST_CONNECTION_CODES.has(e.code);
}

/** SQLSTATEs of a server shutting down or starting up: a restart, like a lost connection. */
const RESTARTING_STATES = new Set(["57P01", "57P02", "57P03"]);

/**
 * `call`, tried again while the database cannot be reached or is restarting (RETRY_DEFAULTS.recordOutcome,
 * 5.8 to 11.5 s): for the writes and clean-up that must still reach the API database after a failure
 * that may have been the database going away. Any other error, and the last one, is thrown.
 */
export function whileDatabaseReachable<T>(call: () => Promise<T>): Promise<T> {
  return retryWhile(call, isServerAway, RETRY_DEFAULTS.recordOutcome);
}

/** A lost connection, or a server shutting down or starting up: the server went away, the statement was not at fault. */
export function isServerAway(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === "string" && (LOST_CONNECTION_CODES.has(code) || RESTARTING_STATES.has(code));
}

/**
 * One line for a database failure in the middle of work: which variable's server, masked, and what
 * to do. A lost connection (a restart, a dropped network) is told apart from an error the server
 * returned.
 */
export function databaseFailure(error: unknown, url: string, variable: string, doing: string): SluiceError {
  const e = error as { code?: string; message?: string };
  const where = `${variable} (${maskUrl(url)})`;
  if (e?.code && LOST_CONNECTION_CODES.has(e.code)) {
    return new SluiceError(`lost the connection to ${where} while trying to ${doing}: ${e.code}`, {
      hint: "the database restarted or the network dropped; production is untouched, run the command again once PostgreSQL accepts connections",
      cause: error,
    });
  }
  return new SluiceError(`PostgreSQL at ${where} failed while trying to ${doing}: ${e?.message ?? String(error)}${e?.code ? ` (SQLSTATE ${e.code})` : ""}`, {
    hint: "production is untouched; see `sluice job list`",
    cause: error,
  });
}

/**
 * For a lost connection that reached the top without a stage naming it: the variable whose URL
 * points at the server it came from (postgres.js errors carry its address and port), or null when
 * the error is not one, or no single variable matches.
 */
export function lostConnectionOf(error: unknown, urls: Record<string, string | undefined>): SluiceError | null {
  const e = error as { code?: string; address?: string | string[]; port?: number | string | number[] };
  if (!e?.code || !LOST_CONNECTION_CODES.has(e.code) || !e.address) return null;
  // A connection error raised with no socket open carries the driver's option arrays (one per host).
  const address = Array.isArray(e.address) ? e.address[0] : e.address;
  const port = Array.isArray(e.port) ? e.port[0] : e.port;
  const matches = Object.entries(urls).filter(([, url]) => {
    if (!url) return false;
    try {
      const u = new URL(url);
      return u.hostname === address && Number(u.port || 5432) === Number(port);
    } catch {
      return false;
    }
  });
  const where = matches.length ? matches.map(([name]) => name).join(" or ") : `PostgreSQL at ${address}:${port}`;
  return new SluiceError(`lost the connection to ${where}: ${e.code}`, {
    hint: "the database restarted or the network dropped; production is untouched, run the command again once PostgreSQL accepts connections",
    cause: error,
  });
}
