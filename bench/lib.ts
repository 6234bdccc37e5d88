/** Helpers for the benchmark: child processes with peak RSS and log marks, shell pipes, printing. */
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileCommand } from "../scripts/compile.ts";

export const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

export interface ChildRun {
  code: number;
  ms: number;
  /** VmHWM of the child, polled from /proc every 50 ms (the last poll before exit), in bytes. */
  peakRss: number;
  /** maxRSS from Bun's resourceUsage() after exit, in bytes (cross-check of peakRss). */
  maxRss: number;
  /** stderr lines with the milliseconds since start at which the bench read them. */
  lines: { at: number; text: string }[];
  stdout: string;
  /** CPU seconds the sluice process used (user + system). */
  cpuSeconds: number;
  /** Whole-machine CPU over the run: busy seconds across all cores. */
  machineBusySeconds: number;
}

/** Busy and total jiffies of the whole machine (/proc/stat), in seconds. */
export function machineCpu(): { busy: number; total: number } {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: (total - idle) / 100, total: total / 100 };
}

function vmHwm(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

let binary: string | null = null;

/**
 * The sluice executable the bench measures: built from this tree once per bench process, as
 * `bun run release` builds it (not timed), so that the figures are those of the binary users run
 * and not of `bun src/cli.ts`, which transpiles every module at each start (~0.3 CPU-s).
 * SLUICE_BENCH_FROM_SOURCE=1 runs `bun src/cli.ts` instead (to profile with --cpu-prof).
 */
export function sluiceCommand(): string[] {
  if (process.env.SLUICE_BENCH_FROM_SOURCE === "1") return [process.execPath, "src/cli.ts"];
  if (!binary) {
    const dir = mkdtempSync(join(tmpdir(), "sluice-bench-bin-"));
    const file = join(dir, "sluice");
    const started = performance.now();
    const [, ...buildArgs] = compileCommand("src/cli.ts", file);
    // Removed on exit, a failed build's directory too.
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    const build = Bun.spawnSync([process.execPath, ...buildArgs], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    if (build.exitCode !== 0) {
      // bun ends its report with the failing import's position; its own `error:` line names the cause and the fix.
      const lines = build.stderr.toString().trim().split("\n");
      throw new Error(`building the sluice binary failed: ${(lines.findLast((line) => line.startsWith("error:")) ?? lines.at(-1))?.trim()}`);
    }
    log(`built the sluice binary in ${secs(performance.now() - started)} (not timed): ${file}`);
    binary = file;
  }
  return [binary];
}

/** Runs sluice (sluiceCommand) `…args` in ROOT with `env`, echoing its stderr indented when `echo`. */
export async function runSluice(args: string[], env: Record<string, string>, echo = true): Promise<ChildRun> {
  const command = sluiceCommand();
  const start = performance.now();
  const cpu0 = machineCpu();
  const proc = Bun.spawn([...command, ...args], { cwd: ROOT, env, stdout: "pipe", stderr: "pipe" });
  let peakRss = 0;
  const poll = setInterval(() => {
    peakRss = Math.max(peakRss, vmHwm(proc.pid));
  }, 50);
  const lines: ChildRun["lines"] = [];
  const readErr = (async () => {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) {
      const at = performance.now() - start;
      rest += decoder.decode(chunk, { stream: true });
      const parts = rest.split("\n");
      rest = parts.pop() ?? "";
      for (const text of parts) {
        lines.push({ at, text });
        if (echo) process.stderr.write(`    │ ${text}\n`);
      }
    }
    if (rest) lines.push({ at: performance.now() - start, text: rest });
  })();
  const stdout = new Response(proc.stdout).text();
  const code = await proc.exited;
  const ms = performance.now() - start;
  const cpu1 = machineCpu();
  clearInterval(poll);
  await readErr;
  const usage = proc.resourceUsage();
  // Bun gives maxRSS in bytes (checked against VmHWM), unlike Node's kilobytes.
  const maxRss = usage ? Number(usage.maxRSS) : 0;
  const cpuSeconds = rusageSeconds(usage);
  return { code, ms, peakRss, maxRss, lines, stdout: await stdout, cpuSeconds, machineBusySeconds: cpu1.busy - cpu0.busy };
}

/** Milliseconds between the first stderr line matching `from` and the first after it matching `to`. */
export function between(run: ChildRun, from: RegExp, to: RegExp): number | null {
  const a = run.lines.find((l) => from.test(l.text));
  if (!a) return null;
  const b = run.lines.find((l) => l.at >= a.at && l !== a && to.test(l.text));
  return b ? b.at - a.at : null;
}

/** Runs a bash pipeline; throws with its stderr when it fails. Returns elapsed ms. */
export let lastBashBusySeconds = 0;
/** CPU seconds (user + system) of the last `bash` step and every process it waited for (curl, psql). */
export let lastBashCpuSeconds = 0;

export async function bash(script: string, env: Record<string, string> = {}): Promise<number> {
  const start = performance.now();
  const cpu0 = machineCpu();
  const proc = Bun.spawn(["bash", "-c", `set -euo pipefail\n${script}`], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const ms = performance.now() - start;
  lastBashBusySeconds = machineCpu().busy - cpu0.busy;
  lastBashCpuSeconds = rusageSeconds(proc.resourceUsage());
  if (code !== 0) throw new Error(`shell step failed (exit ${code}): ${script.slice(0, 200)}\n${err}${out}`);
  return ms;
}

/**
 * A path for a file the bench writes for its children (a `--config`), in a directory of this run's
 * own that is removed when the bench exits, whichever way: the bench leaves nothing of its own behind.
 */
export function benchFile(name: string): string {
  if (!benchDir) {
    const dir = mkdtempSync(join(tmpdir(), "sluice-bench-"));
    benchDir = dir;
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  return join(benchDir, name);
}
let benchDir: string | null = null;

export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
export const rate = (rows: number, ms: number | null) => (ms && ms > 0 ? rows / (ms / 1000) : null);
export const fmtRate = (r: number | null) => (r === null ? "—" : Math.round(r).toLocaleString("en-US"));
export const secs = (ms: number | null) => (ms === null ? "—" : `${(ms / 1000).toFixed(1)} s`);

export function log(message: string): void {
  const t = new Date().toISOString().slice(11, 19);
  process.stderr.write(`[bench ${t}] ${message}\n`);
}

export function printTable(rows: Record<string, string>[], columns: string[]): string {
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? "").length)));
  const line = (cells: string[]) => cells.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join("  ");
  const out = [line(columns), widths.map((w) => "─".repeat(w)).join("  "), ...rows.map((r) => line(columns.map((c) => r[c] ?? "")))];
  return out.join("\n");
}

/** User + system seconds from a child's rusage (wait4: the child and every descendant it waited for). */
function rusageSeconds(usage: { cpuTime: { user: number | bigint; system: number | bigint } } | undefined): number {
  return usage ? (Number(usage.cpuTime.user) + Number(usage.cpuTime.system)) / 1e6 : 0;
}

/** Runs a command to its end; its stdout, wall time and CPU seconds (with its waited-for children). */
export async function runCommand(argv: string[], env: Record<string, string>, cwd = ROOT): Promise<{ code: number; ms: number; stdout: string; stderr: string; cpuSeconds: number }> {
  const start = performance.now();
  const proc = Bun.spawn(argv, { cwd, env, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, ms: performance.now() - start, stdout, stderr, cpuSeconds: rusageSeconds(proc.resourceUsage()) };
}

const TICKS = 100;

/** utime + stime (+ cutime + cstime: children it reaped) of one process, in seconds; 0 when gone. */
function processCpu(pid: string, withChildren: boolean): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which may hold spaces: "pid (comm) state ppid …".
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const own = Number(f[11]) + Number(f[12]);
    return (withChildren ? own + Number(f[13]) + Number(f[14]) : own) / TICKS;
  } catch {
    return 0;
  }
}

/** Pids of every process whose /proc/<pid>/comm is `name`. */
export function pidsNamed(name: string): string[] {
  return readdirSync("/proc").filter((p) => /^\d+$/.test(p) && safeRead(`/proc/${p}/comm`).trim() === name);
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/**
 * The pid listening on 127.0.0.1/0.0.0.0:`port` (the Elasticsearch node the bench talks to; other
 * Java processes on the host, another node included, are left out). Null when it cannot be seen.
 */
export function pidListeningOn(port: number): string | null {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of safeRead(table).split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // st 0A = LISTEN
      if (f[1]?.endsWith(`:${hex}`) && f[3] === "0A") inodes.add(f[9]!);
    }
  }
  if (inodes.size === 0) return null;
  for (const pid of pidsNamed("java")) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) return pid;
      } catch {}
    }
  }
  return null;
}

/** CPU seconds so far of the host's PostgreSQL (every postgres process, with the backends that exited) and of one pid. */
export function serviceCpu(esPid: string | null): { postgres: number; elasticsearch: number } {
  const postgres = pidsNamed("postgres").reduce((sum, pid) => sum + processCpu(pid, true), 0);
  return { postgres, elasticsearch: esPid ? processCpu(esPid, false) : 0 };
}

/** The 1-minute load average. */
export function loadAverage(): number {
  return Number(safeRead("/proc/loadavg").split(" ")[0]);
}
