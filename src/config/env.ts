/**
 * The environment sluice reads, checked once. Bun loads `.env` from the working directory before
 * this runs, so a `.env` file and exported variables behave the same; exported values win.
 */
import { ConfigError } from "../errors.ts";
import { registerSecretsOf } from "../redact.ts";
import { DEGRADATIONS } from "./schema.ts";
import type { Degradation } from "./types.ts";

export interface Env {
  /** The API database: staging, live tables and sluice's own schema. */
  databaseUrl: string | undefined;
  /** The catalog that `postgres` sources copy from. */
  upstreamDatabaseUrl: string | undefined;
  elasticsearchUrl: string | undefined;
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

/** The limit a non-production refresh applies when DATA_REFRESH_LIMIT is not set. */
export const DEFAULT_REFRESH_LIMIT = 100_000;

export function readEnv(source: Record<string, string | undefined> = process.env): Env {
  const env: Env = {
    databaseUrl: urlVariable(source, "DATABASE_URL", ["postgres:", "postgresql:"]),
    upstreamDatabaseUrl: urlVariable(source, "UPSTREAM_DATABASE_URL", ["postgres:", "postgresql:"]),
    elasticsearchUrl: urlVariable(source, "ELASTICSEARCH_URL", ["http:", "https:"]),
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
