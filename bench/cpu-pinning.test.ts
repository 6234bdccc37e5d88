import { describe, expect, test } from "bun:test";
import { parseCpuList } from "./cpu-pinning.ts";

describe("parseCpuList", () => {
  test("single CPUs, lists and ranges, sorted and without repeats", () => {
    expect(parseCpuList("1", 2)).toEqual([1]);
    expect(parseCpuList("3,0-1,1", 8)).toEqual([0, 1, 3]);
  });

  test("refuses CPUs the host lacks, every CPU, and what is not a list", () => {
    expect(() => parseCpuList("2", 2)).toThrow("this host has CPUs 0-1, got 2");
    expect(() => parseCpuList("0-1", 2)).toThrow("leave at least one of CPUs 0-1");
    expect(() => parseCpuList("one", 2)).toThrow("a list of CPU numbers and ranges");
    expect(() => parseCpuList("1-0", 2)).toThrow("a list of CPU numbers and ranges");
    expect(() => parseCpuList("", 2)).toThrow("a list of CPU numbers and ranges");
  });
});
