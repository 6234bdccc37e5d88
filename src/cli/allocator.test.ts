import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { allocatorReexec, PURGE_DELAY } from "./allocator.ts";

const ROOT = join(import.meta.dir, "../..");

describe("allocatorReexec", () => {
  test("a streaming command from a compiled binary: the binary again with the same arguments, the variable set", () => {
    const plan = allocatorReexec("/usr/local/bin/sluice", ["bun", "/$bunfs/root/sluice", "index", "image", "--quiet"], [], { PATH: "/bin", UNSET: undefined });
    expect(plan).toEqual({ argv: ["/usr/local/bin/sluice", "index", "image", "--quiet"], env: { PATH: "/bin", MIMALLOC_PURGE_DELAY: PURGE_DELAY } });
  });

  test("from source: bun, its own flags and the script again", () => {
    const plan = allocatorReexec("/usr/bin/bun", ["/usr/bin/bun", "/src/cli.ts", "--verbose", "run", "image"], ["--smol"], {});
    expect(plan?.argv).toEqual(["/usr/bin/bun", "--smol", "/src/cli.ts", "--verbose", "run", "image"]);
  });

  test("a global flag's value before the command is not taken for the command", () => {
    expect(allocatorReexec("/s", ["bun", "/$bunfs/root/s", "--log-format", "json", "index", "image"], [], {})?.argv).toEqual(["/s", "--log-format", "json", "index", "image"]);
  });

  test("an operator's own MIMALLOC_PURGE_DELAY, a short command or no command: runs as it is", () => {
    expect(allocatorReexec("/s", ["bun", "/$bunfs/root/s", "index", "image"], [], { MIMALLOC_PURGE_DELAY: "10" })).toBeNull();
    expect(allocatorReexec("/s", ["bun", "/$bunfs/root/s", "status"], [], {})).toBeNull();
    expect(allocatorReexec("/s", ["bun", "/$bunfs/root/s", "--version"], [], {})).toBeNull();
  });
});

test("sluice index runs as the same process with MIMALLOC_PURGE_DELAY set", async () => {
  // A database that accepts and never answers holds the command still while its environment is read.
  const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const env: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", DATABASE_URL: `postgres://u:p@127.0.0.1:${silent.port}/db` };
  const child = Bun.spawn([process.execPath, join(ROOT, "src/cli.ts"), "index", "image"], { cwd: ROOT, env, stdout: "pipe", stderr: "pipe" });
  try {
    let environ = "";
    for (let i = 0; i < 40 && !environ.includes("MIMALLOC_PURGE_DELAY="); i++) {
      await Bun.sleep(100);
      environ = readFileSync(`/proc/${child.pid}/environ`, "utf8");
    }
    expect(environ.split("\0")).toContain(`MIMALLOC_PURGE_DELAY=${PURGE_DELAY}`);
    expect(child.exitCode).toBeNull();
  } finally {
    child.kill();
    await child.exited;
    silent.stop(true);
  }
});
