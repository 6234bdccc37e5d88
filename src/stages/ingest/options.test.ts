import { expect, test } from "bun:test";
import { formatBytes, parseByteSize } from "./options.ts";

test("parses sizes with binary units", () => {
  expect(parseByteSize("max-file-size", "512")).toBe(512);
  expect(parseByteSize("max-file-size", "64K")).toBe(65536);
  expect(parseByteSize("max-file-size", "64KiB")).toBe(65536);
  expect(parseByteSize("max-file-size", "1.5g")).toBe(1610612736);
  expect(parseByteSize("max-file-size", "2 MB")).toBe(2097152);
  for (const bad of ["", "0", "-5", "ten", "5X", "1e9"]) expect(() => parseByteSize("max-file-size", bad)).toThrow("--max-file-size must be a size");
});

test("formats sizes for messages", () => {
  expect(formatBytes(4)).toBe("4 bytes");
  expect(formatBytes(10 * 1024 ** 3)).toBe("10 GiB");
  expect(formatBytes(1536)).toBe("1.5 KiB");
});
