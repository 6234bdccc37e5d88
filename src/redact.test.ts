import { describe, expect, test } from "bun:test";
import { maskUrl, redact, registerSecretsOf } from "./redact.ts";

describe("maskUrl", () => {
  test.each([
    ["postgres://app:hunter2@db:5432/api", "postgres://app:***@db:5432/api"],
    ["postgres://app@db/api", "postgres://app@db/api"],
    ["http://127.0.0.1:9200", "http://127.0.0.1:9200/"],
    ["https://hooks.slack.com/services/T0/B0/XYZ", "https://hooks.slack.com/***"],
  ])("%s", (input, expected) => expect(maskUrl(input)).toBe(expected));
});

describe("redact", () => {
  test("masks URL passwords inside free text", () => {
    expect(redact("connect postgres://u:p4ss@h/d failed")).toBe("connect postgres://u:***@h/d failed");
  });
  test("removes registered secrets that appear bare", () => {
    registerSecretsOf("postgres://u:s3cr3t-pw@h/d");
    expect(redact('password authentication failed: "s3cr3t-pw"')).not.toContain("s3cr3t-pw");
  });
});
