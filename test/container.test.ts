/**
 * The Dockerfile, built and run with Debian's podman. Container registries cannot be reached from
 * this machine, so distroless cannot be pulled: the test builds the same kind of base from this
 * machine's own files (glibc's loader and the four libraries the binary links, CA certificates,
 * passwd/group with distroless's nonroot 65532, /tmp, the nonroot home) and passes it as BASE.
 * Containers run with runc (crun refuses this VM's hybrid cgroups) and ulimits below the
 * VM's own (it forbids setting RLIMIT_NPROC/NOFILE to their current values from inside runc).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { EXPECTED_SCHEMA_VERSION } from "../src/migrate/migrator.ts";
import { createTestEnvironment, type TestEnvironment } from "./support/harness.ts";
import { compileCommand } from "../scripts/compile.ts";

const root = new URL("../", import.meta.url).pathname;
const tag = `sluice-test-${Math.random().toString(36).slice(2, 8)}`;
const runFlags = ["--runtime", "/usr/sbin/runc"];
const runOptions = ["--rm", "--network", "host", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];
let scratch: string;
let t: TestEnvironment;

async function sh(argv: string[], cwd = root) {
  const child = Bun.spawn(argv, { cwd, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [code, out, err] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code, out, err };
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "sluice-image-"));
  t = await createTestEnvironment("image");
  expect((await t.sluice("migrate", "up")).code).toBe(0);
}, 60_000);
afterAll(async () => {
  await sh(["podman", "rmi", "-f", `localhost/${tag}:app`, `localhost/${tag}:base`]);
  rmSync(scratch, { recursive: true, force: true });
  await t?.drop();
}, 60_000);

test("podman builds the Dockerfile; the image holds the base and the binary only, and runs it", async () => {
  // The binary, as `bun run release` builds it for linux-x64.
  const context = join(scratch, "context");
  mkdirSync(context);
  const build = await sh(compileCommand("src/cli.ts", join(context, "sluice"), "bun-linux-x64"));
  expect(build.code).toBe(0);

  // A distroless-like base from this machine's files.
  const rootfs = join(scratch, "base/rootfs");
  const libs = ["/lib64/ld-linux-x86-64.so.2", ...["libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2"].map((l) => `/lib/x86_64-linux-gnu/${l}`)];
  for (const file of [...libs, "/etc/ssl/certs/ca-certificates.crt"]) {
    mkdirSync(join(rootfs, dirname(file)), { recursive: true });
    copyFileSync(realpathSync(file), join(rootfs, file));
  }
  writeFileSync(join(rootfs, "etc/passwd"), "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n");
  writeFileSync(join(rootfs, "etc/group"), "root:x:0:\nnonroot:x:65532:\n");
  mkdirSync(join(rootfs, "tmp"));
  chmodSync(join(rootfs, "tmp"), 0o1777);
  mkdirSync(join(rootfs, "home/nonroot"), { recursive: true });
  chownSync(join(rootfs, "home/nonroot"), 65532, 65532);
  writeFileSync(join(scratch, "base/Containerfile"), "FROM scratch\nCOPY rootfs/ /\n");
  const base = await sh(["podman", "build", "-q", "-t", `localhost/${tag}:base`, join(scratch, "base")]);
  expect(base.err).toBe("");
  expect(base.code).toBe(0);

  const image = await sh(["podman", "build", "-q", "-f", join(root, "Dockerfile"), "--build-arg", `BASE=localhost/${tag}:base`, "--build-arg", "BINARY=sluice", "-t", `localhost/${tag}:app`, context]);
  expect(image.err).toBe("");
  expect(image.code).toBe(0);

  // Its files: the base's, plus /usr/local/bin/sluice; no shell, no bun, no node_modules.
  const created = await sh(["podman", "create", `localhost/${tag}:app`]);
  expect(created.code).toBe(0);
  const id = created.out.trim();
  const exported = join(scratch, "image.tar");
  expect((await sh(["podman", "export", "-o", exported, id])).code).toBe(0);
  await sh(["podman", "rm", id]);
  const files = (await sh(["tar", "-tf", exported])).out.split("\n").filter((f) => f && !f.endsWith("/"));
  const expected = [...libs, "/etc/ssl/certs/ca-certificates.crt", "/etc/passwd", "/etc/group", "/usr/local/bin/sluice"].map((f) => f.slice(1));
  // podman adds the files every container gets (resolv.conf, hosts, hostname, .containerenv).
  const runtime = ["etc/hosts", "etc/hostname", "etc/resolv.conf", "run/.containerenv"];
  expect(files.filter((f) => !runtime.includes(f)).sort()).toEqual(expected.sort());

  const version = await sh(["podman", ...runFlags, "run", ...runOptions, `localhost/${tag}:app`, "--version"]);
  expect(version.out.trim()).toBe(`sluice ${pkg.version} (database migration ${EXPECTED_SCHEMA_VERSION})`);
  expect(version.code).toBe(0);
  // As the nonroot user, against the test database (host network).
  const status = await sh(["podman", ...runFlags, "run", ...runOptions, "-e", `DATABASE_URL=${t.apiUrl}`, `localhost/${tag}:app`, "migrate", "status", "--json", "--exit-code"]);
  expect(status.code).toBe(0);
  const migrations = JSON.parse(status.out) as { state: string }[];
  expect(migrations.map((m) => m.state)).toEqual(Array(EXPECTED_SCHEMA_VERSION).fill("applied"));
  const user = await sh(["podman", "image", "inspect", "--format", "{{.Config.User}} {{.Config.WorkingDir}} {{json .Config.Entrypoint}}", `localhost/${tag}:app`]);
  expect(user.out.trim()).toBe('65532:65532 /home/nonroot ["/usr/local/bin/sluice"]');
}, 300_000);
