/** Results go to stdout: JSON for machines with `--json`, aligned text for people. */

let jsonPrinted = false;

export function printJson(value: unknown): void {
  jsonPrinted = true;
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Whether this command has printed its JSON result (so that a failure after it adds no second object). */
export function takeJsonPrinted(): boolean {
  const printed = jsonPrinted;
  jsonPrinted = false;
  return printed;
}

/** Prints rows as aligned columns under a header. */
export function printTable(rows: Record<string, string | number | null>[], columns: string[]): void {
  const cell = (v: string | number | null | undefined) => (v === null || v === undefined ? "-" : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join("  ").trimEnd();
  process.stdout.write(`${line(columns.map((c) => c.toUpperCase()))}\n`);
  for (const r of rows) process.stdout.write(`${line(columns.map((c) => cell(r[c])))}\n`);
}

export function formatTime(date: Date | null): string | null {
  return date ? date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z") : null;
}
