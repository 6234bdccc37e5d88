#!/usr/bin/env bun
/** The sluice executable: `bun build --compile src/cli.ts` turns this into dist/sluice. */
import { defineCommand } from "citty";
import { reexecForStreaming } from "./cli/allocator.ts";
import { runCli } from "./cli/main.ts";
import { VERSION } from "./version.ts";

export const main = defineCommand({
  meta: { name: "sluice", version: VERSION, description: "Keep a search-backed API fed with fresh data" },
  subCommands: {
    migrate: () => import("../commands/migrate.ts").then((m) => m.default),
    refresh: () => import("../commands/refresh.ts").then((m) => m.default),
    reload: () => import("../commands/reload.ts").then((m) => m.default),
    validate: () => import("../commands/validate.ts").then((m) => m.default),
    index: () => import("../commands/index.ts").then((m) => m.default),
    swap: () => import("../commands/swap.ts").then((m) => m.default),
    run: () => import("../commands/run.ts").then((m) => m.default),
    diff: () => import("../commands/diff.ts").then((m) => m.default),
    ingest: () => import("../commands/ingest.ts").then((m) => m.default),
    sync: () => import("../commands/sync.ts").then((m) => m.default),
    job: () => import("../commands/job.ts").then((m) => m.default),
    publisher: () => import("../commands/publisher.ts").then((m) => m.default),
    status: () => import("../commands/status.ts").then((m) => m.default),
    failures: () => import("../commands/failures.ts").then((m) => m.default),
    config: () => import("../commands/config.ts").then((m) => m.default),
    init: () => import("../commands/init.ts").then((m) => m.default),
  },
});

if (import.meta.main) {
  reexecForStreaming();
  process.exit(await runCli(main, process.argv.slice(2)));
}
