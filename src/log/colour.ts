/**
 * Whether a stream may carry colour: only a terminal, and never under NO_COLOR (https://no-color.org:
 * set and not empty). Help and logs both ask here, so a pipe, a file or NO_COLOR gets plain text.
 */
import { stripVTControlCharacters } from "node:util";

export function colourAllowed(stream: { isTTY?: boolean }, env: Record<string, string | undefined> = process.env): boolean {
  return Boolean(stream.isTTY) && !env.NO_COLOR && env.TERM !== "dumb";
}

/** The text as it may be written to `stream`: escape codes removed where colour is not allowed. */
export function forStream(text: string, stream: { isTTY?: boolean }): string {
  return colourAllowed(stream) ? text : stripVTControlCharacters(text);
}
