import { afterAll, beforeAll, expect, test } from "bun:test";
import { stagingRows } from "../src/stages/index/staging-rows.ts";
import { createTestEnvironment, type TestEnvironment } from "./support/harness.ts";

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment("staging_rows");
});
afterAll(async () => {
  await env.drop();
});

// Many rows of multi-byte text, so that COPY's chunks end inside characters and inside rows.
test("rows read from COPY text are exactly row_to_json's, across chunk boundaries cut inside characters", async () => {
  await env.api.unsafe(`
    create table things (id int, title text, tags jsonb, created_on timestamptz, kind text[], note jsonb);
    insert into things select i, repeat('é☃𝄞', i % 7) || E'\\ttab\\nline\\\\' || i, jsonb_build_array(jsonb_build_object('name', 'n"' || i)),
      timestamptz '2020-01-01 00:00:00+00' + i * interval '1 minute', array['a', null, 'c' || i], to_jsonb('q"' || i)
    from generate_series(1, 20000) i;
  `);
  const expected = (await env.api.unsafe(`select row_to_json(t) as row from things t order by id`)).map((r) => r.row as Record<string, unknown>);
  const read: Record<string, unknown>[] = [];
  for await (const batch of stagingRows(env.api, env.apiUrl, "things", new AbortController().signal)) read.push(...batch);
  read.sort((a, b) => (a.id as number) - (b.id as number));
  expect(read.length).toBe(20000);
  expect(read).toEqual(expected);
});
