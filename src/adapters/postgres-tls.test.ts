import { describe, expect, test } from "bun:test";
import { parsePostgresTls, SslModeError } from "./postgres-tls.ts";

describe("parsePostgresTls", () => {
  test("takes the TLS parameters out of the URL and keeps the rest", () => {
    const tls = parsePostgresTls("postgres://u:p@db.example:5432/api?sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=x");
    expect(tls).toEqual({ url: "postgres://u:p@db.example:5432/api?application_name=x", mode: "verify-full", rootCert: "/etc/ca.pem", clientCert: undefined, clientKey: undefined });
  });

  test("no parameters: no mode, the URL unchanged", () => {
    expect(parsePostgresTls("postgres://u@h/db")).toEqual({ url: "postgres://u@h/db", mode: undefined, rootCert: undefined, clientCert: undefined, clientKey: undefined });
  });

  test("require with a root certificate verifies the chain, as libpq does", () => {
    expect(parsePostgresTls("postgres://h/db?sslmode=require&sslrootcert=/ca.pem").mode).toBe("verify-ca");
    expect(parsePostgresTls("postgres://h/db?sslrootcert=/ca.pem").mode).toBe("verify-ca");
    expect(parsePostgresTls("postgres://h/db?sslrootcert=system").mode).toBe("verify-full");
  });

  test("PGSSLMODE and PGSSLROOTCERT fill in what the URL leaves out", () => {
    const tls = parsePostgresTls("postgres://h/db", { PGSSLMODE: "verify-full", PGSSLROOTCERT: "/ca.pem" });
    expect([tls.mode, tls.rootCert]).toEqual(["verify-full", "/ca.pem"]);
    expect(parsePostgresTls("postgres://h/db?sslmode=disable", { PGSSLMODE: "verify-full" }).mode).toBe("disable");
  });

  test("an unknown sslmode is refused", () => {
    expect(() => parsePostgresTls("postgres://h/db?sslmode=verify")).toThrow(SslModeError);
  });

  test("a URL that is not a WHATWG URL (several hosts) is left to postgres.js", () => {
    expect(parsePostgresTls("postgres://u@h1:5432,h2:5433/db").url).toBe("postgres://u@h1:5432,h2:5433/db");
  });
});
