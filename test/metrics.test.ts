/**
 * Prometheus metrics after every job: the textfile-collector file (atomic, checked by promtool),
 * the Pushgateway push, and the alert rules shipped in deploy/prometheus (checked and unit-tested
 * by promtool). promtool comes from scripts/promtool, which fetches it on first use.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestEnvironment, type TestEnvironment } from "./support/harness.ts";
import { lastJob, loadOpenverseSample } from "./support/openverse.ts";

const root = new URL("../", import.meta.url).pathname;
let t: TestEnvironment;
let dir: string;

async function promtool(args: string[], stdin?: string): Promise<{ code: number; out: string }> {
  const child = Bun.spawn([join(root, "scripts/promtool"), ...args], {
    cwd: root,
    stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, out, err] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code, out: out + err };
}

/** The value of one series in a text-format exposition, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

beforeAll(async () => {
  t = await createTestEnvironment("metrics");
  await loadOpenverseSample(t, ["audio"]);
  expect((await t.sluice("migrate", "up")).code).toBe(0);
  dir = mkdtempSync(join(tmpdir(), "sluice-metrics-"));
}, 300_000);
afterAll(async () => {
  await t?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("SLUICE_METRICS_FILE", () => {
  test("after a run: a textfile-collector file promtool accepts, with the run's figures, written atomically", async () => {
    const file = join(dir, "sluice.prom");
    expect((await t.sluiceWith({ SLUICE_METRICS_FILE: file }, "run", "audio")).code).toBe(0);
    const text = await Bun.file(file).text();
    const check = await promtool(["check", "metrics"], text);
    expect(check.out).toBe("");
    expect(check.code).toBe(0);
    const run = await lastJob(t, "audio", "run");
    const [finished] = await t.api`select extract(epoch from finished_at)::float8 as at, extract(epoch from finished_at - started_at)::float8 as took from sluice.jobs where id = ${run.id}`;
    expect(sample(text, 'sluice_job_last_success_timestamp_seconds{dataset="audio",stage="run"}')).toBeCloseTo(finished!.at, 2);
    expect(sample(text, 'sluice_job_last_duration_seconds{dataset="audio",stage="run"}')).toBeCloseTo(finished!.took, 2);
    expect(sample(text, 'sluice_job_last_failure_timestamp_seconds{dataset="audio",stage="run"}')).toBeUndefined();
    for (const stage of ["refresh", "index", "swap", "run"]) {
      expect(sample(text, `sluice_job_rows_read{dataset="audio",stage="${stage}"}`)).toBe(100);
      expect(sample(text, `sluice_job_running{dataset="audio",stage="${stage}"}`)).toBe(0);
    }
    expect(sample(text, 'sluice_job_rows_written{dataset="audio",stage="refresh"}')).toBe(100);
    expect(sample(text, 'sluice_documents_indexed{dataset="audio"}')).toBe(100);
    expect(sample(text, 'sluice_live_generation{dataset="audio"}')).toBe(run.generation);
    // Written last, when the run let go of the dataset.
    expect(sample(text, 'sluice_lock_held{dataset="audio"}')).toBe(0);
    // Nothing but the file itself is left in the directory (the temporary file was renamed).
    expect(readdirSync(dir)).toEqual(["sluice.prom"]);
  });

  test("a failed run sets its failure time; an unwritable file is a warning, not a failure", async () => {
    const file = join(dir, "sluice.prom");
    // The shrink gate refuses a generation cut to 10 rows: the run fails at swap.
    expect((await t.sluiceWith({ SLUICE_METRICS_FILE: file, DATA_REFRESH_LIMIT: "10" }, "run", "audio")).code).toBe(1);
    const text = await Bun.file(file).text();
    expect((await promtool(["check", "metrics"], text)).code).toBe(0);
    const failedRun = await lastJob(t, "audio", "run");
    expect(failedRun.state).toBe("failed");
    const [at] = await t.api`select extract(epoch from finished_at)::float8 as at from sluice.jobs where id = ${failedRun.id}`;
    expect(sample(text, 'sluice_job_last_failure_timestamp_seconds{dataset="audio",stage="run"}')).toBeCloseTo(at!.at, 2);
    expect(sample(text, 'sluice_job_last_failure_timestamp_seconds{dataset="audio",stage="swap"}')).toBeGreaterThan(0);
    expect(sample(text, 'sluice_job_rows_written{dataset="audio",stage="refresh"}')).toBe(10);
    const unwritable = await t.sluiceWith({ SLUICE_METRICS_FILE: join(dir, "no-such-dir", "sluice.prom") }, "run", "audio");
    expect(unwritable.code).toBe(0);
  });
});

describe("SLUICE_PUSHGATEWAY_URL", () => {
  test("every job pushes the whole set with PUT; the push at a run's start shows the lock held and the run running", async () => {
    const pushes: { method: string; path: string; body: string }[] = [];
    const gateway = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        pushes.push({ method: req.method, path: new URL(req.url).pathname, body: await req.text() });
        return new Response("", { status: 200 });
      },
    });
    try {
      expect((await t.sluiceWith({ SLUICE_PUSHGATEWAY_URL: `http://127.0.0.1:${gateway.port}` }, "run", "audio", "--rebuild")).code).toBe(0);
    } finally {
      gateway.stop(true);
    }
    // run's start, the start and end of refresh, index and swap, run's end, and the release of the lock.
    expect(pushes.length).toBe(9);
    for (const push of pushes) {
      expect(push.method).toBe("PUT");
      expect(push.path).toMatch(/^\/metrics\/job\/sluice\/instance\/[^/]+$/);
      expect((await promtool(["check", "metrics"], push.body)).code).toBe(0);
    }
    const first = pushes[0]!.body;
    expect(sample(first, 'sluice_lock_held{dataset="audio"}')).toBe(1);
    expect(sample(first, 'sluice_job_running{dataset="audio",stage="run"}')).toBe(1);
    expect(sample(first, 'sluice_job_running_since_timestamp_seconds{dataset="audio",stage="run"}')).toBeGreaterThan(0);
    const last = pushes.at(-1)!.body;
    expect(sample(last, 'sluice_lock_held{dataset="audio"}')).toBe(0);
    expect(sample(last, 'sluice_job_running{dataset="audio",stage="run"}')).toBe(0);
    expect(sample(last, 'sluice_documents_indexed{dataset="audio"}')).toBe(100);
  });

  test("a Pushgateway that is down is a warning, not a failure", async () => {
    expect((await t.sluiceWith({ SLUICE_PUSHGATEWAY_URL: "http://127.0.0.1:1" }, "run", "audio", "--rebuild")).code).toBe(0);
  });
});

describe("deploy/prometheus/sluice-alerts.yml", () => {
  test("promtool accepts the rules and their unit tests pass", async () => {
    const check = await promtool(["check", "rules", "deploy/prometheus/sluice-alerts.yml"]);
    expect(check.out).toContain("SUCCESS: 4 rules found");
    expect(check.code).toBe(0);
    const unit = await promtool(["test", "rules", "deploy/prometheus/sluice-alerts.test.yml"]);
    expect(unit.out).toContain("SUCCESS");
    expect(unit.code).toBe(0);
  });
});
