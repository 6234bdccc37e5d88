/**
 * Refresh copies in COPY binary when every column keeps its upstream type, and in COPY text
 * otherwise. Both paths must leave the same staging table and report the same counts: this runs
 * each on the real Openverse samples and on a table of awkward values, and compares the results.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { loadDataset } from "../src/config/load.ts";
import { resolveDataset } from "../src/config/resolve.ts";
import type { Dataset } from "../src/config/types.ts";
import { copyFormat, copyUpstreamToStaging, type CopyPipeResult } from "../src/stages/refresh/copy-pipe.ts";
import { planRows, type RowPlan } from "../src/stages/refresh/row-transform.ts";
import { createStagingTableSql } from "../src/stages/refresh/staging-sql.ts";
import { stagingColumns, upstreamColumnTypes, upstreamSelect } from "../src/stages/refresh/upstream.ts";
import { createTestEnvironment, type TestEnvironment } from "./support/harness.ts";
import { loadOpenverseSample } from "./support/openverse.ts";

let t: TestEnvironment;

beforeAll(async () => {
  t = await createTestEnvironment("formats");
  await loadOpenverseSample(t);
  await t.upstream.unsafe(`
    CREATE TABLE odd (
      id bigint, t text, v varchar(20), c char(5), n numeric(20,3), d double precision, r real, b boolean,
      ts timestamptz, tsn timestamp, dt date, tm time, iv interval, u uuid, j json, jb jsonb, tags jsonb,
      raw bytea, ip inet, ints integer[], texts text[], link text);
    INSERT INTO odd VALUES
      (1, E'tab\\there\\nnewline \\\\ backslash é😀', 'short', 'ab', 123456789012345.678, 'NaN', '-Infinity', true,
       'infinity', '2024-02-29 23:59:59.999999', '-infinity', '24:00', '-1 year 2 mons 3 days 04:05:06.7', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
       '{"b": 1,  "a": [1, 2]}', '{"z": "\\u00e9", "a": null}', '[{"name": "cat", "accuracy": 0.95}, {"name": "squareformat"}, {"name": "x", "accuracy": 0.2}]',
       '\\x00ff0a5c', '2001:db8::1/64', '{1,NULL,-2147483648}', '{"a,b","with \\"quote\\"",NULL,"NULL"}', 'example.org/a b'),
      (2, '', '', NULL, -0.000, '-0', 'Infinity', false, '1999-12-31 23:00:00-05', NULL, '2000-01-01', NULL, NULL, NULL,
       'null', '[]', '{}', '\\x', '127.0.0.1', '{}', '{}', '//cdn.example.org/x.jpg'),
      (3, NULL, NULL, NULL, NULL, 1e308, 1.5e-45, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, '"[{\\"name\\": \\"dog\\"}]"', NULL, NULL, NULL, NULL, 'http://already.example.org/'),
      (NULL, 'no key', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
      (5, 'ok', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'null', NULL, NULL, NULL, NULL, 'host:8080/x'),
      (6, 'ok', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '[{"name": "by"}, {"name": "ünïcödé 🐱"}]', NULL, NULL, NULL, NULL, 'https://x'),
      (7, 'ok', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '   '),
      (8, 'ok', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'ftp://files.example.org/a'),
      (9, 'ok', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'a.io/x');`);
});
afterAll(() => t.drop());

const oddDataset = (): Dataset =>
  resolveDataset("odd", {
    source: { kind: "postgres", table: "odd" },
    table: { key: "id" },
    clean: { tags: { denylist: ["squareformat", "by"] }, urlColumns: ["link"] },
    index: { alias: "odd" },
  });

/** Copies the dataset's upstream into `staging`, forcing the text path when `text` is set (as for servers of different major versions). */
async function copyWith(dataset: Dataset, staging: string, text: boolean): Promise<{ result: CopyPipeResult; plan: RowPlan; failures: string[] }> {
  const source = dataset.source as { kind: "postgres"; table: string };
  const upstream = postgres(t.upstreamUrl, { max: 1, onnotice: () => {} });
  const api = postgres(t.apiUrl, { max: 1, onnotice: () => {} });
  try {
    const columns = stagingColumns(dataset, await upstreamColumnTypes(upstream as never, source as never));
    const plan = planRows(dataset, columns);
    const failures: string[] = [];
    const result = await copyUpstreamToStaging({
      upstream: upstream as never,
      api: api as never,
      createStaging: createStagingTableSql(staging, columns, dataset.table.key),
      select: upstreamSelect(dataset, source as never, columns, null),
      staging,
      columns: columns.map((c) => c.name),
      plan,
      checkUtf8: false,
      binaryAllowed: !text,
      signal: new AbortController().signal,
      onProgress() {},
      onFailure(f) {
        failures.push(`${f.reason} ${f.key}`);
      },
    });
    return { result, plan, failures };
  } finally {
    await upstream.end({ timeout: 0 });
    await api.end({ timeout: 1 });
  }
}

/** The table's rows as PostgreSQL prints them, in key order. */
async function dump(table: string, key: string): Promise<string[]> {
  const rows = await t.api.unsafe(`SELECT t::text AS row FROM "${table}" t ORDER BY "${key}"`);
  return rows.map((r) => r.row as string);
}

describe("binary and text copies agree", () => {
  for (const name of ["image", "audio"] as const) {
    test(`on the Openverse ${name} sample`, async () => {
      const dataset = await loadDataset(name);
      const binary = await copyWith(dataset, `${name}_via_binary`, false);
      const text = await copyWith(dataset, `${name}_via_text`, true);
      expect(binary.plan.binary).not.toBeNull();
      expect(binary.result.written).toBeGreaterThan(0);
      // The image sample holds dirty rows: tags and URLs to clean, through both paths alike.
      if (name === "image") expect(Object.keys(binary.result.cleaned).length).toBeGreaterThan(0);
      expect(binary.result).toEqual(text.result);
      expect(binary.failures).toEqual(text.failures);
      const fromBinary = await dump(`${name}_via_binary`, dataset.table.key);
      expect(fromBinary.length).toBe(binary.result.written);
      expect(fromBinary).toEqual(await dump(`${name}_via_text`, dataset.table.key));
    });
  }

  test("on awkward values of every portable type", async () => {
    const dataset = oddDataset();
    const binary = await copyWith(dataset, "odd_via_binary", false);
    const text = await copyWith(dataset, "odd_via_text", true);
    expect(binary.plan.binary).not.toBeNull();
    expect(binary.result).toEqual(text.result);
    expect(binary.result).toMatchObject({ read: 9, written: 8, failed: { null_key: 1 } });
    expect(binary.result.cleaned).toEqual({
      tags_denylisted: 2,
      tags_low_accuracy: 1,
      tags_not_a_list: 2,
      url_scheme_link: 4,
    });
    expect(binary.failures).toEqual(["null_key null"]);
    const fromBinary = await dump("odd_via_binary", "id");
    expect(fromBinary).toEqual(await dump("odd_via_text", "id"));
    const [row1] = await t.api`select t, tags, link, n::text, d::text, ts::text from odd_via_binary where id = 1`;
    expect(row1).toEqual({
      t: "tab\there\nnewline \\ backslash é😀",
      tags: [{ name: "cat", accuracy: 0.95 }],
      link: "https://example.org/a b",
      n: "123456789012345.678",
      d: "NaN",
      ts: "infinity",
    });
  });

  test("a column whose type differs upstream, another server major or a SQL_ASCII upstream send the rows as text", async () => {
    const dataset = resolveDataset("odd", {
      source: { kind: "postgres", table: "odd" },
      table: { key: "id", columns: { id: "bigint", t: "text", v: "text" } },
      index: { alias: "odd" },
    });
    const columns = stagingColumns(dataset, await upstreamColumnTypes(t.upstream as never, { kind: "postgres", table: "odd" } as never));
    expect(planRows(dataset, columns).binary).toBeNull();
    expect(copyFormat(planRows(dataset, columns), { checkUtf8: false, binaryAllowed: true })).toBe("text");
    const same = resolveDataset("odd", {
      source: { kind: "postgres", table: "odd" },
      table: { key: "id", columns: { id: "int8", t: "text", v: "varchar(20)" } },
      index: { alias: "odd" },
    });
    const samePlan = planRows(same, stagingColumns(same, await upstreamColumnTypes(t.upstream as never, { kind: "postgres", table: "odd" } as never)));
    expect(samePlan.binary).not.toBeNull();
    expect(copyFormat(samePlan, { checkUtf8: false, binaryAllowed: true })).toBe("binary");
    // Servers of different major versions, or a SQL_ASCII upstream whose bytes need checking: text.
    expect(copyFormat(samePlan, { checkUtf8: false, binaryAllowed: false })).toBe("text");
    expect(copyFormat(samePlan, { checkUtf8: true, binaryAllowed: true })).toBe("text");
  });
});
