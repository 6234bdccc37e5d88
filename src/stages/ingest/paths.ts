/**
 * Paths inside a bundle, normalized the way Pacifica joins `subdir` and `name`: empty and `.`
 * segments dropped, so "data//a/b/" + "foo.txt" and "./data/a/b/foo.txt" are both
 * "data/a/b/foo.txt". Unicode is compared in NFC, so a name typed on macOS matches its tar entry.
 */

export type UnsafePath = "absolute" | "parent" | "nul" | "empty";

/** "data//a/./b/" → { path: "data/a/b" }; "../etc" → { unsafe: "parent" }; "/etc" → { unsafe: "absolute" } */
export function normalizeBundlePath(raw: string): { path: string } | { unsafe: UnsafePath } {
  if (raw.includes("\0")) return { unsafe: "nul" };
  if (raw.startsWith("/") || /^[A-Za-z]:[\\/]/.test(raw)) return { unsafe: "absolute" };
  const segments = raw.normalize("NFC").split("/").filter((s) => s !== "" && s !== ".");
  if (segments.some((s) => s === ".." || s.split("\\").includes(".."))) return { unsafe: "parent" };
  if (segments.length === 0) return { unsafe: "empty" };
  return { path: segments.join("/") };
}

export const UNSAFE_PATH_TEXT: Record<UnsafePath, string> = {
  absolute: "is an absolute path",
  parent: "climbs out of the bundle with ..",
  nul: "holds a NUL byte",
  empty: "is empty",
};
