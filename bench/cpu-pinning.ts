/**
 * `--es-cpus LIST`: the index rounds with the Elasticsearch node on CPUs of its own, as on any
 * production cluster, where the sender and PostgreSQL run on other machines. On this 2-core host
 * both share two cores by default, so every CPU-second a sender spends is taken from
 * Elasticsearch, and the raw `_bulk` ratio is capped by CPU arithmetic (index-rounds.ts
 * cpuBoundRatio), not by how well the sender keeps the node busy. Pinned, the node's CPUs do only
 * its work, and the ratio measures that.
 *
 * The node's threads go on LIST; every PostgreSQL process (new backends inherit the postmaster's
 * mask) and the bench itself (every tool it starts inherits its mask) on the other CPUs. Each
 * process's mask as it was is put back afterwards, on a failure too, and on SIGINT/SIGTERM. Uses
 * util-linux's `taskset`, which needs the right to set those processes' affinity (their owner or root).
 */
import { existsSync } from "node:fs";
import { pidsNamed } from "./lib.ts";

/** "1" or "0,2-3" → [1] or [0, 2, 3]; refused unless every CPU is on this host and some are left for the rest. */
export function parseCpuList(text: string, cpuCount: number): number[] {
  const cpus = new Set<number>();
  for (const part of text.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m || Number(m[2] ?? m[1]) < Number(m[1])) throw new Error(`--es-cpus: a list of CPU numbers and ranges such as 1 or 2-3, got ${text}`);
    const [from, to] = [Number(m[1]), Number(m[2] ?? m[1])];
    for (let cpu = from; cpu <= to; cpu++) cpus.add(cpu);
  }
  const list = [...cpus].sort((a, b) => a - b);
  if (list.some((cpu) => cpu >= cpuCount)) throw new Error(`--es-cpus: this host has CPUs 0-${cpuCount - 1}, got ${text}`);
  if (list.length === 0 || list.length >= cpuCount) throw new Error(`--es-cpus: leave at least one of CPUs 0-${cpuCount - 1} for the senders and PostgreSQL, got ${text}`);
  return list;
}

/** The CPUs `--es-cpus` leaves for PostgreSQL, the bench and every tool it runs. */
function otherCpus(esCpus: number[], cpuCount: number): number[] {
  return Array.from({ length: cpuCount }, (_, cpu) => cpu).filter((cpu) => !esCpus.includes(cpu));
}

/** The cores each side has while pinned, for cpuBoundRatio. */
export function pinnedCores(esCpus: number[], cpuCount: number): { elasticsearch: number; others: number } {
  return { elasticsearch: esCpus.length, others: otherCpus(esCpus, cpuCount).length };
}

/** What goes where, for the bench's notes. */
export function describePinning(esCpus: number[], cpuCount: number): string {
  return `Elasticsearch on CPU ${esCpus.join(",")}; PostgreSQL, the bench and every tool it runs on CPU ${otherCpus(esCpus, cpuCount).join(",")} (--es-cpus)`;
}

function taskset(args: string[]): string {
  if (!Bun.which("taskset")) throw new Error("--es-cpus needs util-linux's taskset on PATH: install util-linux, or leave out --es-cpus");
  const run = Bun.spawnSync(["taskset", ...args], { stdout: "pipe", stderr: "pipe" });
  if (run.exitCode !== 0) throw new Error(`--es-cpus: taskset ${args.join(" ")} failed (${run.stderr.toString().trim()}): run the bench as the owner of Elasticsearch's and PostgreSQL's processes or as root, or leave out --es-cpus`);
  return run.stdout.toString();
}

/** A process's CPU list as `taskset -cp` prints it ("0,1" or "0-3"). */
function cpuListOf(pid: string): string {
  return taskset(["-cp", pid]).trim().split(": ").pop()!;
}

/**
 * Pins the node `esPid` to `esCpus` and PostgreSQL and this process to the rest; the function it
 * returns puts every mask back as it was (idempotent).
 */
export function pinCpus(esPid: string, esCpus: number[], cpuCount: number): () => void {
  const targets = [
    { pids: [esPid], cpus: esCpus },
    { pids: [...pidsNamed("postgres"), String(process.pid)], cpus: otherCpus(esCpus, cpuCount) },
  ];
  const saved: { pid: string; cpus: string }[] = [];
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
    // A process that has exited meanwhile (a backend) has nothing to put back; a backend started
    // meanwhile inherited the pinned mask, and gets PostgreSQL's own back.
    const postgresCpus = saved.find((s) => s.pid !== esPid && s.pid !== String(process.pid))?.cpus;
    const started = postgresCpus ? pidsNamed("postgres").filter((pid) => !saved.some((s) => s.pid === pid)) : [];
    for (const { pid, cpus } of [...saved, ...started.map((pid) => ({ pid, cpus: postgresCpus! }))]) {
      Bun.spawnSync(["taskset", "-a", "-cp", cpus, pid], { stdout: "ignore", stderr: "ignore" });
    }
  };
  const onSignal = (signal: NodeJS.Signals) => {
    restore();
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.on("SIGINT", onSignal).on("SIGTERM", onSignal);
  try {
    for (const { pids, cpus } of targets) {
      for (const pid of pids) {
        try {
          saved.push({ pid, cpus: cpuListOf(pid) });
          taskset(["-a", "-cp", cpus.join(","), pid]);
        } catch (error) {
          // A backend that exited between the listing and here has nothing to pin.
          if (pid !== esPid && !existsSync(`/proc/${pid}`)) continue;
          throw error;
        }
      }
    }
  } catch (error) {
    restore();
    throw error;
  }
  return restore;
}
