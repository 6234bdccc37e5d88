/**
 * The scheduling examples in deploy/ are checked, not just shown: systemd units with
 * systemd-analyze, the crontab's lines run for real against a locked dataset, the Kubernetes
 * CronJob parsed and its required fields present.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { resolveCommand } from "../src/cli/command-tree.ts";
import { checkArgv } from "../src/cli/strict-args.ts";
import { main } from "../src/cli.ts";
import { createTestEnvironment, type TestEnvironment } from "./support/harness.ts";

const root = new URL("../", import.meta.url).pathname;
const deploy = join(root, "deploy");
let scratch: string;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "sluice-deploy-"));
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

async function sh(argv: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  const child = Bun.spawn(argv, { cwd: options.cwd ?? root, env: options.env ?? (process.env as Record<string, string>), stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [code, out, err] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code, out, err };
}

/** Whether sluice's strict argv checker accepts `args` (everything after `sluice`). */
async function argvProblem(args: string[]): Promise<string | null> {
  const resolved = await resolveCommand(main, args);
  return checkArgv(resolved.shape, args, resolved.pathIndexes).problem;
}

const unitKeys = (text: string) =>
  new Map(text.split("\n").filter((l) => /^\w+=/.test(l)).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as const));

describe("systemd units", () => {
  /**
   * systemd-analyze verify loads the units as systemd would (every key, every dependency, the
   * ExecStart binary). It runs here without systemd as PID 1: --root gives it a tree holding the
   * distribution's own units, the two templates under /etc/systemd/system and an executable at
   * /usr/local/bin/sluice, so nothing on this machine is installed or started.
   */
  function unitRoot(service: string, timer: string, name = "sluice-run"): string {
    const dir = mkdtempSync(join(scratch, "root-"));
    mkdirSync(join(dir, "usr/lib/systemd"), { recursive: true });
    cpSync("/usr/lib/systemd/system", join(dir, "usr/lib/systemd/system"), { recursive: true });
    mkdirSync(join(dir, "etc/systemd/system"), { recursive: true });
    writeFileSync(join(dir, `etc/systemd/system/${name}@.service`), service);
    writeFileSync(join(dir, `etc/systemd/system/${name}@.timer`), timer);
    mkdirSync(join(dir, "usr/local/bin"), { recursive: true });
    writeFileSync(join(dir, "usr/local/bin/sluice"), "#!/bin/sh\nexit 0\n");
    chmodSync(join(dir, "usr/local/bin/sluice"), 0o755);
    return dir;
  }
  const service = readFileSync(join(deploy, "systemd/sluice-run@.service"), "utf8");
  const timer = readFileSync(join(deploy, "systemd/sluice-run@.timer"), "utf8");

  test("sluice-run@image.service and .timer pass systemd-analyze verify with nothing to say", async () => {
    const dir = unitRoot(service, timer);
    const verify = await sh(["systemd-analyze", "verify", `--root=${dir}`, "sluice-run@image.service", "sluice-run@image.timer"]);
    expect(verify.out + verify.err).toBe("");
    expect(verify.code).toBe(0);
  });

  test("sluice-sync@image.service and .timer (hourly, beside the weekly run) pass systemd-analyze verify with nothing to say", async () => {
    const syncService = readFileSync(join(deploy, "systemd/sluice-sync@.service"), "utf8");
    const syncTimer = readFileSync(join(deploy, "systemd/sluice-sync@.timer"), "utf8");
    const dir = unitRoot(syncService, syncTimer, "sluice-sync");
    const verify = await sh(["systemd-analyze", "verify", `--root=${dir}`, "sluice-sync@image.service", "sluice-sync@image.timer"]);
    expect(verify.out + verify.err).toBe("");
    expect(verify.code).toBe(0);
    const keys = unitKeys(syncService);
    expect(keys.get("ExecStart")).toBe("/usr/local/bin/sluice sync %i");
    expect(keys.get("SuccessExitStatus")).toBe("4");
    expect(unitKeys(syncTimer).get("OnCalendar")).toBe("hourly");
    expect(await argvProblem(["sync", "image"])).toBeNull();
  });

  test("the check can fail: a misspelled key, a missing binary are reported", async () => {
    const typo = unitRoot(service.replace("RandomizedDelaySec", "RandomDelaySec"), timer.replace("RandomizedDelaySec", "RandomDelaySec"));
    const verify = await sh(["systemd-analyze", "verify", `--root=${typo}`, "sluice-run@image.timer"]);
    expect(verify.err).toContain("Unknown key 'RandomDelaySec' in section [Timer]");
    const noBinary = unitRoot(service.replace("ExecStart=/usr/local/bin/sluice ", "ExecStart=/usr/local/bin/sluicee "), timer);
    const missing = await sh(["systemd-analyze", "verify", `--root=${noBinary}`, "sluice-run@image.service"]);
    expect(missing.code).not.toBe(0);
    expect(missing.err).toContain("/usr/local/bin/sluicee");
  });

  test("the units carry what the issue asks: schedule, jitter, catch-up, env file, a non-root user, exit 4 not a failure", async () => {
    const s = unitKeys(service);
    const t = unitKeys(timer);
    expect(s.get("User")).toBe("sluice");
    expect(s.get("EnvironmentFile")).toBeDefined();
    expect(service).toContain("EnvironmentFile=/etc/sluice/sluice.env\n");
    expect(s.get("ExecStart")).toBe("/usr/local/bin/sluice run %i");
    expect(s.get("SuccessExitStatus")).toBe("4");
    expect(t.get("Persistent")).toBe("true");
    expect(t.get("RandomizedDelaySec")).toBe("1h");
    const calendar = await sh(["systemd-analyze", "calendar", t.get("OnCalendar")!]);
    expect(calendar.code).toBe(0);
    expect(calendar.out).toContain("Normalized form: Sun *-*-* 03:00:00");
    expect(await argvProblem(["run", "image"])).toBeNull();
  });
});

describe("crontab", () => {
  const crontab = readFileSync(join(deploy, "cron/sluice.crontab"), "utf8");
  const jobs = crontab.split("\n").filter((l) => l.trim() && !l.startsWith("#") && !/^[A-Z]+=/.test(l));
  let t: TestEnvironment;
  beforeAll(async () => {
    t = await createTestEnvironment("cron");
    expect((await t.sluice("migrate", "up")).code).toBe(0);
  });
  afterAll(async () => {
    await t?.drop();
  }, 30_000);

  test("each line: five schedule fields, a user, and sluice argv the strict checker accepts", async () => {
    expect(jobs.length).toBe(4);
    for (const line of jobs) {
      const fields = line.split(/\s+/);
      for (const field of fields.slice(0, 5)) expect(field).toMatch(/^(\*|\d+)(\/\d+)?$/);
      expect(fields[5]).toBe("sluice");
      const args = line.match(/&& sluice ([^>|]+?)(?: >|$)/)![1]!.trim().split(/\s+/);
      expect(await argvProblem(args)).toBeNull();
    }
  });

  test("a run line, run as cron would while the dataset is locked: exit 4 from sluice, 0 for cron, nothing changed", async () => {
    // A PATH where `sluice` is this checkout, and the line's directories moved under scratch.
    const bin = join(scratch, "bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "sluice"), `#!/bin/sh\nexec bun ${join(root, "src/cli.ts")} "$@"\n`);
    chmodSync(join(bin, "sluice"), 0o755);
    const home = join(scratch, "var-lib-sluice");
    const logs = join(scratch, "var-log-sluice");
    mkdirSync(home, { recursive: true });
    mkdirSync(logs, { recursive: true });
    const env = t.childEnv();
    writeFileSync(join(home, ".env"), ["DATABASE_URL", "UPSTREAM_DATABASE_URL", "ELASTICSEARCH_URL", "SLUICE_INDEX_PREFIX"].map((k) => `${k}=${env[k]}`).join("\n"));
    const line = jobs[0]!.split(/\s+/).slice(6).join(" ").replaceAll("/var/lib/sluice", home).replaceAll("/var/log/sluice", logs);
    const cronEnv = { PATH: `${bin}:${process.env.PATH}`, HOME: home, SLACK_WEBHOOK: "" };
    // Another process holds image's lock, as a run in progress would.
    const holder = postgres(t.apiUrl, { max: 1, onnotice: () => {} });
    const held = await holder.reserve();
    await held`select pg_advisory_lock(${0x51ce}, hashtext('image'))`;
    try {
      const cron = await sh(["/bin/sh", "-c", line], { env: cronEnv });
      expect(cron.code).toBe(0);
      const log = readFileSync(join(logs, "image.log"), "utf8");
      const record = JSON.parse(log.trim().split("\n").at(-1)!);
      expect(record.level).toBe("error");
      expect(record.message).toContain("dataset image is locked by");
      // Without the `|| [ $? -eq 4 ]`, the exit code cron would see is sluice's 4.
      const bare = await sh(["/bin/sh", "-c", line.replace(" || [ $? -eq 4 ]", "")], { env: cronEnv });
      expect(bare.code).toBe(4);
      const [jobs] = await t.api`select count(*)::int as n from sluice.jobs where dataset = 'image'`;
      expect(jobs!.n).toBe(0);
    } finally {
      held.release();
      await holder.end();
    }
    // Any other failure still reaches cron: the upstream is empty, so the run fails (exit 1).
    const failed = await sh(["/bin/sh", "-c", line], { env: cronEnv });
    expect(failed.code).toBe(1);
  }, 60_000);
});

describe("Kubernetes CronJob", () => {
  test("parses as YAML and has what a CronJob needs to run sluice unattended", () => {
    const text = readFileSync(join(deploy, "kubernetes/sluice-cronjob.yaml"), "utf8");
    const doc = Bun.YAML.parse(text) as any;
    expect(doc.apiVersion).toBe("batch/v1");
    expect(doc.kind).toBe("CronJob");
    expect(doc.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(doc.spec.schedule.split(" ")).toHaveLength(5);
    expect(doc.spec.concurrencyPolicy).toBe("Forbid");
    const job = doc.spec.jobTemplate.spec;
    expect(job.backoffLimit).toBe(0);
    const pod = job.template.spec;
    expect(["Never", "OnFailure"]).toContain(pod.restartPolicy);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(60);
    expect(pod.containers).toHaveLength(1);
    const [container] = pod.containers;
    expect(container.name).toBeTruthy();
    expect(container.image).toBeTruthy();
    expect(container.envFrom[0].secretRef.name).toBe("sluice-env");
    expect(pod.volumes.map((v: { name: string }) => v.name)).toEqual(container.volumeMounts.map((m: { name: string }) => m.name));
  });

  test("its args are a sluice command line the strict checker accepts", async () => {
    const doc = Bun.YAML.parse(readFileSync(join(deploy, "kubernetes/sluice-cronjob.yaml"), "utf8")) as any;
    expect(await argvProblem(doc.spec.jobTemplate.spec.template.spec.containers[0].args)).toBeNull();
  });
});

describe("scale-out workers (issue 13)", () => {
  const worker = readFileSync(join(deploy, "systemd/sluice-index@.service"), "utf8");

  function workerRoot(unit: string): string {
    const dir = mkdtempSync(join(scratch, "root-"));
    mkdirSync(join(dir, "usr/lib/systemd"), { recursive: true });
    cpSync("/usr/lib/systemd/system", join(dir, "usr/lib/systemd/system"), { recursive: true });
    mkdirSync(join(dir, "etc/systemd/system"), { recursive: true });
    writeFileSync(join(dir, "etc/systemd/system/sluice-index@.service"), unit);
    mkdirSync(join(dir, "usr/local/bin"), { recursive: true });
    writeFileSync(join(dir, "usr/local/bin/sluice"), "#!/bin/sh\nexit 0\n");
    chmodSync(join(dir, "usr/local/bin/sluice"), 0o755);
    return dir;
  }

  test("sluice-index@image.service passes systemd-analyze verify, runs a worker, restarts one that failed", async () => {
    const verify = await sh(["systemd-analyze", "verify", `--root=${workerRoot(worker)}`, "sluice-index@image.service"]);
    expect(verify.out + verify.err).toBe("");
    expect(verify.code).toBe(0);
    const typo = await sh(["systemd-analyze", "verify", `--root=${workerRoot(worker.replace("RestartSec", "RestartSecs"))}`, "sluice-index@image.service"]);
    expect(typo.err).toContain("Unknown key 'RestartSecs'");
    const s = unitKeys(worker);
    expect(s.get("ExecStart")).toBe("/usr/local/bin/sluice index %i --worker");
    expect(s.get("Restart")).toBe("on-failure");
    expect(await argvProblem(["index", "image", "--worker"])).toBeNull();
  });

  test("the Kubernetes Indexed Job: completions equal the workers, each pod a worker", async () => {
    const doc = Bun.YAML.parse(readFileSync(join(deploy, "kubernetes/sluice-index-workers.yaml"), "utf8")) as any;
    expect(doc.apiVersion).toBe("batch/v1");
    expect(doc.kind).toBe("Job");
    expect(doc.spec.completionMode).toBe("Indexed");
    expect(doc.spec.completions).toBe(doc.spec.parallelism);
    expect(doc.spec.backoffLimitPerIndex).toBeGreaterThan(0);
    const pod = doc.spec.template.spec;
    expect(pod.restartPolicy).toBe("Never");
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.containers[0].envFrom[0].secretRef.name).toBe("sluice-env");
    expect(pod.containers[0].args.slice(0, 3)).toEqual(["index", "image", "--worker"]);
    expect(await argvProblem(pod.containers[0].args)).toBeNull();
    // The coordinator it names: the CronJob's run with --workers 0.
    expect(await argvProblem(["run", "image", "--workers", "0"])).toBeNull();
  });
});
