/**
 * Why a bundle is refused. Each reason is counted under `failed` in the job's counters and named in
 * the one line the operator sees; nothing of a refused bundle is published.
 */
import { SluiceError } from "../../errors.ts";

export type RejectReason =
  /** The file is not a (gzip-compressed) tar archive, or the archive is truncated. */
  | "not_a_tar"
  /** An entry name is absolute or climbs out with `..`. */
  | "unsafe_path"
  /** A symlink or hard link entry. */
  | "link_entry"
  /** A device, fifo or other entry that is not a plain file or directory. */
  | "special_entry"
  /** The same path twice in the archive. */
  | "duplicate_entry"
  /** A file larger than --max-file-size, or metadata.txt larger than its cap. */
  | "too_large"
  /** More entries than --max-entries. */
  | "too_many_entries"
  /** metadata.txt is absent. */
  | "missing_metadata"
  /** metadata.txt is not JSON, or lacks or misspells a required field. */
  | "bad_metadata"
  /** A listed file's bytes do not hash to the metadata's hashsum. */
  | "hash_mismatch"
  /** A listed file's size differs from the metadata's size. */
  | "size_mismatch"
  /** A file the metadata lists is not in the archive. */
  | "missing_file"
  /** A file in the archive that the metadata does not list. */
  | "unlisted_file";

export class BundleRejectedError extends SluiceError {
  readonly reason: RejectReason;
  constructor(reason: RejectReason, message: string, hint: string) {
    super(`bundle rejected: ${message}`, { hint });
    this.reason = reason;
  }
}

/** A problem with one listed or archived file; several are gathered before the bundle is refused. */
export interface FileProblem {
  reason: Extract<RejectReason, "hash_mismatch" | "size_mismatch" | "missing_file" | "unlisted_file">;
  path: string;
  detail: string;
}

const FILE_HINTS: Record<FileProblem["reason"], string> = {
  hash_mismatch: "rebuild the bundle from intact files, or correct hashsum in metadata.txt",
  size_mismatch: "rebuild the bundle from intact files, or correct size in metadata.txt",
  missing_file: "add the file to the tar under that path, or remove it from metadata.txt",
  unlisted_file: "list the file in metadata.txt (Files), or leave it out of the tar",
};

/** One error for all file problems: the count by reason and the first problem in full. */
export function fileProblemsError(problems: FileProblem[]): BundleRejectedError {
  const first = problems[0]!;
  const byReason = new Map<string, number>();
  for (const p of problems) byReason.set(p.reason, (byReason.get(p.reason) ?? 0) + 1);
  const counts = [...byReason].map(([r, n]) => `${r} ${n}`).join(", ");
  const more = problems.length > 1 ? ` (${problems.length} problems: ${counts}; \`sluice job show\` lists them)` : "";
  return new BundleRejectedError(first.reason, `${first.path}: ${first.detail}${more}`, FILE_HINTS[first.reason]);
}
