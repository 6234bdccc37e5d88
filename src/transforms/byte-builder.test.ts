import { describe, expect, test } from "bun:test";
import { ByteBuilder } from "./byte-builder.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("ByteBuilder", () => {
  test("lines of bytes and text come out as UTF-8, each ended by LF", () => {
    const b = new ByteBuilder(4);
    b.appendLine(new TextEncoder().encode("a\tb")).appendLine("é✓😀").appendText("x");
    expect(text(b.take())).toBe("a\tb\né✓😀\nx");
  });

  test("grows past its initial capacity without losing bytes", () => {
    const b = new ByteBuilder(8);
    const lines = Array.from({ length: 1000 }, (_, i) => `line ${i} ${"ü".repeat(i % 7)}`);
    for (const l of lines) b.appendLine(l);
    expect(text(b.take())).toBe(`${lines.join("\n")}\n`);
  });

  test("a taken buffer is not overwritten by later appends", () => {
    const b = new ByteBuilder(16);
    b.appendLine("first");
    const first = b.take();
    b.appendLine("second, longer than the first");
    expect(text(first)).toBe("first\n");
    expect(b.length).toBe(30);
  });

  test("view returns a range of what was written", () => {
    const b = new ByteBuilder();
    b.appendLine("ab").appendLine("cd");
    expect(text(b.view(3, 6))).toBe("cd\n");
  });

  test("integers are written big-endian, negative ones in two's complement", () => {
    const b = new ByteBuilder(1);
    b.appendInt16(-1).appendInt16(26).appendInt32(-1).appendInt32(0x01020304);
    expect([...b.take()]).toEqual([0xff, 0xff, 0x00, 0x1a, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]);
  });

  test("a recycled buffer is written again; one not given back never is", () => {
    const b = new ByteBuilder(8);
    b.appendText("one");
    const first = b.take();
    b.appendText("two");
    const second = b.take();
    b.recycle(first);
    b.recycle(new Uint8Array(8)); // not one of its own: ignored
    b.appendText("333");
    b.take();
    b.appendText("444");
    const fourth = b.take();
    expect(fourth.buffer).toBe(first.buffer);
    expect(text(fourth)).toBe("444");
    expect(text(second)).toBe("two");
    b.recycle(first); // twice: ignored
    b.appendText("a longer line than eight bytes");
    expect(text(b.take())).toBe("a longer line than eight bytes");
  });

  test("keeps at most maxSpare recycled buffers", () => {
    const b = new ByteBuilder(8, 1);
    const taken = [0, 1, 2].map((i) => b.appendText(String(i)).take());
    for (const t of taken) b.recycle(t);
    // The buffer being filled was made at the third take; the next is the one spare kept, then a fresh one.
    const again = ["a", "b", "c"].map((s) => b.appendText(s).take());
    expect(again[1]!.buffer).toBe(taken[0]!.buffer);
    expect(taken.map((t) => t.buffer)).not.toContain(again[2]!.buffer);
    expect(again.map(text)).toEqual(["a", "b", "c"]);
  });
});
