/**
 * Bad rows are counted and reported, never crash a run: invalid JSON, integers out of range, null
 * and duplicate keys, invalid UTF-8 (a SQL_ASCII upstream allows it), bad UUIDs, values too long.
 * Also: Slack hears about starts, stage ends and failures, and Slack down or slow blocks nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { createTestEnvironment, elasticsearchUrl, searchCount, serverUrl, type TestEnvironment } from "./support/harness.ts";
import { lastJob, loadOpenverseSample } from "./support/openverse.ts";

let t: TestEnvironment;
let asciiUrl: string;
let config: string;

beforeAll(async () => {
  t = await createTestEnvironment("badrows");
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${t.name}_ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`);
  await admin.end();
  const url = new URL(t.upstreamUrl);
  url.pathname = `/${t.name}_ascii`;
  asciiUrl = url.toString();
  const ascii = postgres(asciiUrl, { max: 1, onnotice: () => {} });
  await ascii.unsafe(`
    CREATE TABLE raw_photos (identifier text, title text, width text, meta_data text, tags text);
    INSERT INTO raw_photos VALUES
      ('6f1c2b9e-0000-4000-8000-000000000001', 'good one', '640', '{"description": "ok"}', '[{"name": "cat", "accuracy": 0.95}, {"name": "squareformat"}]'),
      ('6f1c2b9e-0000-4000-8000-000000000002', 'bad json', '640', '{"description": ', '[]'),
      ('6f1c2b9e-0000-4000-8000-000000000003', 'too wide', '99999999999', '{}', '[]'),
      (NULL, 'no key', '1', '{}', '[]'),
      ('6f1c2b9e-0000-4000-8000-000000000001', 'duplicate key', '640', '{}', '[]'),
      ('6f1c2b9e-0000-4000-8000-000000000006', E'caf\\xe9 latin-1 bytes', '640', '{}', '[]'),
      ('not-a-uuid', 'bad key', '640', '{}', '[]'),
      ('6f1c2b9e-0000-4000-8000-000000000008', repeat('x', 201), '640', '{}', '[]'),
      ('6f1c2b9e-0000-4000-8000-000000000009', 'good two', NULL, NULL, '{}');`);
  await ascii.end();
  config = `/tmp/${t.name}.config.ts`;
  await Bun.write(config, `import { defineConfig } from "sluice";
export default defineConfig({
  datasets: {
    photos: {
      source: { kind: "postgres", table: "raw_photos" },
      table: {
        key: "identifier",
        columns: { identifier: "uuid", title: "character varying(200)", width: "integer", meta_data: "jsonb", tags: "jsonb" },
      },
      clean: { tags: { denylist: ["squareformat"] } },
      index: { alias: "photos" },
      // 7 of these 9 rows are bad on purpose; past this tolerance the refresh would fail.
      refresh: { maxFailedFraction: 0.8 },
    },
  },
});
`);
  await loadOpenverseSample(t, ["audio"]);
  expect((await t.sluice("migrate", "up")).code).toBe(0);
});
afterAll(async () => {
  await t.drop();
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`DROP DATABASE IF EXISTS ${t.name}_ascii WITH (FORCE)`);
  await admin.end();
});

describe("bad rows", () => {
  test("are counted by reason and listed, and the run succeeds with the good rows", async () => {
    const run = await t.sluiceWith({ UPSTREAM_DATABASE_URL: asciiUrl }, "run", "photos", "--config", config);
    expect(run.code).toBe(0);
    // The run's own summary line carries the refresh's failed rows, by reason.
    expect(run.stdout).toMatch(/^photos g1 run: read 9 · written 2 · skipped 0 · failed 7 \(refresh\.[a-z0-9_]+ 1(, refresh\.[a-z0-9_]+ 1){6}\)$/m);
    expect(run.stdout).toContain("refresh.invalid_utf8 1");
    const refresh = await lastJob(t, "photos", "refresh");
    expect(refresh.counters).toMatchObject({
      read: 9,
      written: 2,
      failed: {
        invalid_json: 1,
        integer_out_of_range: 1,
        null_key: 1,
        duplicate_key: 1,
        invalid_utf8: 1,
        invalid_uuid: 1,
        value_too_long: 1,
      },
      cleaned: { tags_denylisted: 1, tags_not_a_list: 1 },
    });
    const listed = await t.api`select item_key, reason from sluice.row_failures where job_id = ${refresh.id} order by reason`;
    expect(listed.map((r) => r.reason)).toEqual([
      "duplicate_key", "integer_out_of_range", "invalid_json", "invalid_utf8", "invalid_uuid", "null_key", "value_too_long",
    ]);
    expect(listed.find((r) => r.reason === "invalid_json")!.item_key).toBe("6f1c2b9e-0000-4000-8000-000000000002");
    const live = await t.api`select identifier::text, tags from photos order by identifier`;
    expect(live.map((r) => r.identifier)).toEqual(["6f1c2b9e-0000-4000-8000-000000000001", "6f1c2b9e-0000-4000-8000-000000000009"]);
    expect(live[0]!.tags).toEqual([{ name: "cat", accuracy: 0.95 }]);
    expect(await searchCount(`${t.indexPrefix}photos`)).toBe(2);
    const shown = await t.sluice("job", "show", String(refresh.id));
    expect(shown.stdout).toContain("invalid_utf8 1");
  });

  test("a dataset without toDocument indexes each row as it is, built from COPY text: _source is row_to_json plus id", async () => {
    const text = await (await fetch(`${elasticsearchUrl}/${t.indexPrefix}photos/_search?size=10`)).text();
    // _source keeps the bytes sent: jsonb's own text (a space after the colon), spliced in, not re-encoded.
    expect(text).toContain(`"meta_data":{"description": "ok"}`);
    const hits = (JSON.parse(text) as { hits: { hits: { _id: string; _source: Record<string, unknown> }[] } }).hits.hits;
    const rows = await t.api.unsafe("select row_to_json(p)::text as j from photos p");
    const expected = rows.map((r) => {
      const row = JSON.parse(r.j as string);
      return { ...row, id: String(row.identifier) };
    });
    const byId = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.id).localeCompare(String(b.id));
    expect(hits.map((h) => h._source).sort(byId)).toEqual(expected.sort(byId));
    expect(hits.map((h) => h._id).sort()).toEqual(expected.map((d) => d.id).sort());
  });

  test("`sluice failures` lists them by job or dataset, by reason, limited, as a table or JSON", async () => {
    const refresh = await lastJob(t, "photos", "refresh");
    const [run] = await t.api`select parent_id::int as id from sluice.jobs where id = ${refresh.id}`;
    // By the run's job id: its stages' failures are its own.
    const byRun = await t.sluice("failures", String(run!.id), "--json");
    expect(byRun.code).toBe(0);
    const listing = JSON.parse(byRun.stdout);
    expect(listing.target).toEqual({ job: run!.id, dataset: null });
    expect(listing.total).toBe(7);
    expect(listing.byReason).toEqual({ duplicate_key: 1, integer_out_of_range: 1, invalid_json: 1, invalid_utf8: 1, invalid_uuid: 1, null_key: 1, value_too_long: 1 });
    expect(listing.failures).toHaveLength(7);
    expect(listing.failures.every((f: { jobId: number; stage: string }) => f.jobId === refresh.id && f.stage === "refresh")).toBe(true);
    // By dataset, one reason.
    const json = JSON.parse((await t.sluice("failures", "photos", "--reason", "invalid_json", "--json")).stdout);
    expect(json.total).toBe(1);
    expect(json.failures[0]).toMatchObject({ key: "6f1c2b9e-0000-4000-8000-000000000002", reason: "invalid_json", dataset: "photos" });
    // A table, cut by --limit, saying how many were left out.
    const table = await t.sluice("failures", String(refresh.id), "--limit", "3");
    expect(table.code).toBe(0);
    expect(table.stdout).toStartWith("7 failure(s): ");
    expect(table.stdout).toMatch(/^JOB\s+STAGE\s+KEY\s+REASON\s+DETAIL$/m);
    expect(table.stdout.trim().split("\n").filter((l) => l.startsWith(`${refresh.id} `))).toHaveLength(3);
    expect(table.stdout).toContain("(3 of 7 shown; --limit N for more)");
    // Unknown targets: one line, exit 2, and with --json one object with the error.
    const unknown = await t.sluice("failures", "nosuch", "--json");
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.stdout)).toEqual({ error: "no jobs for dataset nosuch (see `sluice job list` for job ids and datasets)", exitCode: 2 });
  });
});

describe("slack", () => {
  test("hears the start, each stage's counts, and a failure", async () => {
    const messages: string[] = [];
    const slack = Bun.serve({
      port: 0,
      async fetch(req) {
        messages.push(((await req.json()) as { text: string }).text);
        return new Response("ok");
      },
    });
    const webhook = `http://127.0.0.1:${slack.port}/services/T000/B000/secret-token`;
    expect((await t.sluiceWith({ SLACK_WEBHOOK: webhook }, "run", "audio")).code).toBe(0);
    await t.api`update audio set title = title where false`;
    expect(messages[0]).toMatch(/^\[sluice test\] run audio started/);
    expect(messages.some((m) => /refresh audio generation \d+ succeeded: read 100 · written 100/.test(m))).toBe(true);
    expect(messages.some((m) => /swap audio generation \d+ succeeded/.test(m))).toBe(true);
    // A failure: the shrink gate refuses, and Slack is told why.
    messages.length = 0;
    expect((await t.sluiceWith({ SLACK_WEBHOOK: webhook, DATA_REFRESH_LIMIT: "10" }, "run", "audio")).code).toBe(1);
    expect(messages.some((m) => m.includes("run audio FAILED at swap") && m.includes("Production untouched"))).toBe(true);
    expect(messages.join("\n")).not.toContain("secret-token");
    slack.stop(true);
  });

  test("Slack down or slow never blocks or fails the pipeline", async () => {
    const slow = Bun.serve({
      port: 0,
      async fetch() {
        await Bun.sleep(30_000);
        return new Response("too late");
      },
    });
    const started = performance.now();
    expect((await t.sluiceWith({ SLACK_WEBHOOK: `http://127.0.0.1:${slow.port}/hook` }, "run", "audio")).code).toBe(0);
    // Each message waits at most 3 s, and only once at the end: far from the 30 s Slack takes.
    expect(performance.now() - started).toBeLessThan(20_000);
    slow.stop(true);
    expect((await t.sluiceWith({ SLACK_WEBHOOK: "http://127.0.0.1:1/hook" }, "run", "audio")).code).toBe(0);
  }, 60_000);
});

describe("index.columns", () => {
  const withColumns = async (name: string, columns: string[]) => {
    const file = `/tmp/${t.name}-${name}.config.ts`;
    await Bun.write(file, (await Bun.file(config).text()).replace('index: { alias: "photos" }', `index: { alias: "photos", columns: ${JSON.stringify(columns)} }`));
    return file;
  };
  const photoIndices = async () => (await (await fetch(`${elasticsearchUrl}/_cat/indices/${t.indexPrefix}photos*?h=index&expand_wildcards=all`)).text()).split("\n").filter(Boolean).sort();

  test("a projection reads only the named columns and the key: the documents hold nothing else", async () => {
    const narrow = await withColumns("narrow", ["title", "tags"]);
    expect((await t.sluiceWith({ UPSTREAM_DATABASE_URL: asciiUrl }, "run", "photos", "--config", narrow)).code).toBe(0);
    const hits = ((await (await fetch(`${elasticsearchUrl}/${t.indexPrefix}photos/_search?size=10`)).json()) as { hits: { hits: { _source: Record<string, unknown> }[] } }).hits.hits;
    expect(hits.length).toBe(2);
    for (const { _source } of hits) expect(Object.keys(_source).sort()).toEqual(["id", "identifier", "tags", "title"]);
  });

  test("a name the staging table lacks fails the index job in one line before any index is created", async () => {
    const misspelt = await withColumns("misspelt", ["title", "titel"]);
    expect((await t.sluiceWith({ UPSTREAM_DATABASE_URL: asciiUrl }, "refresh", "photos", "--config", misspelt)).code).toBe(0);
    const before = await photoIndices();
    expect((await t.sluice("index", "photos", "--config", misspelt)).code).toBe(1);
    const job = await lastJob(t, "photos", "index");
    expect(job.state).toBe("failed");
    expect(job.error).toMatch(/^index\.columns names titel, which the staging table photos__g\d+ lacks/);
    expect(await photoIndices()).toEqual(before);
    // Refused before its first step ("creating …"), not after making an index and deleting it again.
    const [{ task }] = (await t.api`select task from sluice.jobs where id = ${job.id}`) as unknown as [{ task: string | null }];
    expect(task).toBeNull();
  });
});
