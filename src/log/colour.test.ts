import { expect, test } from "bun:test";
import { colourAllowed } from "./colour.ts";

test.each([
  [{ isTTY: true }, {}, true],
  [{ isTTY: true }, { NO_COLOR: "1" }, false],
  [{ isTTY: true }, { NO_COLOR: "yes" }, false],
  // no-color.org: an empty NO_COLOR does not count.
  [{ isTTY: true }, { NO_COLOR: "" }, true],
  [{ isTTY: true }, { TERM: "dumb" }, false],
  [{ isTTY: false }, {}, false],
  [{}, {}, false],
] as const)("stream %j, env %j: colour %p", (stream, env, expected) => {
  expect(colourAllowed(stream, env)).toBe(expected);
});
