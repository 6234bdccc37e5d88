/**
 * Whether a process of this host still runs: how the blob store and ingest tell a dead process's
 * leftovers (temp files, staging directories) from a live one's, which they must not touch.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
