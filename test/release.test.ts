/**
 * `bun run release`: three standalone binaries and SHA256SUMS; the linux-x64 one runs alone, from
 * a directory holding nothing else, with no bun on PATH and no node_modules anywhere near it.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { EXPECTED_SCHEMA_VERSION } from "../src/migrate/migrator.ts";
import { createTestEnvironment, type TestEnvironment } from "./support/harness.ts";

const root = new URL("../", import.meta.url).pathname;
let out: string;
let alone: string;
let t: TestEnvironment;

async function run(argv: string[], cwd: string, env: Record<string, string>) {
  const child = Bun.spawn(argv, { cwd, env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), "sluice-release-"));
  alone = mkdtempSync(join(tmpdir(), "sluice-alone-"));
  t = await createTestEnvironment("release");
  expect((await t.sluice("migrate", "up")).code).toBe(0);
}, 60_000);
afterAll(async () => {
  rmSync(out, { recursive: true, force: true });
  rmSync(alone, { recursive: true, force: true });
  await t?.drop();
}, 30_000);

test("bun run release builds linux-x64, linux-arm64 and darwin-arm64 with a SHA256SUMS that checks", async () => {
  const release = await run(["bun", "run", "release", "--out", out], root, process.env as Record<string, string>);
  expect(release.stderr).toContain("3 binaries and SHA256SUMS");
  expect(release.code).toBe(0);
  const names = ["darwin-arm64", "linux-arm64", "linux-x64"].map((target) => `sluice-${pkg.version}-${target}`);
  expect(readdirSync(out).sort()).toEqual(["SHA256SUMS", ...names]);
  const sums = await run(["sha256sum", "-c", "SHA256SUMS"], out, { PATH: "/usr/bin:/bin" });
  expect(sums.code).toBe(0);
  expect(sums.stdout.trim().split("\n").sort()).toEqual(names.map((n) => `${n}: OK`));
  // Each binary is for the platform its name says, by its header: ELF e_machine (x86-64 62,
  // AArch64 183), or Mach-O 64-bit magic with CPU type ARM64 (0x0100000c).
  const header = async (name: string) => new DataView(await Bun.file(join(out, name)).slice(0, 20).arrayBuffer());
  const [darwin, linuxArm, linuxX64] = await Promise.all(names.map(header));
  expect([darwin!.getUint32(0, true), darwin!.getUint32(4, true)]).toEqual([0xfeedfacf, 0x0100000c]);
  expect(linuxArm!.getUint32(0)).toBe(0x7f454c46);
  expect(linuxArm!.getUint16(18, true)).toBe(183);
  expect(linuxX64!.getUint32(0)).toBe(0x7f454c46);
  expect(linuxX64!.getUint16(18, true)).toBe(62);
}, 300_000);

test("the linux-x64 binary alone in a directory: --version, --help, migrate status against the test database", async () => {
  const binary = join(alone, "sluice");
  copyFileSync(join(out, `sluice-${pkg.version}-linux-x64`), binary);
  // No bun, no node, no repository: an empty PATH and the directory holding only the binary.
  const env = { PATH: "/nonexistent", DATABASE_URL: t.apiUrl, HOME: alone };
  const version = await run([binary, "--version"], alone, env);
  expect(version.stdout.trim()).toBe(`sluice ${pkg.version} (database migration ${EXPECTED_SCHEMA_VERSION})`);
  expect(version.code).toBe(0);
  const help = await run([binary, "--help"], alone, env);
  expect(help.code).toBe(0);
  expect(help.stdout).toContain("migrate");
  expect(help.stdout).toContain("--log-format");
  const status = await run([binary, "migrate", "status", "--json", "--exit-code"], alone, env);
  expect(status.stderr).toBe("");
  expect(status.code).toBe(0);
  const migrations = JSON.parse(status.stdout) as { version: number; state: string }[];
  expect(migrations).toHaveLength(EXPECTED_SCHEMA_VERSION);
  expect(migrations.every((m) => m.state === "applied")).toBe(true);
  expect(readdirSync(alone)).toEqual(["sluice"]);
}, 60_000);
