import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { migrationSources } from "../../migrations/index.ts";
import { parseMigration, parseMigrations } from "./parse.ts";

describe("parseMigration", () => {
  test("splits the two sections and checksums the file", () => {
    const m = parseMigration("0002_add_x.sql", "-- note\n-- migrate:up\nCREATE TABLE x();\n-- migrate:down\nDROP TABLE x;\n");
    expect(m).toMatchObject({ version: 2, name: "add_x", up: "CREATE TABLE x();", down: "DROP TABLE x;" });
    expect(m.checksum).toHaveLength(64);
  });
  test("CRLF files checksum like LF files", () => {
    const lf = parseMigration("0001_a.sql", "-- migrate:up\nA;\n-- migrate:down\nB;\n");
    const crlf = parseMigration("0001_a.sql", "-- migrate:up\r\nA;\r\n-- migrate:down\r\nB;\r\n");
    expect(crlf.checksum).toBe(lf.checksum);
  });
  test.each([
    ["1_bad.sql", "-- migrate:up\nA;\n-- migrate:down\nB;", /must be named/],
    ["0001_a.sql", "A;", /needs a "-- migrate:up" section/],
    ["0001_a.sql", "-- migrate:down\nB;\n-- migrate:up\nA;", /needs a "-- migrate:up" section/],
    ["0001_a.sql", "-- migrate:up\n-- migrate:down\nB;", /empty up section/],
    ["0001_a.sql", "-- migrate:up\nA;\n-- migrate:down\n", /empty down section/],
  ])("rejects %s", (file, text, message) => expect(() => parseMigration(file, text)).toThrow(message));
  test("versions must have no gaps", () => {
    const ok = "-- migrate:up\nA;\n-- migrate:down\nB;";
    expect(() => parseMigrations([{ file: "0001_a.sql", text: ok }, { file: "0003_c.sql", text: ok }])).toThrow(/1, 2, 3/);
  });
});

test("every .sql file in migrations/ is embedded", () => {
  const onDisk = readdirSync(new URL("../../migrations/", import.meta.url)).filter((f) => f.endsWith(".sql")).sort();
  expect(migrationSources.map((s) => s.file).sort()).toEqual(onDisk);
  expect(parseMigrations(migrationSources).length).toBe(onDisk.length);
});
