/**
 * The all-or-nothing check: every file metadata.txt lists is in the archive exactly once with its
 * size and hash, and the archive holds nothing it does not list. Pure: what was read in, problems out.
 */
import type { BundleFile, HashType } from "./metadata.ts";
import type { FileProblem } from "./rejection.ts";

/** One file as found in the archive; `digests` is absent when its body was skipped (size already wrong, or unlisted). */
export interface ArchivedFile {
  size: number;
  digests?: Partial<Record<HashType, string>>;
}

export function checkFiles(listed: readonly BundleFile[], archived: ReadonlyMap<string, ArchivedFile>): FileProblem[] {
  const problems: FileProblem[] = [];
  const listedPaths = new Set<string>();
  for (const file of listed) {
    listedPaths.add(file.path);
    const found = archived.get(file.path);
    if (!found) {
      problems.push({ reason: "missing_file", path: file.path, detail: "metadata.txt lists it but the tar does not hold it" });
    } else if (found.size !== file.size) {
      problems.push({ reason: "size_mismatch", path: file.path, detail: `is ${found.size} bytes in the tar, metadata.txt says ${file.size}` });
    } else if (found.digests) {
      const actual = found.digests[file.hashtype];
      if (actual !== file.hashsum) {
        problems.push({ reason: "hash_mismatch", path: file.path, detail: `${file.hashtype} is ${actual ?? "unknown"}, metadata.txt says ${file.hashsum}` });
      }
    }
  }
  for (const path of archived.keys()) {
    if (!listedPaths.has(path)) problems.push({ reason: "unlisted_file", path, detail: "is in the tar but metadata.txt does not list it" });
  }
  return problems;
}
