/**
 * libpq's TLS parameters in a PostgreSQL URL (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`, or
 * PGSSLMODE / PGSSLROOTCERT …), turned into postgres.js's `ssl` option. postgres.js reads
 * `sslmode` alone and sends any other query parameter to the server as a setting, which the server
 * refuses ("unrecognized configuration parameter sslrootcert"), so they are taken out of the URL here.
 */

export type SslMode = "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full";
const SSL_MODES: readonly SslMode[] = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];
const TLS_PARAMETERS = ["sslmode", "sslrootcert", "sslcert", "sslkey"] as const;

export interface PostgresTls {
  /** The URL without the TLS parameters, for postgres.js. */
  url: string;
  /** undefined when neither the URL nor the environment names a mode: postgres.js's default (no TLS). */
  mode: SslMode | undefined;
  /** A PEM file path, or "system" for the system's CAs. */
  rootCert: string | undefined;
  clientCert: string | undefined;
  clientKey: string | undefined;
}

export class SslModeError extends Error {}

export function parsePostgresTls(url: string, env: Record<string, string | undefined> = {}): PostgresTls {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not a WHATWG URL (several hosts): left to postgres.js as it is.
    return { url, mode: undefined, rootCert: undefined, clientCert: undefined, clientKey: undefined };
  }
  const param = (name: (typeof TLS_PARAMETERS)[number]) => parsed.searchParams.get(name) || env[`PG${name.toUpperCase()}`] || undefined;
  const rawMode = param("sslmode");
  if (rawMode !== undefined && !(SSL_MODES as readonly string[]).includes(rawMode)) {
    throw new SslModeError(`sslmode must be one of ${SSL_MODES.join(", ")}, got "${rawMode}"`);
  }
  const rootCert = param("sslrootcert");
  let mode = rawMode as SslMode | undefined;
  // As libpq: `require` with a root certificate verifies the chain, and `sslrootcert=system` alone means
  // verify-full. A root certificate with no mode verifies the chain too (libpq's `prefer` would ignore it).
  if (rootCert && (mode === undefined || mode === "require")) mode = rootCert === "system" && mode === undefined ? "verify-full" : "verify-ca";
  const out = { rootCert, clientCert: param("sslcert"), clientKey: param("sslkey") };
  for (const name of TLS_PARAMETERS) parsed.searchParams.delete(name);
  return { url: parsed.toString(), mode, ...out };
}
