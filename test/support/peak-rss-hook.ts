/**
 * Preloaded into a sluice child process (`bun --preload test/support/peak-rss-hook.ts src/cli.ts …`):
 * at exit it writes the process's peak resident set (VmHWM of /proc/self/status, in bytes) to
 * $SLUICE_PEAK_RSS_FILE. Not the parent's resourceUsage().maxRSS: Linux carries the parent's RSS at
 * fork over into the child's maxrss, so a child of a large test process looks as large as it.
 */
import { readFileSync, writeFileSync } from "node:fs";

const target = process.env.SLUICE_PEAK_RSS_FILE;
if (target) {
  process.on("exit", () => {
    const kib = /VmHWM:\s*(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
    if (kib) writeFileSync(target, String(Number(kib) * 1024));
  });
}
