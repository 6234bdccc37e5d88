/**
 * `sluice status --exit-code` as a monitor uses it: each service down, migrations pending, a failed
 * run, a stale dataset; and every `--json` command printing one JSON object on stdout, failures too.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestEnvironment, spawnSluice, type TestEnvironment } from "./support/harness.ts";
import { loadOpenverseSample } from "./support/openverse.ts";

let t: TestEnvironment;
let config: string;

/** A 127.0.0.1 port nothing listens on: bound, then released. */
function closedPort(): number {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

// A config file is imported once per process, so each maxAge gets a file of its own.
const writeConfig = (maxAgeHours: number, path = config) =>
  Bun.write(path, `import { defineConfig } from "sluice";
export default defineConfig({
  datasets: {
    tunes: {
      source: { kind: "postgres", table: "audio" },
      table: { key: "identifier" },
      index: { alias: "tunes" },
      status: { maxAgeHours: ${maxAgeHours} },
    },
  },
});
`);

beforeAll(async () => {
  t = await createTestEnvironment("health");
  await loadOpenverseSample(t, ["audio"]);
  config = `/tmp/${t.name}.config.ts`;
  await writeConfig(24);
});
afterAll(async () => {
  await t?.drop();
});

const status = async (env: Record<string, string> = {}, path = config) => {
  const out = await t.sluiceWith(env, "status", "--exit-code", "--json", "--config", path);
  return { code: out.code, report: JSON.parse(out.stdout) };
};
const messages = (report: { health: { problems: { message: string }[] } }) => report.health.problems.map((p) => p.message).join("\n");

describe("status --exit-code", () => {
  test("exits 3 while migrations are pending, 0 once they are applied", async () => {
    const pending = await status();
    expect(pending.code).toBe(3);
    expect(pending.report.health.exitCode).toBe(3);
    expect(messages(pending.report)).toMatch(/^\d+ migration\(s\) pending \(run `sluice migrate up`\)$/);
    // Without --exit-code the same report exits 0: status still answers.
    expect((await t.sluice("status", "--config", config)).code).toBe(0);
    expect((await t.sluice("migrate", "up")).code).toBe(0);
    // tunes has never run and holds a maxAge: that is unhealthy too.
    const fresh = await status();
    expect(messages(fresh.report)).toBe("tunes: no successful run yet (status.maxAgeHours is 24)");
    expect(fresh.code).toBe(6);
  });

  test("exits 5 when PostgreSQL is unreachable, and still reports Elasticsearch", async () => {
    const port = closedPort();
    const { code, report } = await status({ DATABASE_URL: `postgres://postgres:secret-password-1234@127.0.0.1:${port}/x` });
    expect(code).toBe(5);
    expect(report.database.reachable).toBe(false);
    expect(report.database.error).toContain("cannot connect to DATABASE_URL");
    expect(JSON.stringify(report)).not.toContain("secret-password-1234");
    expect(report.elasticsearch.reachable).toBe(true);
    expect(messages(report)).toContain("PostgreSQL is unreachable");
    // The plain form says so too, on stdout, with the same exit code.
    const plain = await t.sluiceWith({ DATABASE_URL: `postgres://postgres:x@127.0.0.1:${port}/x` }, "status", "--exit-code", "--config", config);
    expect(plain.code).toBe(5);
    expect(plain.stdout).toContain("unhealthy:\n  PostgreSQL is unreachable");
  });

  test("exits 5 when Elasticsearch is unreachable", async () => {
    const { code, report } = await status({ ELASTICSEARCH_URL: `http://127.0.0.1:${closedPort()}` });
    expect(code).toBe(5);
    expect(report.elasticsearch.reachable).toBe(false);
    expect(report.database.reachable).toBe(true);
    expect(messages(report)).toMatch(/Elasticsearch http:\/\/127\.0\.0\.1:\d+\/ is unreachable/);
  });

  test("an unset ELASTICSEARCH_URL does not count while no dataset has a live index", async () => {
    const tablesOnly = config.replace(/\.config\.ts$/, ".tables.config.ts");
    await Bun.write(tablesOnly, `export default { datasets: { tunes: { source: { kind: "postgres", table: "audio" }, table: { key: "identifier" }, index: false } } };\n`);
    const { code, report } = await status({ ELASTICSEARCH_URL: "" }, tablesOnly);
    expect(report.elasticsearch.reachable).toBe(false);
    expect(report.health.problems).toEqual([]);
    expect(code).toBe(0);
  });

  test("exits 0 after a successful run, 6 when it is older than status.maxAgeHours, 6 after a failed run", async () => {
    expect((await t.sluice("run", "tunes", "--config", config)).code).toBe(0);
    const healthy = await status();
    expect(healthy.report.health.problems).toEqual([]);
    expect(healthy.code).toBe(0);
    expect((await t.sluice("status", "--exit-code", "--config", config)).stdout).toContain("\nhealthy\n");
    // A maxAge of about a second, then two seconds later.
    const staleConfig = config.replace(/\.config\.ts$/, ".stale.config.ts");
    await writeConfig(0.0003, staleConfig);
    await Bun.sleep(2000);
    const stale = await status({}, staleConfig);
    expect(stale.code).toBe(6);
    expect(messages(stale.report)).toMatch(/^tunes: last successful run finished 0\.0 h ago, over status\.maxAgeHours 0\.0003$/);
    // A failed run: the shrink gate refuses a generation cut to 10 rows.
    expect((await t.sluiceWith({ DATA_REFRESH_LIMIT: "10" }, "run", "tunes", "--config", config)).code).toBe(1);
    const failed = await status();
    expect(failed.code).toBe(6);
    expect(messages(failed.report)).toMatch(/^tunes: last run \(job \d+\) failed \(see `sluice job show \d+`\)$/);
    // tunes has a live index now, so an unset ELASTICSEARCH_URL counts, before the failed run.
    const unset = await status({ ELASTICSEARCH_URL: "" });
    expect(unset.code).toBe(5);
    expect(messages(unset.report)).toContain("Elasticsearch (ELASTICSEARCH_URL) is not configured (ELASTICSEARCH_URL)");
  }, 60_000);
});

describe("--json on failure", () => {
  const json = async (args: string[], env: Record<string, string> = {}) => {
    const child = spawnSluice(args, { ...t.childEnv(), ...env });
    const [code, stdout] = await Promise.all([child.exited, new Response(child.stdout).text()]);
    return { code, stdout, parsed: JSON.parse(stdout) };
  };

  test("a usage error, a missing job, an unreachable database: one JSON object with `error` and `exitCode`", async () => {
    const usage = await json(["job", "list", "--limt", "3", "--json"]);
    expect(usage.code).toBe(2);
    expect(usage.parsed).toEqual({ error: "unknown flag --limt for `sluice job list`; did you mean --limit?", exitCode: 2 });
    const missing = await json(["job", "show", "999999", "--json"]);
    expect(missing.code).toBe(1);
    expect(missing.parsed.error).toContain("999999");
    expect(missing.parsed.exitCode).toBe(1);
    const down = await json(["run", "tunes", "--config", config, "--json"], { DATABASE_URL: `postgres://postgres:pw-secret-4321@127.0.0.1:${closedPort()}/x` });
    expect(down.code).toBe(1);
    expect(down.parsed.error).toContain("cannot connect to DATABASE_URL");
    expect(down.stdout).not.toContain("pw-secret-4321");
    // A command that printed its report and then exits non-zero adds no second object.
    const reported = await json(["status", "--exit-code", "--json", "--config", config], { ELASTICSEARCH_URL: `http://127.0.0.1:${closedPort()}` });
    expect(reported.code).toBe(5);
    expect(reported.parsed.health.exitCode).toBe(5);
  });
});
