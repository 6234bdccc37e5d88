/**
 * A COPY TO that the server fails on its first row sends its error in the same read as the COPY's
 * start, so postgres.js destroys the stream before the caller's `await` resumes to listen. Such an
 * error must reach the reader (refresh's forEachChunk, the index stage's `for await`), not be thrown
 * unhandled (which ended the process: the job left running, its lock held) nor be lost (a reader
 * then waiting forever). Each case runs many times: the race hit about one COPY in three.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Readable } from "node:stream";
import { forEachChunk } from "../src/stages/refresh/copy-pipe.ts";
import { createTestEnvironment, type TestEnvironment } from "./support/harness.ts";

let t: TestEnvironment;

beforeAll(async () => {
  t = await createTestEnvironment("copyerr");
});

afterAll(async () => {
  await t.drop();
});

const FAILS_ON_FIRST_ROW = "COPY (SELECT 1 / (g - 1) FROM generate_series(1, 3) g) TO STDOUT";
const TRIES = 25;

test("refresh's reader gets the error of a COPY that fails on its first row", async () => {
  for (let i = 0; i < TRIES; i++) {
    const readable = (await t.api.unsafe(FAILS_ON_FIRST_ROW).readable()) as Readable;
    await expect(forEachChunk(readable, () => undefined)).rejects.toThrow("division by zero");
  }
  // The connection is still good afterwards.
  expect((await t.api`select 1 as one`)[0]!.one).toBe(1);
}, 30_000);

test("the index stage's reader (for await) gets the error of a COPY that fails on its first row", async () => {
  for (let i = 0; i < TRIES; i++) {
    const readable = (await t.api.unsafe(FAILS_ON_FIRST_ROW).readable()) as Readable;
    const read = async () => {
      for await (const _ of readable);
    };
    await expect(read()).rejects.toThrow("division by zero");
  }
}, 30_000);
