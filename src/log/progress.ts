/**
 * Progress for long work: a bar with rate and ETA when stderr is a terminal, otherwise one plain
 * line every few seconds so that cron and systemd logs stay readable.
 */
import { clearLine, cursorTo } from "node:readline";
import cliProgress from "cli-progress";
import { LOG_LEVELS } from "../config/env.ts";
import { logger, setStatusLine } from "./logger.ts";

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
  /** Where the bar is drawn. @default process.stderr */
  stream?: NodeJS.WriteStream;
  /** Milliseconds, for tests. @default performance.now */
  clock?: () => number;
}

export function startProgress(options: ProgressOptions): Progress {
  // Under --quiet (or a level below info) a bar would be the only thing said: plain lines, which the level drops.
  const terminal = (options.terminal ?? Boolean(process.stderr.isTTY)) && logger.level >= LOG_LEVELS.info;
  return terminal ? barProgress(options) : lineProgress(options);
}

/**
 * The bar computes its figures with progressFigures, as the plain lines do, from the count and the
 * time since the start. cli-progress's own ETA divides by the time spanned by its last N updates;
 * ticks that arrive together (a COPY chunk, a batch of downloads finishing at once) span 0 ms, the
 * rate comes out infinite and the ETA `0s` however much is left.
 */
function barProgress(options: ProgressOptions): Progress {
  const clock = options.clock ?? (() => performance.now());
  const stream = options.stream ?? process.stderr;
  let done = 0;
  const started = clock();
  const bar = new cliProgress.SingleBar(
    {
      format: (format, params) =>
        `${options.label} [${cliProgress.Format.BarFormat(params.progress, format)}] ${progressFigures(options.unit, params.value, params.total || null, (clock() - started) / 1000)}`,
      stream,
      hideCursor: true,
      fps: 5,
      // Redraw even when nothing changed, so that the time-based ETA moves and a log line printed over the bar is drawn over again.
      forceRedraw: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(options.total ?? 0, 0);
  // A log line takes the bar's row: the bar is wiped, the line printed, the bar drawn again under it.
  setStatusLine({
    clear: () => {
      cursorTo(stream, 0);
      clearLine(stream, 0);
    },
    redraw: () => bar.render(),
  });
  return {
    tick(by = 1) {
      done += by;
      bar.update(done);
    },
    setTotal(n) {
      bar.setTotal(n);
    },
    get done() {
      return done;
    },
    stop() {
      setStatusLine(null);
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

/**
 * Seconds left at the average rate since the start, or null before anything is done. The whole run's
 * average, not a window of recent updates: work arrives in bursts (chunks, batches), and a window
 * can span no time at all.
 */
export function etaSeconds(done: number, total: number, seconds: number): number | null {
  if (done <= 0 || seconds <= 0) return null;
  return Math.max(0, Math.round(((total - done) * seconds) / done));
}

/** "1h02m", "3m05s", "42s" */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const pad = (x: number) => String(x).padStart(2, "0");
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
}

/** "0.3 s" from milliseconds: for start-up timings, where formatDuration's whole seconds are too coarse. */
export function tenthsOfSecond(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** "120,000/1,000,000 rows (12%), 45,000 rows/s, ETA 20s" */
export function progressFigures(unit: string, done: number, total: number | null, seconds: number): string {
  const rate = seconds > 0 ? done / seconds : 0;
  const n = (x: number) => Math.round(x).toLocaleString("en-US");
  if (!total) return `${n(done)} ${unit}, ${n(rate)} ${unit}/s`;
  const percent = Math.min(100, Math.floor((done / total) * 100));
  const eta = etaSeconds(done, total, seconds);
  return `${n(done)}/${n(total)} ${unit} (${percent}%), ${n(rate)} ${unit}/s, ETA ${eta === null ? "?" : formatDuration(eta)}`;
}

/** "refresh image: 120,000/1,000,000 rows (12%), 45,000 rows/s, ETA 20s" */
export function formatProgressLine(label: string, unit: string, done: number, total: number | null, seconds: number): string {
  return `${label}: ${progressFigures(unit, done, total, seconds)}`;
}
