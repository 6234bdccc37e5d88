/**
 * PostgreSQL over TLS: a throwaway cluster of this test's own (initdb as the `postgres` OS user)
 * with ssl=on, a server certificate from a CA made here, and `hostssl` as the only TCP entry in
 * pg_hba, so that an unencrypted connection is refused. sluice reaches it with libpq's
 * `sslmode=verify-full&sslrootcert=<CA>` in DATABASE_URL.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSluice } from "./support/harness.ts";
import { makeTestCa, type TestCa } from "./support/test-ca.ts";

const PASSWORD = "tls-cluster-password-9f3";
const binDir = (() => {
  const versions = existsSync("/usr/lib/postgresql") ? readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a)) : [];
  const found = versions.map((v) => `/usr/lib/postgresql/${v}/bin`).find((d) => existsSync(`${d}/initdb`));
  if (!found) throw new Error("no /usr/lib/postgresql/*/bin/initdb: install PostgreSQL (scripts/services up does)");
  return found;
})();

let ca: TestCa;
let dir: string;
let port: number;

function asPostgres(...cmd: string[]): { code: number; output: string } {
  const run = Bun.spawnSync(["runuser", "-u", "postgres", "--", ...cmd], { stdout: "pipe", stderr: "pipe" });
  return { code: run.exitCode, output: `${run.stdout}${run.stderr}` };
}

function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const p = listener.port;
  listener.stop(true);
  return p;
}

function url(query: string): string {
  return `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres${query}`;
}

beforeAll(() => {
  ca = makeTestCa();
  const uid = Number(Bun.spawnSync(["id", "-u", "postgres"]).stdout.toString().trim());
  const gid = Number(Bun.spawnSync(["id", "-g", "postgres"]).stdout.toString().trim());
  // The server reads its key only when its own user owns it with mode 0600.
  chmodSync(ca.dir, 0o755);
  for (const file of [ca.certPath, ca.keyPath]) chownSync(file, uid, gid);
  chmodSync(ca.keyPath, 0o600);
  dir = mkdtempSync(join(tmpdir(), "sluice-pgtls-"));
  chownSync(dir, uid, gid);
  const pwfile = join(dir, "pwfile");
  writeFileSync(pwfile, `${PASSWORD}\n`);
  chownSync(pwfile, uid, gid);
  const data = join(dir, "data");
  const init = asPostgres(`${binDir}/initdb`, "-D", data, "-U", "postgres", `--pwfile=${pwfile}`, "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8");
  if (init.code !== 0) throw new Error(`initdb failed: ${init.output}`);
  // TLS or nothing over TCP.
  writeFileSync(join(data, "pg_hba.conf"), "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n");
  port = freePort();
  const options = [`-p ${port}`, "-c listen_addresses=127.0.0.1", `-c unix_socket_directories=${dir}`, "-c ssl=on", `-c ssl_cert_file=${ca.certPath}`, `-c ssl_key_file=${ca.keyPath}`].join(" ");
  const start = asPostgres(`${binDir}/pg_ctl`, "-D", data, "-o", options, "-l", join(dir, "server.log"), "-w", "-t", "60", "start");
  if (start.code !== 0) throw new Error(`pg_ctl start failed: ${start.output}`);
}, 120_000);

afterAll(() => {
  if (dir) {
    asPostgres(`${binDir}/pg_ctl`, "-D", join(dir, "data"), "-m", "immediate", "-w", "stop");
    rmSync(dir, { recursive: true, force: true });
  }
  ca?.remove();
});

async function sluice(databaseUrl: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawnSluice(args, { ...(process.env as Record<string, string>), DATABASE_URL: databaseUrl, UPSTREAM_DATABASE_URL: "", PGSSLMODE: "", PGSSLROOTCERT: "" });
  const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code, stdout, stderr };
}

const lines = (text: string) => text.split("\n").filter((l) => l.trim());

describe("PostgreSQL over TLS (sslmode, sslrootcert in DATABASE_URL)", () => {
  test("verify-full with the test CA: migrate up, then migrate status --json", async () => {
    const verified = url(`?sslmode=verify-full&sslrootcert=${encodeURIComponent(ca.caPath)}`);
    const up = await sluice(verified, "migrate", "up");
    expect(up.stderr).not.toContain("error");
    expect(up.code).toBe(0);
    const status = await sluice(verified, "migrate", "status", "--json");
    expect(status.code).toBe(0);
    const report = JSON.parse(status.stdout) as { version: number; state: string }[];
    expect(report.length).toBeGreaterThanOrEqual(7);
    expect(report.every((m) => m.state === "applied")).toBe(true);
    expect(status.stdout + status.stderr + up.stdout + up.stderr).not.toContain(PASSWORD);
  }, 60_000);

  test("the server refuses a connection without TLS (hostssl only)", async () => {
    const res = await sluice(url("?sslmode=disable"), "migrate", "status");
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("cannot connect to DATABASE_URL");
    expect(res.stderr).toContain("no encryption");
  }, 60_000);

  test("verify-full without the CA: one line naming DATABASE_URL and the certificate failure", async () => {
    const res = await sluice(url("?sslmode=verify-full"), "migrate", "status");
    expect(res.code).toBe(1);
    const out = lines(res.stderr);
    expect(out).toHaveLength(1);
    expect(out[0]).toContain(`cannot connect to DATABASE_URL (postgres://postgres:***@127.0.0.1:${port}/postgres?sslmode=verify-full): TLS certificate verification failed`);
    expect(out[0]).toContain("sslrootcert=");
    expect(res.stderr).not.toContain(PASSWORD);
  }, 60_000);

  test("an sslrootcert that cannot be read: exit 2, one line naming DATABASE_URL and the path", async () => {
    const missing = join(ca.dir, "missing-ca.pem");
    const res = await sluice(url(`?sslmode=verify-full&sslrootcert=${missing}`), "migrate", "status");
    expect(res.code).toBe(2);
    expect(lines(res.stderr)).toHaveLength(1);
    expect(res.stderr).toContain(`DATABASE_URL: sslrootcert (${missing}) cannot be read (ENOENT)`);
  }, 60_000);
});
