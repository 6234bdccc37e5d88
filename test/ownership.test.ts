/**
 * Issue 9, point 3: sluice deletes, replaces or unaliases only indices it created for this API
 * database and this dataset. Two API databases, A and B, share one cluster AND one index prefix
 * (A's), as staging and production might by mistake; indices made by hand sit at the names the
 * next generation will use. The tests run in order: each starts from the state the last one left.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { aliasIndices, createTestEnvironment, elasticsearchUrl, searchCount, spawnSluice, type TestEnvironment } from "./support/harness.ts";
import { lastJob, loadOpenverseSample } from "./support/openverse.ts";

const LIVE_ROWS = 1374;

// Each test runs sluice end to end on a shared machine; bunfig's timeout is not applied to hooks.
setDefaultTimeout(120_000);

let a: TestEnvironment;
let b: TestEnvironment;
/** The prefix both databases use in the shared-prefix tests: A's. */
let prefix: string;
beforeAll(async () => {
  a = await createTestEnvironment("own_a");
  b = await createTestEnvironment("own_b");
  prefix = a.indexPrefix;
  await loadOpenverseSample(a, ["image"]);
  await loadOpenverseSample(b, ["image"]);
  expect((await a.sluice("migrate", "up")).code).toBe(0);
  expect((await b.sluice("migrate", "up")).code).toBe(0);
});
afterAll(async () => {
  await a?.drop();
  await b?.drop();
}, 180_000);

/** B's sluice, with A's index prefix. */
function bSharingPrefix(...args: string[]) {
  return b.sluiceWith({ SLUICE_INDEX_PREFIX: prefix }, ...args);
}

async function identity(t: TestEnvironment): Promise<string> {
  const [row] = await t.api`select id::text as id from sluice.database_identity`;
  return row!.id;
}

async function markOf(index: string): Promise<unknown> {
  const res = await fetch(`${elasticsearchUrl}/${index}/_mapping`);
  if (!res.ok) return null;
  const body = (await res.json()) as Record<string, { mappings: { _meta?: { sluice?: unknown } } }>;
  return Object.values(body)[0]?.mappings._meta?.sluice ?? null;
}

/** Creates an index outside sluice, with `docs` documents and, if given, a mark. */
async function handMadeIndex(index: string, docs: number, meta?: unknown): Promise<void> {
  const created = await fetch(`${elasticsearchUrl}/${index}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ settings: { number_of_shards: 1, number_of_replicas: 0 }, mappings: meta ? { _meta: meta } : {} }),
  });
  expect(created.status).toBe(200);
  for (let i = 0; i < docs; i++) {
    const put = await fetch(`${elasticsearchUrl}/${index}/_doc/hand-${i}?refresh=true`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ title: `made by hand ${i}` }),
    });
    expect(put.status).toBe(201);
  }
}

/** A's live generation, as the alias, the index and the table show it. */
async function expectALive(generation: number): Promise<void> {
  expect(await aliasIndices(`${prefix}image`)).toEqual([`${prefix}image-g${generation}`]);
  expect(await searchCount(`${prefix}image`)).toBe(LIVE_ROWS);
  expect(await markOf(`${prefix}image-g${generation}`)).toEqual({ database: await identity(a), dataset: "image", generation });
  const [live] = await a.api`select number from sluice.generations where dataset = 'image' and state = 'live'`;
  expect(live!.number).toBe(generation);
}

describe("two API databases under one prefix", () => {
  test("A's run marks its index with A's identity, the dataset and the generation", async () => {
    expect((await a.sluice("run", "image", "--rebuild")).code).toBe(0);
    await expectALive(1);
    expect(await identity(a)).not.toBe(await identity(b));
  });

  test("B's run refuses A's live index at the name it would build: one line, exit 1, A intact", async () => {
    const child = spawnSluice(["run", "image"], { ...b.childEnv(), SLUICE_INDEX_PREFIX: prefix, SLUICE_LOG_LEVEL: "error" });
    const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    expect(code).toBe(1);
    const line = `index ${prefix}image-g1 belongs to another API database (${(await identity(a)).slice(0, 8)}…); refusing to replace it (give each database its own SLUICE_INDEX_PREFIX)`;
    expect(stderr).toContain(line);
    expect(stderr.trim().split("\n").filter((l) => l.includes("belongs to another API database")).length).toBe(1);
    const run = await lastJob(b, "image", "run");
    expect(run.state).toBe("failed");
    expect(run.error).toBe(line);
    await expectALive(1);
  });

  test("B's swap refuses to take A's index off the shared alias; B deletes only the index it built", async () => {
    const run = await bSharingPrefix("run", "image");
    expect(run.code).toBe(1);
    const [gen] = await b.api`select number from sluice.generations where dataset = 'image' order by number desc limit 1`;
    expect(gen!.number).toBe(2);
    const swap = await lastJob(b, "image", "swap");
    expect(swap.state).toBe("failed");
    expect(swap.error).toContain(`cannot move alias ${prefix}image: index ${prefix}image-g1 belongs to another API database`);
    // B's own generation 2 was built, then deleted by B's rollback; A's generation 1 is untouched.
    expect((await lastJob(b, "image", "index")).state).toBe("succeeded");
    expect(await searchCount(`${prefix}image-g2`)).toBeNull();
    await expectALive(1);
  });
});

describe("indices sluice did not make for this database", () => {
  test("a failed run leaves another database's index at its generation's name alone", async () => {
    // A's next generation is 2; an index marked by B (as B's run would leave it) sits at that name.
    await handMadeIndex(`${prefix}image-g2`, 3, { sluice: { database: await identity(b), dataset: "image", generation: 2 } });
    // The run refreshes generation 2, then fails at that index (not A's) and rolls back.
    expect((await a.sluice("run", "image", "--rebuild")).code).toBe(1);
    expect((await lastJob(a, "image", "run")).generation).toBe(2);
    expect(await searchCount(`${prefix}image-g2`)).toBe(3);
    await expectALive(1);
  });

  test("an index made by hand with data at the next generation's name is refused by index and run, and kept", async () => {
    // A's next generation is 3.
    await handMadeIndex(`${prefix}image-g3`, 2);
    expect((await a.sluice("refresh", "image")).code).toBe(0);
    expect((await a.sluice("index", "image")).code).toBe(1);
    const index = await lastJob(a, "image", "index");
    expect(index.generation).toBe(3);
    expect(index.error).toStartWith(`index ${prefix}image-g3 carries no sluice mark`);
    expect(await searchCount(`${prefix}image-g3`)).toBe(2);
    // run resumes the refreshed generation 3, is refused the same way, and rolls back without it.
    expect((await a.sluice("run", "image", "--rebuild")).code).toBe(1);
    expect((await lastJob(a, "image", "run")).generation).toBe(3);
    expect(await searchCount(`${prefix}image-g3`)).toBe(2);
    expect(await markOf(`${prefix}image-g3`)).toBeNull();
    await expectALive(1);
  });

  test("the next run goes live; pruning deletes none of the indices that are not A's", async () => {
    expect((await a.sluice("run", "image", "--rebuild")).code).toBe(0);
    await expectALive(4);
    // Generations 2 and 3 were discarded and are pruned, but the indices at their names are not A's.
    const [pruned] = await a.api`select count(*)::int as n from sluice.generations where dataset = 'image' and number in (2, 3) and state = 'discarded'`;
    expect(pruned!.n).toBe(2);
    expect(await searchCount(`${prefix}image-g2`)).toBe(3);
    expect(await searchCount(`${prefix}image-g3`)).toBe(2);
    // Generation 1 is A's own, kept for rollback; rollback makes it live again.
    expect((await a.sluice("swap", "image", "--rollback")).code).toBe(0);
    await expectALive(1);
  });
});

describe("adopting an alias sluice did not make", () => {
  test("the first swap of a dataset in a database takes a hand-made index off the alias and keeps it", async () => {
    // B, under its own prefix, has never promoted image; its alias points at an index made by hand.
    await handMadeIndex(`${b.indexPrefix}image-before`, 2);
    const alias = await fetch(`${elasticsearchUrl}/_aliases`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ actions: [{ add: { index: `${b.indexPrefix}image-before`, alias: `${b.indexPrefix}image` } }] }),
    });
    expect(alias.status).toBe(200);
    expect((await b.sluice("run", "image")).code).toBe(0);
    const [live] = await b.api`select number from sluice.generations where dataset = 'image' and state = 'live'`;
    expect(await aliasIndices(`${b.indexPrefix}image`)).toEqual([`${b.indexPrefix}image-g${live!.number}`]);
    expect(await searchCount(`${b.indexPrefix}image-before`)).toBe(2);
  });

  test("once a generation is live, an index someone put behind the alias refuses the swap", async () => {
    await handMadeIndex(`${b.indexPrefix}image-sneaked`, 1);
    await fetch(`${elasticsearchUrl}/_aliases`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ actions: [{ add: { index: `${b.indexPrefix}image-sneaked`, alias: `${b.indexPrefix}image` } }] }),
    });
    const before = await aliasIndices(`${b.indexPrefix}image`);
    expect((await b.sluice("run", "image", "--rebuild")).code).toBe(1);
    expect((await lastJob(b, "image", "swap")).error).toStartWith(`cannot move alias ${b.indexPrefix}image: index ${b.indexPrefix}image-sneaked carries no sluice mark`);
    expect((await aliasIndices(`${b.indexPrefix}image`)).sort()).toEqual(before.sort());
    expect(await searchCount(`${b.indexPrefix}image-sneaked`)).toBe(1);
  });
});
