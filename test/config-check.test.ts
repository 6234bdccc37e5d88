/**
 * Issue 9 point 2, strict configuration, against the real Postgres and Elasticsearch:
 * `sluice config check` (validate, reach every source, print as resolved), syntax errors with
 * line and column, unknown keys through the command line, `sluice config schema`, and
 * `sluice init` whose declarations make `tsc` check a user's config with no node_modules.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DECLARATIONS_FILE, generateDeclarations } from "../scripts/sluice-types.ts";
import { createTestEnvironment, spawnSluice, type TestEnvironment } from "./support/harness.ts";

const repo = new URL("../", import.meta.url).pathname;

let t: TestEnvironment;
let dir: string;
let registry: ReturnType<typeof Bun.serve>;
let registryRequests = 0;

/** Writes a config file with these datasets (as TypeScript source) and returns its path. */
async function writeConfig(name: string, datasets: string): Promise<string> {
  const path = join(dir, `${name}.config.ts`);
  await Bun.write(path, `import { defineConfig } from "sluice";\n\nexport default defineConfig({\n  datasets: {\n${datasets}\n  },\n});\n`);
  return path;
}

const photos = `    photos: {
      source: { kind: "postgres", table: "public.photos", removedColumn: "deleted" },
      table: { key: "id", indexes: ["CREATE UNIQUE INDEX ON {table} (url)"], deletedTable: "moderated_photos" },
      index: { alias: "photos", toDocument: (row) => ({ id: String(row.id), url: row.url }), concurrency: 2 },
      refresh: { maxFailures: 3 },
    },`;

async function run(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawnSluice(args, { ...t.childEnv(), ...env });
  const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  t = await createTestEnvironment("configcheck");
  dir = mkdtempSync(join(tmpdir(), "sluice-config-"));
  await t.upstream.unsafe("CREATE TABLE public.photos (id integer PRIMARY KEY, url text, title text, deleted boolean)");
  await t.api.unsafe("CREATE TABLE public.moderated_photos (id integer)");
  registry = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch() {
      registryRequests++;
      return Response.json({ success: true, result: { count: 7, results: [] } });
    },
  });
});

afterAll(async () => {
  registry.stop(true);
  rmSync(dir, { recursive: true, force: true });
  await t.drop();
}, 60_000);

describe("sluice config check", () => {
  test("a good config: exit 0, every dataset as resolved, every source reached once", async () => {
    const docs = `    docs: { source: { kind: "registry", url: "http://127.0.0.1:${registry.port}/api" }, table: { key: "id" }, index: false },`;
    const config = await writeConfig("good", `${photos}\n${docs}`);
    const text = await t.sluice("config", "check", "--config", config);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`photos  (${config})`);
    expect(text.stdout).toMatch(/index\.alias +sluice-t-configcheck-\w+-photos/);
    expect(text.stdout).toMatch(/index\.concurrency +2/);
    expect(text.stdout).toMatch(/refresh\.maxFailedFraction +0\.01/);
    expect(text.stdout).toContain("ok      source: upstream table public.photos in UPSTREAM_DATABASE_URL");
    expect(text.stdout).toContain("ok      deleted table: moderated_photos exists in DATABASE_URL");
    expect(text.stdout).toContain("ok      elasticsearch: ELASTICSEARCH_URL");
    expect(text.stdout).toContain("registry http://127.0.0.1");
    // Built-in datasets a config of its own does not use are not checked.
    expect(text.stdout).not.toContain("image  (built-in)");

    registryRequests = 0;
    const json = await t.sluice("config", "check", "--config", config, "--json");
    expect(json.code).toBe(0);
    expect(registryRequests).toBe(1);
    const report = JSON.parse(json.stdout);
    expect(report.ok).toBe(true);
    expect(report.datasets.map((d: { name: string }) => d.name)).toEqual(["photos", "docs"]);
    expect(report.datasets[0].resolved.refresh).toEqual({ maxFailures: 3, maxFailedFraction: 0.01 });
    expect(report.datasets[0].resolved.index.toDocument).toBe("function toDocument");
    expect(report.datasets[1].resolved.payload.format).toBe("xml");
  });

  test("builtinDataset: a config builds its own dataset from a built-in one, which stays as it was", async () => {
    const path = join(dir, "extended.config.ts");
    await Bun.write(
      path,
      `import { builtinDataset, defineConfig } from "sluice";
const image = builtinDataset("image");
const { filtered: _twin, ...index } = image.index as Record<string, unknown>;
// A copy: changing it leaves the built-in alone.
builtinDataset("audio").index = false;
export default defineConfig({ datasets: { image: { ...image, index: { ...index, concurrency: 2 } } } });
`,
    );
    const extended = JSON.parse((await t.sluice("config", "check", "image", "--config", path, "--json")).stdout);
    const builtin = JSON.parse((await t.sluice("config", "check", "image", "--json")).stdout);
    const audio = JSON.parse((await t.sluice("config", "check", "audio", "--config", path, "--json")).stdout);
    expect(extended.datasets[0].origin).toBe(path);
    expect(extended.datasets[0].resolved.index.concurrency).toBe(2);
    expect(extended.datasets[0].resolved.index.filtered).toBeNull();
    expect(extended.datasets[0].resolved.index.toDocument).toBe(builtin.datasets[0].resolved.index.toDocument);
    expect(extended.datasets[0].resolved.table).toEqual(builtin.datasets[0].resolved.table);
    expect(builtin.datasets[0].resolved.index.concurrency).not.toBe(2);
    expect(builtin.datasets[0].resolved.index.filtered).not.toBeNull();
    expect(audio.datasets[0].resolved.index).not.toBe(false);

    await Bun.write(path, `import { builtinDataset } from "sluice";\nexport default { datasets: { photo: builtinDataset("photo") } };\n`);
    const unknown = await run({}, "config", "check", "--config", path);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('builtinDataset("photo"): there is no built-in dataset of that name (built-in: audio, iati, image)');
  });

  test("a named built-in dataset is checked alone", async () => {
    const { code, stdout } = await t.sluice("config", "check", "iati", "--json");
    const report = JSON.parse(stdout);
    expect(report.datasets.map((d: { name: string }) => d.name)).toEqual(["iati"]);
    // The registry at IATI_REGISTRY_URL (unset here: the public one, unreachable in tests or not) decides.
    expect(code).toBe(report.ok ? 0 : 1);
  });

  test("an unreachable Elasticsearch: exit 1 naming ELASTICSEARCH_URL, password masked", async () => {
    const config = await writeConfig("es", photos);
    const { code, stdout, stderr } = await run({ ELASTICSEARCH_URL: "http://elastic:hunter2secret@127.0.0.1:1" }, "config", "check", "--config", config);
    expect(code).toBe(1);
    expect(stdout).toContain("FAILED  elasticsearch: cannot reach ELASTICSEARCH_URL (http://elastic:***@127.0.0.1:1/)");
    expect(stderr).toContain("config check failed: cannot reach ELASTICSEARCH_URL (http://elastic:***@127.0.0.1:1/)");
    expect(stdout + stderr).not.toContain("hunter2secret");
    // The source was still checked.
    expect(stdout).toContain("ok      source: upstream table");
  });

  test("a missing upstream table: exit 1 naming it", async () => {
    const config = await writeConfig("missing", photos.replace("public.photos", "public.fotos"));
    const { code, stdout, stderr } = await run({}, "config", "check", "--config", config);
    expect(code).toBe(1);
    expect(stdout).toContain("FAILED  source: upstream table public.fotos does not exist in UPSTREAM_DATABASE_URL");
    expect(stderr).toContain("upstream table public.fotos does not exist");
  });

  test("a sync source is pinged: a file source whose files are missing fails, naming the path; one that exists passes", async () => {
    const present = join(dir, "books.csv");
    await Bun.write(present, "id,title\n1,Dune\n");
    const missing = join(dir, "nowhere", "*.csv");
    const config = await writeConfig(
      "syncsources",
      `    books: { source: { kind: "postgres", table: "photos" }, table: { key: "id" }, sync: { source: { kind: "file", path: ${JSON.stringify(present)} } } },
    lost: { source: { kind: "postgres", table: "photos" }, table: { key: "id" }, sync: { source: { kind: "file", path: ${JSON.stringify(missing)} } } },`,
    );
    const { code, stdout } = await t.sluice("config", "check", "--config", config);
    expect(code).toBe(1);
    expect(stdout).toContain(`ok      sync source: file source ${present} answers ping()`);
    expect(stdout).toMatch(/FAILED  sync source: .*no file matches .*nowhere/);
  });

  test("a key column the upstream table lacks, and a failing query: exit 1", async () => {
    const config = await writeConfig(
      "columns",
      `    a: { source: { kind: "postgres", table: "photos" }, table: { key: "identifier" } },
    b: { source: { kind: "postgres", query: "SELECT id, nope FROM photos" }, table: { key: "id", columns: { id: "integer" } } },`,
    );
    const { code, stdout } = await t.sluice("config", "check", "--config", config);
    expect(code).toBe(1);
    expect(stdout).toContain("upstream table photos has no column identifier (table.key of dataset a)");
    expect(stdout).toContain('the upstream query of dataset b fails in UPSTREAM_DATABASE_URL');
    expect(stdout).toContain('column "nope" does not exist');
  });

  test("index.columns naming a column the staging table will lack: exit 1 naming it, for a table and for a query", async () => {
    const config = await writeConfig(
      "indexcolumns",
      `    a: { source: { kind: "postgres", table: "photos" }, table: { key: "id" }, index: { columns: ["url", "titel"] } },
    b: { source: { kind: "postgres", query: "SELECT id, url FROM photos" }, table: { key: "id", columns: { id: "integer", url: "text" } }, index: { columns: ["title"] } },
    c: { source: { kind: "postgres", table: "photos" }, table: { key: "id" }, index: { columns: ["url", "title"] } },`,
    );
    const { code, stdout } = await t.sluice("config", "check", "--config", config);
    expect(code).toBe(1);
    expect(stdout).toContain("index.columns of dataset a names titel, which the staging table (the columns of upstream table photos) lacks");
    expect(stdout).toContain("index.columns of dataset b names title, which the staging table (table.columns) lacks");
    expect(stdout).not.toContain("index.columns of dataset c");
  });

  test("index.jsonKeys naming a column that is not json, or not read: refused naming it, by the schema or against the upstream columns", async () => {
    const toDocument = "toDocument: (row) => ({ id: String(row.id) })";
    const query = `source: { kind: "postgres", query: "SELECT id, '{}'::jsonb AS meta FROM photos" }, table: { key: "id", columns: { id: "integer", meta: "jsonb" } }`;
    const a = `    a: { source: { kind: "postgres", table: "photos" }, table: { key: "id" }, index: { ${toDocument}, jsonKeys: { title: ["en"] } } },\n`;
    const b = `    b: { ${query}, index: { ${toDocument}, columns: ["id"], jsonKeys: { meta: ["a"] } } },\n`;
    const c = `    c: { ${query}, index: { ${toDocument}, jsonKeys: { meta: ["a"] } } },`;
    // b names meta in jsonKeys but not in index.columns: the schema refuses it before anything is contacted.
    const refused = await run({}, "config", "check", "--config", await writeConfig("jsonkeys", a + b + c));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("datasets.b.index.jsonKeys.meta is not one of index.columns: add it there, or leave it out here");
    expect(refused.stdout).toBe("");
    const checked = await t.sluice("config", "check", "--config", await writeConfig("jsonkeys2", a + c));
    expect(checked.code).toBe(1);
    expect(checked.stdout).toContain("index.jsonKeys of dataset a names title, a text column of the staging table (the columns of upstream table photos): only json and jsonb columns have keys");
    expect(checked.stdout).not.toContain("index.jsonKeys of dataset c");
  });

  test("an unknown key: exit 2 naming the path and the closest key, nothing contacted", async () => {
    const config = await writeConfig("unknown", photos.replace("refresh: { maxFailures: 3 }", "swap: { maxShrinkage: 0.2 }"));
    const { code, stdout, stderr } = await run({ ELASTICSEARCH_URL: "http://127.0.0.1:1" }, "config", "check", "--config", config);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toContain(`${config}: datasets.photos.swap.maxShrinkage is not a known key; did you mean maxShrink?`);
  });

  test("a value of the wrong type: exit 2 naming the expected type", async () => {
    const config = await writeConfig("type", photos.replace("concurrency: 2", 'concurrency: "3"'));
    const { code, stderr } = await run({}, "status", "--config", config);
    expect(code).toBe(2);
    expect(stderr).toContain(`${config}: datasets.photos.index.concurrency must be a whole number ≥ 1, got "3"`);
  });

  test("a syntax error: exit 2 naming file, line and column", async () => {
    const config = await writeConfig("syntax", photos.replace('kind: "postgres", table', 'kind: "postgres" table'));
    const { code, stderr } = await run({}, "config", "check", "--config", config);
    expect(code).toBe(2);
    // Line 6, column 34: the first key after the missing comma.
    expect(stderr).toContain(`${config}:6:34: Expected "}" but found "table" (fix the syntax error there)`);
    expect(stderr).not.toContain("unexpected error");
  });

  test("an error thrown while the config runs: exit 2 naming the line", async () => {
    const path = join(dir, "throws.config.ts");
    await Bun.write(path, 'import { defineConfig } from "sluice";\nconst rows = undefined as unknown as string[];\nexport default defineConfig({ datasets: Object.fromEntries(rows.map((r) => [r, {}])) });\n');
    const { code, stderr } = await run({}, "config", "check", "--config", path);
    expect(code).toBe(2);
    expect(stderr).toMatch(new RegExp(`config file ${path}:3:\\d+ could not be loaded: .*undefined`));
  });

  test("config schema prints a strict JSON Schema", async () => {
    const { code, stdout } = await t.sluice("config", "schema");
    expect(code).toBe(0);
    const schema = JSON.parse(stdout);
    expect(schema.$schema).toContain("json-schema.org");
    const dataset = schema.properties.datasets.additionalProperties;
    expect(dataset.required).toEqual(["source", "table"]);
    expect(dataset.properties.swap.additionalProperties).toBe(false);
    expect(Object.keys(dataset.properties.swap.properties)).toEqual(["maxShrink", "keep", "diffBy", "checks", "replicaWaitSeconds"]);
  });
});

describe("sluice init", () => {
  const tsc = (project: string) => Bun.spawnSync([join(repo, "node_modules/.bin/tsc"), "--noEmit", "-p", project], { stdout: "pipe", stderr: "pipe" });

  test("writes a starter config that passes the schema and tsc, and tsc catches a misspelled key", async () => {
    const project = mkdtempSync(join(tmpdir(), "sluice-init-"));
    try {
      const init = await t.sluice("init", "--dir", project);
      expect(init.code).toBe(0);
      expect(init.stdout).toContain("wrote sluice.config.ts");
      expect(init.stdout).toContain("wrote sluice-env.d.ts");
      expect(init.stdout).toContain("wrote tsconfig.json");
      const good = tsc(project);
      expect(good.stdout.toString()).toBe("");
      expect(good.exitCode).toBe(0);

      // The starter passes the schema, and its source (public.photos) exists in this test's upstream.
      const check = await t.sluice("config", "check", "--config", join(project, "sluice.config.ts"), "--json");
      expect(check.code).toBe(0);
      expect(JSON.parse(check.stdout).datasets[0].name).toBe("photos");

      const config = join(project, "sluice.config.ts");
      await Bun.write(config, readFileSync(config, "utf8").replace("maxShrink: 0.1", "maxShrinkage: 0.1"));
      const bad = tsc(project);
      expect(bad.exitCode).not.toBe(0);
      expect(bad.stdout.toString()).toContain("'maxShrinkage' does not exist in type 'SwapConfig'");
      await Bun.write(config, readFileSync(config, "utf8").replace("maxShrinkage: 0.1", "maxShrink: 0.1").replace("maxFailures: 0", 'maxFailures: "0"'));
      expect(tsc(project).stdout.toString()).toContain("Type 'string' is not assignable to type 'number'");

      // Nothing is overwritten without --force; --types rewrites only the declarations.
      const again = await run({}, "init", "--dir", project);
      expect(again.code).toBe(2);
      expect(again.stderr).toContain("sluice.config.ts and sluice-env.d.ts already exist");
      expect(readFileSync(config, "utf8")).toContain('maxFailures: "0"');
      const types = await t.sluice("init", "--dir", project, "--types");
      expect(types.stdout).toBe("wrote sluice-env.d.ts\n");
      expect(readFileSync(config, "utf8")).toContain('maxFailures: "0"');
      const forced = await t.sluice("init", "--dir", project, "--force");
      expect(forced.code).toBe(0);
      expect(forced.stdout).toContain("kept your tsconfig.json");
      expect(readFileSync(config, "utf8")).not.toContain('maxFailures: "0"');
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  }, 120_000);

  test("the declarations init writes are those src/public.ts gives today", () => {
    expect(readFileSync(DECLARATIONS_FILE, "utf8")).toBe(generateDeclarations());
  }, 60_000);
});
