/**
 * The index stage against its references, in rounds: each round runs every tool once, in an order
 * rotated by one per round (so no tool always runs first on a cold cache or last on a hot one),
 * and each figure is a median over rounds with its spread. Ratios are taken within a round (both
 * tools under the same load), then the median of those is reported.
 *
 *   sluice index         the whole `sluice index image` command
 *   curl P=c             prebuilt NDJSON sent with `xargs -P c curl` (the raw `_bulk` limit), at each c
 *   helpers.bulk         elasticsearch-js `client.helpers.bulk` at its defaults (bench/helpers-bulk.ts)
 *   parallel_bulk        Openverse's method in Python, when python3 has `elasticsearch` (bench/parallel-bulk.py)
 *   sluice before #12    `sluice index image` as it was before issue 12, built from git (bench/before-issue12.ts)
 *
 * Beside each figure: sluice's (or the tool's) CPU-seconds per 1,000 documents (its own process
 * and the children it waited for), the CPU-seconds the host's PostgreSQL and the Elasticsearch
 * node used meanwhile, and the 1-minute load average when it started.
 */
import { loadAverage, pidListeningOn, runCommand, serviceCpu } from "./lib.ts";

export interface ToolRun {
  docs: number;
  ms: number;
  /** CPU seconds of the tool's own process (with its waited-for children). */
  cpu: number;
  postgresCpu: number;
  elasticsearchCpu: number;
  load: number;
}

export interface Tool {
  name: string;
  run(): Promise<{ docs: number; cpu: number; ms: number }>;
}

export async function runRounds(tools: Tool[], rounds: number, esUrl: string, log: (m: string) => void): Promise<Map<string, ToolRun[]>> {
  const esPid = pidListeningOn(Number(new URL(esUrl).port || 9200));
  if (!esPid) log(`could not find the process listening on ${esUrl}: its CPU is reported as 0`);
  const results = new Map<string, ToolRun[]>(tools.map((t) => [t.name, []]));
  for (let round = 0; round < rounds; round++) {
    const order = tools.map((_, i) => tools[(i + round) % tools.length]!);
    for (const tool of order) {
      const load = loadAverage();
      const before = serviceCpu(esPid);
      const r = await tool.run();
      const after = serviceCpu(esPid);
      const run: ToolRun = { ...r, load, postgresCpu: after.postgres - before.postgres, elasticsearchCpu: after.elasticsearch - before.elasticsearch };
      results.get(tool.name)!.push(run);
      log(`round ${round + 1}/${rounds} ${tool.name}: ${describe(run)}`);
    }
  }
  return results;
}

/**
 * Runs `pass` (a reference load, untimed) until the Elasticsearch node's CPU per pass settles: within
 * `tolerance` of the pass before, at least twice and at most `maxPasses` times. A node just started
 * spent 10.1, 8.1, 7.0, 6.9 … 6.0 CPU-s on the same documents pass after pass (its JIT and heap
 * settling), so after a single warm-up pass the first round's first tool, always sluice, paid for it.
 */
export async function warmUp(pass: () => Promise<unknown>, esUrl: string, log: (m: string) => void, { tolerance = 0.05, maxPasses = 10 } = {}): Promise<void> {
  const esPid = pidListeningOn(Number(new URL(esUrl).port || 9200));
  if (!esPid) {
    log("warm-up: one pass (the Elasticsearch process was not found, so its CPU cannot tell when it has settled)");
    await pass();
    return;
  }
  let previous: number | null = null;
  for (let n = 1; n <= maxPasses; n++) {
    const before = serviceCpu(esPid).elasticsearch;
    await pass();
    const cpu = serviceCpu(esPid).elasticsearch - before;
    log(`warm-up pass ${n}: Elasticsearch ${cpu.toFixed(1)} CPU-s`);
    if (previous !== null && Math.abs(cpu - previous) <= tolerance * previous) return;
    previous = cpu;
  }
  log(`warm-up: Elasticsearch's CPU per pass had not settled within ${tolerance * 100}% after ${maxPasses} passes`);
}

export function describe(r: ToolRun): string {
  return `${Math.round(docsPerSecond(r)).toLocaleString("en-US")} docs/s (${r.docs.toLocaleString("en-US")} in ${(r.ms / 1000).toFixed(1)} s), ${cpuPer1k(r).toFixed(4)} CPU-s/1k docs, postgres ${r.postgresCpu.toFixed(1)} CPU-s, elasticsearch ${r.elasticsearchCpu.toFixed(1)} CPU-s, load ${r.load.toFixed(2)}`;
}

export const docsPerSecond = (r: ToolRun) => r.docs / (r.ms / 1000);
export const cpuPer1k = (r: ToolRun) => r.cpu / (r.docs / 1000);

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** "median [min–max]" of a figure over the rounds. */
export function spread(values: number[], digits = 0): string {
  const f = (v: number) => (digits ? v.toFixed(digits) : Math.round(v).toLocaleString("en-US"));
  return `${f(median(values))} [${f(Math.min(...values))}–${f(Math.max(...values))}]`;
}

/** Per-round ratios a/b (same round, same load), for the median and spread. */
export function roundRatios(a: ToolRun[], b: ToolRun[]): number[] {
  return a.map((r, i) => docsPerSecond(r) / docsPerSecond(b[i]!));
}

/**
 * The ratio a tool can reach against a reference when the host's cores are the bottleneck: both
 * make Elasticsearch do the same work (its median CPU over every round of every tool), and each
 * adds its own CPU and PostgreSQL's. On `cores` shared cores a run takes at least its CPU-seconds ÷
 * cores, so, saturated, `tool ÷ reference` ≤ (ES + reference's) ÷ (ES + tool's). With Elasticsearch
 * on cores of its own (`--es-cpus`), a run takes at least the longer of ES ÷ its cores and the
 * sender's and PostgreSQL's ÷ theirs.
 */
export function cpuBoundRatio(tool: ToolRun[], reference: ToolRun[], everyRun: ToolRun[], cores: number | { elasticsearch: number; others: number }): { ratio: number; note: string } {
  const es = median(everyRun.map((r) => r.elasticsearchCpu));
  const own = (runs: ToolRun[]) => median(runs.map((r) => r.cpu)) + median(runs.map((r) => r.postgresCpu));
  const least = (runs: ToolRun[]) => (typeof cores === "number" ? (es + own(runs)) / cores : Math.max(es / cores.elasticsearch, own(runs) / cores.others));
  const [toolLeast, referenceLeast] = [least(tool), least(reference)];
  const where = typeof cores === "number" ? `on ${cores} shared cores` : `Elasticsearch on ${cores.elasticsearch} CPU(s) of its own, the rest on ${cores.others}`;
  return {
    ratio: referenceLeast / toolLeast,
    note: `when the cores are saturated; CPU-s per run: Elasticsearch ${es.toFixed(1)} + the tool's and PostgreSQL's ${own(tool).toFixed(1)} vs ${own(reference).toFixed(1)}; ${where}, at least ${toolLeast.toFixed(1)} s vs ${referenceLeast.toFixed(1)} s`,
  };
}

/** A child process that prints {"docs":N,"failed":M} on its last stdout line. */
export async function childTool(argv: string[], env: Record<string, string>): Promise<{ docs: number; cpu: number; ms: number }> {
  const run = await runCommand(argv, env);
  if (run.code !== 0) throw new Error(`${argv.join(" ")} exited ${run.code}: ${run.stderr.slice(-800)}`);
  const last = run.stdout.trim().split("\n").pop() ?? "{}";
  const out = JSON.parse(last) as { docs: number; failed: number };
  if (out.failed) throw new Error(`${argv[1]}: ${out.failed} documents failed`);
  return { docs: out.docs, cpu: run.cpuSeconds, ms: run.ms };
}
