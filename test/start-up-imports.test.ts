/**
 * Start-up memory of every command: libxml2-wasm (about 35 MB of heap, instantiated as it is
 * imported) is loaded only when IATI XML is read, not by reading the config or opening a run or a
 * sync; prom-client (~0.1 CPU-s) only when metrics are written or pushed. Checked in a fresh process: which modules importing the stages' entry points loads.
 */
import { expect, test } from "bun:test";

const root = new URL("../", import.meta.url).pathname;

function loadedAfterImporting(modules: string[]): string[] {
  const script = `${modules.map((m) => `await import(${JSON.stringify(m)});`).join(" ")} console.log(JSON.stringify(Object.keys(require.cache)));`;
  const child = Bun.spawnSync([process.execPath, "-e", script], { cwd: root, env: process.env });
  expect(child.exitCode).toBe(0);
  return JSON.parse(child.stdout.toString()) as string[];
}

test("the config, run's steps and sync leave libxml2-wasm unloaded", () => {
  const loaded = loadedAfterImporting(["./src/config/load.ts", "./src/stages/steps.ts", "./src/stages/sync/sync-stage.ts", "./src/stages/pipeline.ts"]);
  expect(loaded.some((path) => path.includes("/src/stages/sync/sync-stage.ts"))).toBe(true);
  expect(loaded.filter((path) => path.includes("libxml2-wasm"))).toEqual([]);
});

test("the index stage, scale-out and sync leave prom-client unloaded until metrics are asked for", () => {
  const loaded = loadedAfterImporting(["./src/stages/index/build-index.ts", "./src/stages/scale-out/index.ts", "./src/stages/sync/sync-stage.ts", "./src/stages/job-runner.ts"]);
  expect(loaded.some((path) => path.includes("/src/metrics/publish.ts"))).toBe(true);
  expect(loaded.filter((path) => path.includes("prom-client"))).toEqual([]);
});

test("reading IATI XML still loads it", () => {
  const loaded = loadedAfterImporting(["./src/datasets/iati/index.ts"]);
  expect(loaded.some((path) => path.includes("libxml2-wasm"))).toBe(true);
});
