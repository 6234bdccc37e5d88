/**
 * Logs as log shippers take them: `--log-format json` / SLUICE_LOG_FORMAT=json gives one JSON object
 * per stderr line with time, level, dataset, stage, job and fields; plain lines carry a timestamp
 * when stderr is not a terminal; secrets stay out of both.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createTestEnvironment, spawnSluice, type TestEnvironment } from "./support/harness.ts";
import { lastJob, loadOpenverseSample } from "./support/openverse.ts";

let t: TestEnvironment;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

beforeAll(async () => {
  t = await createTestEnvironment("logs");
  await loadOpenverseSample(t, ["audio"]);
  expect((await t.sluice("migrate", "up")).code).toBe(0);
});
afterAll(async () => {
  await t?.drop();
});

async function run(args: string[], env: Record<string, string> = {}) {
  const child = spawnSluice(args, { ...t.childEnv(), ...env });
  const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code, stdout, stderr };
}

test("--log-format json: every stderr line is a JSON object; the job's lines carry dataset, stage, job id and fields", async () => {
  const { code, stderr } = await run(["--log-format", "json", "refresh", "audio"]);
  expect(code).toBe(0);
  const lines = stderr.trim().split("\n");
  expect(lines.length).toBeGreaterThan(1);
  const records = lines.map((line) => JSON.parse(line));
  for (const r of records) {
    expect(r.time).toMatch(RFC3339);
    expect(Number.isNaN(Date.parse(r.time))).toBe(false);
    expect(["error", "warn", "info", "debug", "trace"]).toContain(r.level);
    expect(typeof r.message).toBe("string");
    expect(typeof r.fields).toBe("object");
  }
  const job = await lastJob(t, "audio", "refresh");
  const done = records.find((r) => r.fields.state === "succeeded");
  expect(done).toMatchObject({ level: "info", dataset: "audio", stage: "refresh", job: job.id });
  expect(done.message).toContain(`job ${job.id} refresh succeeded`);
  expect(done.fields.counters.read).toBe(job.counters.read);
  expect(done.fields.counters.written).toBe(job.counters.written);
  expect(done.fields.counters.read).toBeGreaterThan(0);
  // Lines from deeper modules inside the job (the refresh's own progress) carry the job id too.
  expect(records.filter((r) => r.job === job.id).length).toBeGreaterThan(1);
});

test("SLUICE_LOG_FORMAT=json does the same, errors included, and a password never appears", async () => {
  const secret = "s3cret-pass-phrase-9911";
  const closed = `postgres://postgres:${secret}@127.0.0.1:1/nowhere`;
  const { code, stderr } = await run(["refresh", "audio"], { SLUICE_LOG_FORMAT: "json", UPSTREAM_DATABASE_URL: closed });
  expect(code).toBe(1);
  expect(stderr).not.toContain(secret);
  const records = stderr.trim().split("\n").map((line) => JSON.parse(line));
  const error = records.find((r) => r.level === "error");
  expect(error.message).toContain("UPSTREAM_DATABASE_URL");
  expect(error.time).toMatch(RFC3339);
});

test("plain lines carry an RFC 3339 timestamp when stderr is not a terminal", async () => {
  const { code, stderr } = await run(["refresh", "audio"]);
  expect(code).toBe(0);
  const lines = stderr.split("\n").filter((l) => l.trim());
  expect(lines.length).toBeGreaterThan(1);
  for (const line of lines) expect(line.split(" ")[0]).toMatch(RFC3339);
  expect(stderr).not.toContain('{"time"');
});

test("a bad --log-format or SLUICE_LOG_FORMAT exits 2 naming the choices", async () => {
  const flag = await run(["--log-format", "xml", "status"]);
  expect(flag.code).toBe(2);
  expect(flag.stderr).toContain('--log-format must be one of plain, json, got "xml"');
  const env = await run(["status"], { SLUICE_LOG_FORMAT: "yaml" });
  expect(env.code).toBe(2);
  expect(env.stderr).toContain("SLUICE_LOG_FORMAT must be plain or json");
});
