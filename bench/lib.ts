/** Helpers for the benchmark: child processes with peak RSS and log marks, shell pipes, printing. */
import { readFileSync } from "node:fs";

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

/** Runs `bun src/cli.ts …args` in ROOT with `env`, echoing its stderr indented when `echo`. */
export async function runSluice(args: string[], env: Record<string, string>, echo = true): Promise<ChildRun> {
  const start = performance.now();
  const cpu0 = machineCpu();
  const proc = Bun.spawn([process.execPath, "src/cli.ts", ...args], { cwd: ROOT, env, stdout: "pipe", stderr: "pipe" });
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
  const cpuSeconds = usage ? (Number(usage.cpuTime.user) + Number(usage.cpuTime.system)) / 1e6 : 0;
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

export async function bash(script: string, env: Record<string, string> = {}): Promise<number> {
  const start = performance.now();
  const cpu0 = machineCpu();
  const proc = Bun.spawn(["bash", "-c", `set -euo pipefail\n${script}`], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const ms = performance.now() - start;
  lastBashBusySeconds = machineCpu().busy - cpu0.busy;
  if (code !== 0) throw new Error(`shell step failed (exit ${code}): ${script.slice(0, 200)}\n${err}${out}`);
  return ms;
}

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
