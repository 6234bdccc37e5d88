/**
 * The environment sluice reads, checked once. Bun loads `.env` from the working directory before
 * this runs, so a `.env` file and exported variables behave the same; exported values win.
 */
import { readFileSync } from "node:fs";
import { ConfigError } from "../errors.ts";
import { registerSecret, registerSecretsOf } from "../redact.ts";
import { DEGRADATIONS } from "./schema.ts";
import type { Degradation } from "./types.ts";

export interface Env {
  /** The API database: staging, live tables and sluice's own schema. */
  databaseUrl: string | undefined;
  /** The catalog that `postgres` sources copy from. */
  upstreamDatabaseUrl: string | undefined;
  elasticsearchUrl: string | undefined;
  /** How sluice proves who it is to the search engine and checks who the engine is, besides URL credentials. */
  elasticsearchAccess: SearchAccess;
  slackWebhook: string | undefined;
  /** Rows a refresh copies at most; null means no limit. */
  dataRefreshLimit: number | null;
  /** True when DATA_REFRESH_LIMIT is unset and the non-production default applies. */
  dataRefreshLimitByDefault: boolean;
  /** `local`, `staging`, `prod`, `production`, … */
  environment: string;
  /** SLUICE_INDEX_DEGRADE: what every dataset's index may give up on a cluster without the modules its body needs. */
  indexDegrade: Degradation[];
}

/**
 * ELASTICSEARCH_API_KEY (sent as `Authorization: ApiKey …`), or ELASTICSEARCH_USERNAME and
 * ELASTICSEARCH_PASSWORD (Basic), and ELASTICSEARCH_CA_CERT: the PEM bundle, read here, that an
 * https server's certificate must chain to.
 */
export interface SearchAccess {
  apiKey?: string;
  username?: string;
  password?: string;
  /** The PEM text of ELASTICSEARCH_CA_CERT. */
  ca?: string;
}

/** The limit a non-production refresh applies when DATA_REFRESH_LIMIT is not set. */
export const DEFAULT_REFRESH_LIMIT = 100_000;

export function readEnv(source: Record<string, string | undefined> = process.env): Env {
  const env: Env = {
    databaseUrl: urlVariable(source, "DATABASE_URL", ["postgres:", "postgresql:"]),
    upstreamDatabaseUrl: urlVariable(source, "UPSTREAM_DATABASE_URL", ["postgres:", "postgresql:"]),
    elasticsearchUrl: urlVariable(source, "ELASTICSEARCH_URL", ["http:", "https:"]),
    elasticsearchAccess: searchAccess(source),
    slackWebhook: urlVariable(source, "SLACK_WEBHOOK", ["http:", "https:"]),
    environment: (nonEmpty(source.ENVIRONMENT) ?? "local").toLowerCase(),
    dataRefreshLimit: null,
    dataRefreshLimitByDefault: false,
    indexDegrade: indexDegrade(nonEmpty(source.SLUICE_INDEX_DEGRADE)),
  };
  env.dataRefreshLimit = refreshLimit(nonEmpty(source.DATA_REFRESH_LIMIT), env.environment);
  env.dataRefreshLimitByDefault = nonEmpty(source.DATA_REFRESH_LIMIT) === undefined && env.dataRefreshLimit !== null;
  for (const url of [env.databaseUrl, env.upstreamDatabaseUrl, env.elasticsearchUrl, env.slackWebhook]) {
    registerSecretsOf(url);
  }
  return env;
}

function searchAccess(source: Record<string, string | undefined>): SearchAccess {
  const apiKey = nonEmpty(source.ELASTICSEARCH_API_KEY);
  const username = nonEmpty(source.ELASTICSEARCH_USERNAME);
  const password = source.ELASTICSEARCH_PASSWORD || undefined;
  // Registered before any check can fail, so that no error line carries them.
  registerSecret(apiKey);
  registerSecret(password);
  if (apiKey && (username || password)) {
    throw new ConfigError("ELASTICSEARCH_API_KEY and ELASTICSEARCH_USERNAME/ELASTICSEARCH_PASSWORD are both set", "set one way to authenticate: the API key, or the username and password");
  }
  if (password && !username) {
    throw new ConfigError("ELASTICSEARCH_PASSWORD is set without ELASTICSEARCH_USERNAME", "set ELASTICSEARCH_USERNAME too, or unset ELASTICSEARCH_PASSWORD");
  }
  const caPath = nonEmpty(source.ELASTICSEARCH_CA_CERT);
  let ca: string | undefined;
  if (caPath !== undefined) {
    try {
      ca = readFileSync(caPath, "utf8");
    } catch (error) {
      const code = (error as { code?: string }).code;
      throw new ConfigError(`ELASTICSEARCH_CA_CERT (${caPath}) cannot be read${code ? ` (${code})` : ""}`, "point it at a readable PEM file holding the CA that signed the server's certificate");
    }
    if (!ca.includes("-----BEGIN CERTIFICATE-----")) {
      throw new ConfigError(`ELASTICSEARCH_CA_CERT (${caPath}) holds no PEM certificate`, "point it at a PEM file (-----BEGIN CERTIFICATE-----)");
    }
  }
  return { apiKey, username, password: username ? (password ?? "") : undefined, ca };
}

/** A comma-separated list of degradations ("ranking,stemming"). */
function indexDegrade(raw: string | undefined): Degradation[] {
  if (raw === undefined) return [];
  const names = raw.split(",").map((n) => n.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(DEGRADATIONS as readonly string[]).includes(n));
  if (unknown.length) {
    throw new ConfigError(`SLUICE_INDEX_DEGRADE must list ${DEGRADATIONS.join(", ")} (comma-separated), got "${raw}"`, `e.g. SLUICE_INDEX_DEGRADE=${DEGRADATIONS.join(",")}, or unset it`);
  }
  return [...new Set(names)] as Degradation[];
}

/** Production refreshes everything; elsewhere a limit keeps a laptop refresh small. */
function refreshLimit(raw: string | undefined, environment: string): number | null {
  if (raw === undefined) {
    return environment === "prod" || environment === "production" ? null : DEFAULT_REFRESH_LIMIT;
  }
  if (!/^\d+$/.test(raw)) {
    throw new ConfigError(
      `DATA_REFRESH_LIMIT must be a whole number of rows, got "${raw}"`,
      "set it to e.g. 100000, or 0 for no limit",
    );
  }
  const limit = Number(raw);
  return limit === 0 ? null : limit;
}

/** How much the logger says, by name; SLUICE_LOG_LEVEL picks one, `--quiet` and `--verbose` override it. */
export const LOG_LEVELS = { silent: -999, error: 0, warn: 1, info: 3, debug: 4, trace: 5 } as const;
export type LogLevelName = keyof typeof LOG_LEVELS;

/** SLUICE_LOG_LEVEL as a consola level, or undefined when it is not set; a name it does not know is a configuration error. */
export function readLogLevel(source: Record<string, string | undefined> = process.env): number | undefined {
  const raw = nonEmpty(source.SLUICE_LOG_LEVEL);
  if (raw === undefined) return undefined;
  const name = raw.toLowerCase();
  if (Object.hasOwn(LOG_LEVELS, name)) return LOG_LEVELS[name as LogLevelName];
  throw new ConfigError(
    `SLUICE_LOG_LEVEL must be one of ${Object.keys(LOG_LEVELS).join(", ")}, got "${raw}"`,
    "or use --quiet / --verbose",
  );
}

/** SLUICE_LOG_FORMAT (`plain` or `json`), or undefined when it is not set; any other value is a configuration error. */
export function readLogFormat(source: Record<string, string | undefined> = process.env): "plain" | "json" | undefined {
  const raw = nonEmpty(source.SLUICE_LOG_FORMAT);
  if (raw === undefined) return undefined;
  const name = raw.toLowerCase();
  if (name === "plain" || name === "json") return name;
  throw new ConfigError(`SLUICE_LOG_FORMAT must be plain or json, got "${raw}"`, "or use --log-format plain|json");
}

/** The value of a variable a command cannot do without. */
export function requireEnv<K extends keyof Env>(env: Env, key: K, variable: string): NonNullable<Env[K]> {
  const value = env[key];
  if (value === undefined || value === null) {
    throw new ConfigError(
      `${variable} is not set`,
      `export it or put it in .env; \`scripts/services up\` prints local values`,
    );
  }
  return value as NonNullable<Env[K]>;
}

function urlVariable(source: Record<string, string | undefined>, name: string, protocols: string[]) {
  const raw = nonEmpty(source[name]);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} is not a valid URL`, `expected e.g. ${protocols[0]}//host:port/…`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(
      `${name} must start with ${protocols.map((p) => `${p}//`).join(" or ")}, not ${parsed.protocol}//`,
    );
  }
  return raw;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}
