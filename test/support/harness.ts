/**
 * Integration-test harness: each test file gets databases and index names of its own on the real
 * Postgres and Elasticsearch (`scripts/services up`), and runs sluice in-process through runCli,
 * as an operator would run the binary.
 */
import { readdirSync, rmSync } from "node:fs";
import postgres from "postgres";
import { main } from "../../src/cli.ts";
import { runCli } from "../../src/cli/main.ts";
import { logger } from "../../src/log/logger.ts";

export const serverUrl = process.env.DATABASE_URL ?? "postgres://postgres:sluice@127.0.0.1:5432/sluice";
export const elasticsearchUrl = process.env.ELASTICSEARCH_URL ?? "http://127.0.0.1:9200";
/** The Elasticsearch 8 node `scripts/services up` starts beside the default (9) one; null when not given. */
export const elasticsearch8Url = process.env.ELASTICSEARCH8_URL || null;
/** The second engine `scripts/services up` starts: OpenSearch with analysis-common and mapper-extras. */
export const opensearchUrl = process.env.OPENSEARCH_URL ?? "http://127.0.0.1:9250";

// Tests read results, not logs; SLUICE_TEST_LOGS=1 shows them.
if (!process.env.SLUICE_TEST_LOGS) logger.level = 0;

export interface TestEnvironment {
  name: string;
  apiUrl: string;
  upstreamUrl: string;
  indexPrefix: string;
  api: postgres.Sql;
  upstream: postgres.Sql;
  /** Runs `sluice …` in-process; returns the exit code and what went to stdout. */
  sluice(...args: string[]): Promise<{ code: number; stdout: string }>;
  /** The same, with some environment variables changed for this call. */
  sluiceWith(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string }>;
  /** Environment for running sluice as a child process. */
  childEnv(): Record<string, string>;
  drop(): Promise<void>;
}

function databaseUrl(name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export interface EnvironmentOptions {
  /** The engine sluice talks to (ELASTICSEARCH_URL) and the one whose indices `drop` deletes; default the core-only Elasticsearch. */
  searchUrl?: string;
}

/**
 * The core-only Elasticsearch lacks mapper-extras and analysis-common, which the built-in Openverse
 * bodies need; tests on it let sluice degrade (test/openverse-api.test.ts proves that without this
 * it refuses). On OpenSearch nothing is degraded.
 */
export const CORE_ONLY_DEGRADE = "ranking,stemming";

export async function createTestEnvironment(label: string, options: EnvironmentOptions = {}): Promise<TestEnvironment> {
  const searchUrl = options.searchUrl ?? elasticsearchUrl;
  const name = `sluice_t_${label}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.unsafe(`CREATE DATABASE ${name}_up`);
  await admin.end();
  const apiUrl = databaseUrl(name);
  const upstreamUrl = databaseUrl(`${name}_up`);
  const indexPrefix = `${name.replace(/_/g, "-")}-`;
  const vars = {
    DATABASE_URL: apiUrl,
    UPSTREAM_DATABASE_URL: upstreamUrl,
    ELASTICSEARCH_URL: searchUrl,
    SLUICE_INDEX_DEGRADE: searchUrl === elasticsearchUrl || searchUrl === elasticsearch8Url ? CORE_ONLY_DEGRADE : "",
    SLUICE_INDEX_PREFIX: indexPrefix,
    ENVIRONMENT: "test",
    SLACK_WEBHOOK: "",
  };
  const applyEnv = () => Object.assign(process.env, vars);
  const env: TestEnvironment = {
    name,
    apiUrl,
    upstreamUrl,
    indexPrefix,
    api: postgres(apiUrl, { max: 2, onnotice: () => {} }),
    upstream: postgres(upstreamUrl, { max: 2, onnotice: () => {} }),
    async sluice(...args) {
      applyEnv();
      return captureStdout(() => runCli(main, args));
    },
    async sluiceWith(overrides, ...args) {
      applyEnv();
      const saved = Object.fromEntries(Object.keys(overrides).map((k) => [k, process.env[k]]));
      Object.assign(process.env, overrides);
      try {
        return await captureStdout(() => runCli(main, args));
      } finally {
        for (const [k, v] of Object.entries(saved)) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      }
    },
    childEnv: () => ({ ...(process.env as Record<string, string>), ...vars }),
    async drop() {
      await env.api.end({ timeout: 1 });
      await env.upstream.end({ timeout: 1 });
      // Elasticsearch 8 refuses wildcard deletes, so name each index.
      const listed = await fetch(`${searchUrl}/_cat/indices/${indexPrefix}*?h=index&expand_wildcards=all`).then((r) => r.text()).catch(() => "");
      for (const index of listed.split("\n").map((l) => l.trim()).filter(Boolean)) {
        await fetch(`${searchUrl}/${index}`, { method: "DELETE" }).catch(() => {});
      }
      const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
      for (const db of [name, `${name}_up`]) await admin.unsafe(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await admin.end();
      // What the tests wrote beside their environment (/tmp/<name>.config.ts, /tmp/<name>-bin, …) goes with it.
      for (const entry of readdirSync("/tmp")) if (entry.startsWith(name)) rmSync(`/tmp/${entry}`, { recursive: true, force: true });
    },
  };
  applyEnv();
  // No limit unless a test sets one (and sets "0" back).
  process.env.DATA_REFRESH_LIMIT = "0";
  return env;
}

export async function captureStdout(work: () => Promise<number>): Promise<{ code: number; stdout: string }> {
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const log = console.log;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    chunks.push(typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk));
    return true;
  }) as typeof process.stdout.write;
  console.log = (...args: unknown[]) => chunks.push(`${args.join(" ")}\n`);
  try {
    const code = await work();
    return { code, stdout: chunks.join("") };
  } finally {
    process.stdout.write = write;
    console.log = log;
  }
}

/** Runs `bun src/cli.ts …` as a child process, for what must be a separate process (locks, signals). */
export function spawnSluice(args: string[], env: Record<string, string>): Bun.Subprocess<"ignore", "pipe", "pipe"> {
  return Bun.spawn(["bun", "src/cli.ts", ...args], {
    cwd: new URL("../../", import.meta.url).pathname,
    env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
}

/** The version the Elasticsearch node at `url` reports (the integ-test zip refuses `GET /`); null when it does not answer. */
export async function nodeVersion(url = elasticsearchUrl): Promise<string | null> {
  const res = await fetch(`${url}/_nodes/_local?filter_path=nodes.*.version`).catch(() => null);
  if (!res?.ok) return null;
  const body = (await res.json()) as { nodes?: Record<string, { version?: string }> };
  return Object.values(body.nodes ?? {})[0]?.version ?? null;
}

export async function searchCount(index: string, searchUrl = elasticsearchUrl): Promise<number | null> {
  const res = await fetch(`${searchUrl}/${index}/_count`);
  if (res.status === 404) return null;
  return ((await res.json()) as { count: number }).count;
}

export async function aliasIndices(alias: string, searchUrl = elasticsearchUrl): Promise<string[]> {
  const res = await fetch(`${searchUrl}/_alias/${alias}`);
  if (res.status === 404) return [];
  return Object.keys((await res.json()) as object);
}
