/**
 * Progress for long work: a bar with rate and ETA when stderr is a terminal, otherwise one plain
 * line every few seconds so that cron and systemd logs stay readable.
 */
import cliProgress from "cli-progress";
import { LOG_LEVELS } from "../config/env.ts";
import { logger } from "./logger.ts";

export interface Progress {
  /** Adds to the count done. */
  tick(by?: number): void;
  /** Sets the total once it is known (e.g. after counting staging rows). */
  setTotal(total: number): void;
  readonly done: number;
  stop(): void;
}

export interface ProgressOptions {
  label: string;
  unit: string;
  total?: number | null;
  /** @default 5000 ms between plain lines */
  intervalMs?: number;
  /** @default process.stderr.isTTY */
  terminal?: boolean;
}

export function startProgress(options: ProgressOptions): Progress {
  // Under --quiet (or a level below info) a bar would be the only thing said: plain lines, which the level drops.
  const terminal = (options.terminal ?? Boolean(process.stderr.isTTY)) && logger.level >= LOG_LEVELS.info;
  return terminal ? barProgress(options) : lineProgress(options);
}

function barProgress(options: ProgressOptions): Progress {
  let done = 0;
  let total = options.total ?? 0;
  const bar = new cliProgress.SingleBar(
    {
      format: `${options.label} [{bar}] {percentage}% | {value}/{total} ${options.unit} | {rate} ${options.unit}/s | ETA {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = performance.now();
  bar.start(total, 0, { rate: "0" });
  return {
    tick(by = 1) {
      done += by;
      const rate = done / ((performance.now() - started) / 1000);
      bar.update(done, { rate: Math.round(rate).toLocaleString("en-US") });
    },
    setTotal(n) {
      total = n;
      bar.setTotal(n);
    },
    get done() {
      return done;
    },
    stop() {
      bar.stop();
    },
  };
}

function lineProgress(options: ProgressOptions): Progress {
  let done = 0;
  let total = options.total ?? null;
  const started = performance.now();
  const interval = options.intervalMs ?? 5000;
  let lastLine = started;
  const line = () => {
    const seconds = (performance.now() - started) / 1000;
    logger.info(formatProgressLine(options.label, options.unit, done, total, seconds));
  };
  return {
    tick(by = 1) {
      done += by;
      const now = performance.now();
      if (now - lastLine >= interval) {
        lastLine = now;
        line();
      }
    },
    setTotal(n) {
      total = n;
    },
    get done() {
      return done;
    },
    stop() {
      if (done > 0) line();
    },
  };
}

/** "refresh image: 120,000/1,000,000 rows (12%), 45,000 rows/s, ETA 20s" */
export function formatProgressLine(label: string, unit: string, done: number, total: number | null, seconds: number): string {
  const rate = seconds > 0 ? done / seconds : 0;
  const n = (x: number) => Math.round(x).toLocaleString("en-US");
  if (!total) return `${label}: ${n(done)} ${unit}, ${n(rate)} ${unit}/s`;
  const percent = Math.min(100, Math.floor((done / total) * 100));
  const eta = rate > 0 ? Math.max(0, Math.round((total - done) / rate)) : null;
  return `${label}: ${n(done)}/${n(total)} ${unit} (${percent}%), ${n(rate)} ${unit}/s, ETA ${eta === null ? "?" : `${eta}s`}`;
}
