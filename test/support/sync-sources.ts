/**
 * A sync source for tests, loaded as a module source: `count` records `r0001…` in id order, each
 * version `version`; `drop` leaves ids out; `failAfter` throws after that many records; `delayMs`
 * sleeps before each record (to be caught mid-stream by a signal or a second process).
 */
import type { Source, SourceRecord, SourceState } from "../../src/sources/types.ts";

export interface ScriptedOptions {
  count: number;
  version?: string;
  drop?: string[];
  failAfter?: number;
  delayMs?: number;
}

export const scriptedId = (n: number) => `r${String(n).padStart(4, "0")}`;

export class ScriptedSource implements Source {
  readonly ordered = true;
  constructor(private readonly options: ScriptedOptions) {}
  async ping(): Promise<void> {}
  async changed(_state: SourceState | null): Promise<boolean> {
    return true;
  }
  async *docs(): AsyncIterable<SourceRecord> {
    const { count, version = "1", drop = [], failAfter, delayMs } = this.options;
    let given = 0;
    for (let n = 1; n <= count; n++) {
      const id = scriptedId(n);
      if (drop.includes(id)) continue;
      if (failAfter !== undefined && given === failAfter) throw new Error(`scripted failure after ${given} records`);
      if (delayMs) await Bun.sleep(delayMs);
      given++;
      yield { id, version, doc: { id, title: `record ${n}`, version } };
    }
  }
}
