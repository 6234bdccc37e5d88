/**
 * The index stage's reader gives each row exactly as PostgreSQL's row_to_json would, for every
 * kind of column a dataset may have, including the awkward values.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { checkStagingColumns, stagingDocuments, stagingRows } from "../src/stages/index/staging-rows.ts";
import { createTestEnvironment, type TestEnvironment } from "./support/harness.ts";

let t: TestEnvironment;

beforeAll(async () => {
  t = await createTestEnvironment("rows");
  await t.api.unsafe(`
    CREATE TYPE mood AS ENUM ('sad', 'happy');
    CREATE DOMAIN short_text AS varchar(10);
    CREATE TABLE every_type (
      id uuid, title varchar(200), padded char(5), body text, small smallint, n integer, big bigint,
      r real, d double precision, money_ish numeric(12,2), free numeric, ok boolean, doc json, tags jsonb,
      at timestamptz, naive timestamp, day date, t time, span interval, names text[], ints integer[],
      feeling mood, code short_text, raw bytea, addr inet
    );
    INSERT INTO every_type VALUES
      ('6f1c2b9e-0000-4000-8000-000000000001', E'tab\\there, new\\nline, back\\\\slash, "quotes", café ✓ 😀', 'ab', '', 1, -2147483648,
       9007199254740993, 1.1, -0.0, 12.5, 'NaN', true, '{"a": [1, 2.50, "x\\\\y"]}', '[{"name": "cat", "accuracy": 0.95}]',
       '2020-02-29 23:59:59.123456+00', '1999-12-31 00:00:00', '2021-01-01', '12:34:56', '1 day 2 hours',
       ARRAY['a', 'b,c', NULL, 'd"e'], ARRAY[1, 2], 'happy', 'short', '\\x00ff', '192.168.0.1/24'),
      ('6f1c2b9e-0000-4000-8000-000000000002', NULL, NULL, NULL, NULL, NULL, NULL, 'Infinity', '-Infinity', NULL, '1e-20',
       false, 'null', '{}', NULL, NULL, NULL, NULL, NULL, '{}', NULL, NULL, NULL, NULL, NULL);`);
});

afterAll(async () => {
  await t.drop();
});

test("each row equals row_to_json of the same row", async () => {
  const expected = (await t.api.unsafe("SELECT row_to_json(e)::text AS j FROM every_type e ORDER BY id")).map((r) => JSON.parse(r.j as string));
  const read: Record<string, unknown>[] = [];
  for await (const batch of stagingRows(t.api, t.apiUrl, "every_type", new AbortController().signal, { key: "id" })) read.push(...batch);
  read.sort((a, b) => String(a.id).localeCompare(String(b.id)));
  expect(read).toHaveLength(2);
  expect(read).toEqual(expected);
  // Spot checks that the comparison is not vacuous.
  expect(read[0]!.title).toBe('tab\there, new\nline, back\\slash, "quotes", café ✓ 😀');
  expect(read[0]!.names).toEqual(["a", "b,c", null, 'd"e']);
  expect(read[1]!.r).toBe("Infinity");
});

// Many rows of multi-byte text, so that COPY's chunks end inside characters and inside rows.
test("many rows read from COPY text are exactly row_to_json's, across chunk boundaries cut inside characters", async () => {
  await t.api.unsafe(`
    create table things (id int, title text, tags jsonb, created_on timestamptz, kind text[], note jsonb);
    insert into things select i, repeat('é☃𝄞', i % 7) || E'\\ttab\\nline\\\\' || i, jsonb_build_array(jsonb_build_object('name', 'n"' || i)),
      timestamptz '2020-01-01 00:00:00+00' + i * interval '1 minute', array['a', null, 'c' || i], to_jsonb('q"' || i)
    from generate_series(1, 20000) i;
  `);
  const expected = (await t.api.unsafe(`select row_to_json(e)::text as j from things e order by id`)).map((r) => JSON.parse(r.j as string));
  const read: Record<string, unknown>[] = [];
  for await (const batch of stagingRows(t.api, t.apiUrl, "things", new AbortController().signal, { key: "id" })) read.push(...batch);
  read.sort((a, b) => (a.id as number) - (b.id as number));
  expect(read.length).toBe(20000);
  expect(read).toEqual(expected);
});

// A projection dataset's documents (no toDocument) are built as JSON text without a row object.
test("a projection's documents, parsed, are row_to_json's rows plus their id, one line each, json line breaks included", async () => {
  await t.api.unsafe(`
    create table spaced (k bigint, doc json, at timestamptz, id text);
    insert into spaced values (9007199254740993, E'{\n  "a": [1,\r\n 2],\n  "b": "x\\\\ny"\n}', '2020-01-01 00:00:00+00', 'replaced'), (2, 'null', null, null);`);
  for (const [table, key] of [["every_type", "id"], ["things", "id"], ["spaced", "k"]] as const) {
    const expected = (await t.api.unsafe(`select row_to_json(e)::text as j from ${table} e`)).map((r) => {
      const row = JSON.parse(r.j as string);
      return { ...row, id: String(row[key]) };
    });
    const read: { id: string; json: string }[] = [];
    const utf8 = new TextDecoder();
    for await (const batch of stagingDocuments(t.api, t.apiUrl, table, new AbortController().signal, { key })) read.push(...batch.map((d) => ({ id: d.id, json: utf8.decode(d.json) })));
    expect(read.length).toBe(expected.length);
    expect(read.every((d) => !/[\n\r]/.test(d.json))).toBe(true);
    const parsed = read.map((d) => JSON.parse(d.json));
    const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    expect(parsed.sort(byId)).toEqual(expected.sort(byId));
    expect(read.map((d) => d.id).sort()).toEqual(expected.map((d) => d.id).sort());
  }
});

const backends = async () => Number((await t.api`select count(*)::int as n from pg_stat_activity where datname = current_database()`)[0]!.n);

/**
 * The backends of the test database once their count is `expected`, or after 10 s. A backend leaves
 * pg_stat_activity a moment after its client's Terminate; on a loaded host that takes longer than
 * any fixed sleep, and a leaked connection never leaves.
 */
async function backendsOnceSettled(expected: number): Promise<number> {
  let count = await backends();
  for (const deadline = Date.now() + 10_000; count !== expected && Date.now() < deadline; count = await backends()) await Bun.sleep(50);
  return count;
}

test("a staging table without the key column is refused in one line naming the table and the column, with its connection closed", async () => {
  const before = await backends();
  const read = async () => {
    for await (const _ of stagingDocuments(t.api, t.apiUrl, "things", new AbortController().signal, { key: "nope" }));
  };
  await expect(read()).rejects.toThrow("reading the staging table things failed: the key column nope is not among the table's columns");
  expect(await backendsOnceSettled(before)).toBe(before);
});

// index.columns: what is copied out of PostgreSQL, checked against the table before anything is read.
test("index.columns reads only the named columns and the key, for rows and for projections", async () => {
  const rows: Record<string, unknown>[] = [];
  for await (const batch of stagingRows(t.api, t.apiUrl, "things", new AbortController().signal, { key: "id", columns: ["title", "tags"] })) rows.push(...batch);
  const expected = (await t.api.unsafe(`select row_to_json(e)::text as j from (select id, title, tags from things) e`)).map((r) => JSON.parse(r.j as string));
  const byId = (a: Record<string, unknown>, b: Record<string, unknown>) => (a.id as number) - (b.id as number);
  expect(rows.sort(byId)).toEqual(expected.sort(byId));
  expect(Object.keys(rows[0]!)).toEqual(["id", "title", "tags"]);
  const documents: Record<string, unknown>[] = [];
  const utf8 = new TextDecoder();
  for await (const batch of stagingDocuments(t.api, t.apiUrl, "things", new AbortController().signal, { key: "id", columns: ["note"] })) documents.push(...batch.map((d) => JSON.parse(utf8.decode(d.json))));
  expect(documents).toHaveLength(20000);
  expect(Object.keys(documents[0]!).sort()).toEqual(["id", "note"]);
});

test("index.columns naming a column the table lacks is refused in one line naming it and the table's columns, with its connection closed", async () => {
  const before = await backends();
  const read = async () => {
    for await (const _ of stagingRows(t.api, t.apiUrl, "things", new AbortController().signal, { key: "id", columns: ["title", "titel"] }));
  };
  const error = await read().catch((e: Error & { hint?: string }) => e);
  expect((error as Error).message).toBe("index.columns names titel, which the staging table things lacks");
  expect((error as { hint?: string }).hint).toContain("(id, title, tags, created_on, kind, note)");
  expect(await backendsOnceSettled(before)).toBe(before);
});

// index.jsonKeys: the server sends only some keys of a json column; the row holds those the value has.
test("index.jsonKeys reads of json and jsonb columns only the keys named, a key present as null kept, other values whole", async () => {
  await t.api.unsafe(`
    create table metas (id int, meta jsonb, raw json, other text);
    insert into metas values
      (1, '{"license_url": "https://l", "description": "tab\\there \\"q\\" é", "views": 9, "authority_boost": null}', '{"a": [1, {"b": 2}], "z": 1}', 'x'),
      (2, '{"views": 1}', '{}', 'y'),
      (3, '[1, "license_url"]', '"text"', null),
      (4, null, 'null', null),
      (5, '"scalar"', '{"a": null}', null),
      (6, '{"it''s": 1, "__proto__": {"polluted": true}}', '[]', null);`);
  const keys = { meta: ["license_url", "description", "authority_boost", "it's", "__proto__"], raw: ["a"] };
  const rows: Record<string, unknown>[] = [];
  for await (const batch of stagingRows(t.api, t.apiUrl, "metas", new AbortController().signal, { key: "id", jsonKeys: keys })) rows.push(...batch);
  const narrow = (value: unknown, names: string[]) =>
    typeof value === "object" && value !== null && !Array.isArray(value) ? Object.fromEntries(Object.entries(value).filter(([k]) => names.includes(k))) : value;
  const expected = (await t.api.unsafe(`select row_to_json(e)::text as j from metas e`)).map((r) => {
    const row = JSON.parse(r.j as string);
    return { ...row, meta: narrow(row.meta, keys.meta), raw: narrow(row.raw, keys.raw) };
  });
  const byId = (a: Record<string, unknown>, b: Record<string, unknown>) => (a.id as number) - (b.id as number);
  expect(rows.sort(byId)).toEqual(expected.sort(byId));
  // Not vacuous: keys were dropped, a null kept, the rest whole.
  expect(rows[0]!.meta).toEqual({ license_url: "https://l", description: 'tab\there "q" é', authority_boost: null });
  expect(rows[1]!.meta).toEqual({});
  expect(rows[2]!.meta).toEqual([1, "license_url"]);
  expect(rows[0]!.raw).toEqual({ a: [1, { b: 2 }] });
  expect(Object.hasOwn(rows[5]!.meta as object, "__proto__")).toBe(true);
  expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  // Through the mature join's subquery too.
  const joined: Record<string, unknown>[] = [];
  await t.api.unsafe(`create table mature_metas (id int); insert into mature_metas values (2);`);
  for await (const batch of stagingRows(t.api, t.apiUrl, "metas", new AbortController().signal, { key: "id", jsonKeys: keys, mature: { table: "mature_metas", key: "id" } })) joined.push(...batch);
  expect(joined.sort(byId).map(({ mature, ...row }) => row)).toEqual(rows);
  expect(joined.map((r) => r.mature)).toEqual([false, true, false, false, false, false]);
});

test("index.jsonKeys naming a column that is not json is refused in one line before anything is read", async () => {
  await expect(checkStagingColumns(t.api, "metas", null, { other: ["a"] })).rejects.toThrow("index.jsonKeys names other, a text column of the staging table metas: only json and jsonb columns have keys");
  await expect(checkStagingColumns(t.api, "metas", ["meta"], { raw: ["a"] })).rejects.toThrow("index.jsonKeys names raw, which is not among the columns read of the staging table metas");
  await checkStagingColumns(t.api, "metas", ["meta", "raw"], { raw: ["a"] });
});
