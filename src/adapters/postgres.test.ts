import { describe, expect, test } from "bun:test";
import { databaseFailure, isDatabaseFailure, lostConnectionOf, whileDatabaseReachable } from "./postgres.ts";

/** As postgres.js builds it (src/errors.js `connection`). */
const closed = (port: number) => Object.assign(new Error(`write CONNECTION_CLOSED 127.0.0.1:${port}`), { code: "CONNECTION_CLOSED", errno: "CONNECTION_CLOSED", address: "127.0.0.1", port });

describe("database failures", () => {
  test("postgres.js errors are told apart from others", () => {
    expect(isDatabaseFailure(closed(5432))).toBe(true);
    expect(isDatabaseFailure(Object.assign(new Error("x"), { name: "PostgresError", code: "22001", severity: "ERROR" }))).toBe(true);
    expect(isDatabaseFailure(new TypeError("null is not an object"))).toBe(false);
    expect(isDatabaseFailure(Object.assign(new Error("x"), { code: "ENOSPC" }))).toBe(false);
  });
  test("a lost connection names the variable and masks the password", () => {
    const line = databaseFailure(closed(6543), "postgres://app:s3cret@127.0.0.1:6543/api", "DATABASE_URL", "index image").toLine();
    expect(line).toStartWith("lost the connection to DATABASE_URL (postgres://app:***@127.0.0.1:6543/api) while trying to index image: CONNECTION_CLOSED (");
    expect(line).not.toContain("s3cret");
  });
  test("at the top, the variable is found by the server's address", () => {
    const urls = { DATABASE_URL: "postgres://a:b@127.0.0.1:6543/api", UPSTREAM_DATABASE_URL: "postgres://a:b@127.0.0.1:5432/up" };
    expect(lostConnectionOf(closed(6543), urls)?.message).toBe("lost the connection to DATABASE_URL: CONNECTION_CLOSED");
    expect(lostConnectionOf(closed(5432), urls)?.message).toBe("lost the connection to UPSTREAM_DATABASE_URL: CONNECTION_CLOSED");
    expect(lostConnectionOf(closed(7777), urls)?.message).toBe("lost the connection to PostgreSQL at 127.0.0.1:7777: CONNECTION_CLOSED");
    expect(lostConnectionOf(new Error("other"), urls)).toBeNull();
    // Raised while no socket is open, postgres.js gives its host and port options, one per host.
    const unopened = Object.assign(new Error("write CONNECTION_CLOSED 127.0.0.1:6543"), { code: "CONNECTION_CLOSED", address: ["127.0.0.1"], port: [6543] });
    expect(lostConnectionOf(unopened, urls)?.message).toBe("lost the connection to DATABASE_URL: CONNECTION_CLOSED");
  });
});

describe("whileDatabaseReachable", () => {
  const failing = (...errors: object[]) => {
    let calls = 0;
    const call = async () => {
      const error = errors[calls++];
      if (error) throw Object.assign(new Error("failed"), error);
      return "done";
    };
    return { call, calls: () => calls };
  };
  test("a lost connection and a server starting up are tried again until the database answers", async () => {
    const { call, calls } = failing({ code: "ECONNRESET" }, { code: "57P03", severity: "FATAL" });
    expect(await whileDatabaseReachable(call)).toBe("done");
    expect(calls()).toBe(3);
  }, 10_000);
  test("an error the server gave for the statement is thrown at once", async () => {
    const { call, calls } = failing({ code: "23505", severity: "ERROR" });
    await expect(whileDatabaseReachable(call)).rejects.toMatchObject({ code: "23505" });
    expect(calls()).toBe(1);
  });
});
