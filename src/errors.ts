/**
 * Every error sluice means to show an operator is a SluiceError: a one-line message that names the
 * problem, a hint that names the fix, and the exit code the process ends with. It is thrown where
 * the problem is found and printed once, in `src/cli.ts`, with credentials redacted.
 */

/** Documented exit codes; scripts and timers branch on them. */
export const ExitCode = {
  ok: 0,
  /** A stage or command failed; the job says why. */
  failure: 1,
  /** Bad flags, a bad config file or a missing environment variable. */
  usage: 2,
  /** The database is not at the migration version this binary expects (or migrations drifted). */
  schema: 3,
  /** Another run holds this dataset's lock. */
  locked: 4,
  /** `status --exit-code`: PostgreSQL or Elasticsearch is unreachable (or Elasticsearch is red). */
  unreachable: 5,
  /** `status --exit-code`: a dataset's swap is split, its last run failed, or it is older than `status.maxAgeHours`. */
  unhealthy: 6,
  /** Stopped by SIGINT (128 + 2); SIGTERM uses 143. */
  interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode] | 143;

export interface SluiceErrorOptions {
  /** @default ExitCode.failure */
  exitCode?: ExitCodeValue;
  /** What the operator should do about it, e.g. "run `sluice migrate up`". */
  hint?: string;
  cause?: unknown;
}

export class SluiceError extends Error {
  readonly exitCode: ExitCodeValue;
  readonly hint: string | undefined;
  constructor(message: string, options: SluiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options.exitCode ?? ExitCode.failure;
    this.hint = options.hint;
  }
  /** The same error (class, message, exit code, cause) with another hint. */
  withHint(hint: string): this {
    return Object.create(Object.getPrototypeOf(this), { ...Object.getOwnPropertyDescriptors(this), hint: { value: hint, enumerable: true } });
  }
  /** The single line printed for this error: message, then the fix. (Not `line`: JSC sets that on errors.) */
  toLine(): string {
    return this.hint ? `${this.message} (${this.hint})` : this.message;
  }
}

export class ConfigError extends SluiceError {
  constructor(message: string, hint?: string, cause?: unknown) {
    super(message, { exitCode: ExitCode.usage, hint, cause });
  }
}

export class UsageError extends SluiceError {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: ExitCode.usage, hint });
  }
}

export class SchemaBehindError extends SluiceError {
  constructor(have: number, want: number) {
    super(`database is at migration ${have}; this binary needs ${want}`, {
      exitCode: ExitCode.schema,
      hint: "run `sluice migrate up`",
    });
  }
}

export class SchemaAheadError extends SluiceError {
  constructor(have: number, want: number, appliedBy: string | null) {
    super(`database is at migration ${have}, newer than the ${want} this binary knows`, {
      exitCode: ExitCode.schema,
      hint: appliedBy
        ? `use sluice ${appliedBy} or newer, which applied it`
        : "use the newer sluice binary that applied it",
    });
  }
}

/** The dataset lock's connection dropped, so Postgres let the lock go: another run may now hold it. */
export class DatasetLockLostError extends SluiceError {
  constructor(dataset: string) {
    super(`lost the connection to DATABASE_URL that held dataset ${dataset}'s lock; stopped, since another run may take the dataset now`, {
      hint: "the database restarted or the network dropped; production is untouched, run the command again once PostgreSQL accepts connections",
    });
  }
}

export class DatasetLockedError extends SluiceError {
  constructor(dataset: string, holder: string) {
    super(`dataset ${dataset} is locked by ${holder}`, {
      exitCode: ExitCode.locked,
      hint: "wait for it to finish, or end it with `sluice job set-state ID --state failed` if its process is gone",
    });
  }
}

/** Raised inside a stage when SIGINT or SIGTERM arrives; the stage unwinds and rolls back. */
export class InterruptedError extends SluiceError {
  constructor(signal: "SIGINT" | "SIGTERM") {
    super(`interrupted by ${signal}`, {
      exitCode: signal === "SIGINT" ? ExitCode.interrupted : 143,
      hint: "production was left untouched; run the command again to start over",
    });
  }
}

/** Ends a command that already printed its result with a non-zero status, e.g. `migrate status --exit-code`. */
export class ExitStatusError extends SluiceError {
  constructor(message: string, exitCode: ExitCodeValue, hint?: string) {
    super(message, { exitCode, hint });
  }
}
