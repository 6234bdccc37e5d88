/**
 * Validates COPY values against a target PostgreSQL column type before they are sent to
 * `COPY ... FROM`, so that one bad row can be counted and skipped instead of aborting the
 * whole COPY.
 *
 * The checks follow PostgreSQL's type input functions (int4in, float8in, numeric_in,
 * boolin, uuid_in, json_in/jsonb_in, varchar, timestamp_in, array_in). Where versions
 * differ (PG 16 added `0x`/`_` integer literals, PG 14 numeric Infinity) we accept only
 * what every supported version accepts: rejecting a value PostgreSQL would take costs one
 * skipped row, accepting one it would refuse costs the whole COPY.
 */

/** Why a value cannot be stored in a column. */
export const FAILURE_REASONS = [
  "invalid_json",
  "integer_out_of_range",
  "invalid_integer",
  "invalid_uuid",
  "value_too_long",
  "invalid_boolean",
  "invalid_number",
  "number_out_of_range",
  "invalid_timestamp",
  "invalid_array",
  "invalid_utf8",
  "contains_nul",
  "null_key",
] as const;

/** Why a value cannot be stored in a column: one of `FAILURE_REASONS`. */
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** A compiled check for one column type: `null` when the value is acceptable. */
export type PgValueCheck = (text: string) => FailureReason | null;

/**
 * Checks one value against a PostgreSQL type.
 *
 * `text` is the value as the type's input function sees it, that is after COPY
 * unescaping (what `splitCopyLine` returns), never the `\N` marker. `pgType` is a type as
 * written in DDL or `format_type`: `integer`, `character varying(80)`, `jsonb`,
 * `timestamp with time zone`, `character varying(80)[]`, `_int4`, ... Types this module
 * does not know are accepted unchecked (apart from NUL characters and invalid UTF-16).
 */
export function checkPgValue(text: string, pgType: string): FailureReason | null {
  return compilePgTypeCheck(pgType)(text);
}

/**
 * Checks a possibly-NULL value: NULL fails with `null_key` when the column is NOT NULL
 * (or part of a key), otherwise NULL always passes.
 */
export function checkPgField(
  value: string | null,
  pgType: string,
  options: { notNull?: boolean } = {},
): FailureReason | null {
  if (value === null) return options.notNull ? "null_key" : null;
  return checkPgValue(value, pgType);
}

const compiled = new Map<string, PgValueCheck>();

/**
 * Returns the check for a type, parsed once and cached; use it in loops over millions of
 * values instead of `checkPgValue`.
 */
export function compilePgTypeCheck(pgType: string): PgValueCheck {
  let check = compiled.get(pgType);
  if (!check) {
    const inner = buildCheck(normalizeTypeName(pgType));
    check = (text) => {
      // Every type's input goes through the server encoding check first.
      if (text.indexOf("\0") !== -1) return "contains_nul";
      if (!text.isWellFormed()) return "invalid_utf8";
      return inner(text);
    };
    compiled.set(pgType, check);
  }
  return check;
}

function normalizeTypeName(pgType: string): string {
  return pgType.trim().toLowerCase().replace(/\s+/g, " ").replace(/\s*([()[\],])\s*/g, "$1");
}

// Short spellings → format_type's; anchored so that `int4[]` maps too but `timestamp(3) …` is left.
const TYPE_ALIASES: readonly [RegExp, string][] = [
  [/^varchar\b/, "character varying"],
  [/^(bpchar|char)\b/, "character"],
  [/^timestamptz(?=\[|$)/, "timestamp with time zone"],
  [/^timestamp(?=\[|$)/, "timestamp without time zone"],
  [/^timetz(?=\[|$)/, "time with time zone"],
  [/^time(?=\[|$)/, "time without time zone"],
  [/^(int4|int)(?=\[|$)/, "integer"],
  [/^int8(?=\[|$)/, "bigint"],
  [/^int2(?=\[|$)/, "smallint"],
  [/^float8(?=\[|$)/, "double precision"],
  [/^float4(?=\[|$)/, "real"],
  [/^bool(?=\[|$)/, "boolean"],
  [/^decimal\b/, "numeric"],
];

/**
 * A type as `format_type` spells it, so that two spellings of one type compare equal:
 * `varchar(80)` → `character varying(80)`, `INT8` → `bigint`. Modifiers stay.
 */
export function canonicalTypeName(pgType: string): string {
  let name = normalizeTypeName(pgType);
  for (const [alias, canonical] of TYPE_ALIASES) name = name.replace(alias, canonical);
  return name;
}

const ARRAY_SUFFIX = /(\[\d*\])+$/;

function buildCheck(type: string): (text: string) => FailureReason | null {
  if (ARRAY_SUFFIX.test(type)) return arrayCheck(buildCheck(type.replace(ARRAY_SUFFIX, "")));
  // format_type spells arrays with [], the catalog (pg_type.typname) with a leading _.
  if (type.startsWith("_")) return arrayCheck(buildCheck(type.slice(1)));

  switch (type) {
    case "smallint":
    case "int2":
      return integerCheck("32767");
    case "integer":
    case "int":
    case "int4":
      return integerCheck("2147483647");
    case "bigint":
    case "int8":
      return integerCheck("9223372036854775807");
    case "real":
    case "float4":
      return floatCheck(true);
    case "double precision":
    case "float8":
    case "float":
      return floatCheck(false);
    case "numeric":
    case "decimal":
      return numericCheck(null, 0);
    case "boolean":
    case "bool":
      return booleanCheck;
    case "uuid":
      return uuidCheck;
    case "json":
      return jsonCheck(false);
    case "jsonb":
      return jsonCheck(true);
    case "date":
      return timestampCheck(DATE_MAX_YEAR);
    case "text":
    case "varchar":
    case "character varying":
    case "bpchar":
      return acceptAny;
  }

  let m = /^(?:numeric|decimal)\((\d+)(?:,(\d+))?\)$/.exec(type);
  if (m) return numericCheck(Number(m[1]), Number(m[2] ?? 0));
  m = /^float\((\d+)\)$/.exec(type);
  if (m) return floatCheck(Number(m[1]) <= 24);
  m = /^(?:character varying|varchar|character|char|bpchar)\((\d+)\)$/.exec(type);
  if (m) return lengthCheck(Number(m[1]));
  if (type === "character" || type === "char") return lengthCheck(1);
  if (/^timestamp(?:\(\d\))?(?: with(?:out)? time zone)?$|^timestamptz(?:\(\d\))?$/.test(type)) {
    return timestampCheck(TIMESTAMP_MAX_YEAR);
  }
  return acceptAny;
}

const acceptAny = (): null => null;

// ---------------------------------------------------------------- integers

// isspace() in the C locale, which pg_strtoint* skips on both sides.
const INTEGER_SYNTAX = /^[ \t\n\r\v\f]*([+-]?)0*(\d+)[ \t\n\r\v\f]*$/;

function integerCheck(max: string): (text: string) => FailureReason | null {
  // |min| is |max| + 1; all maxima end in 7 so the last digit just goes up by one.
  const minMagnitude = max.slice(0, -1) + String(Number(max.slice(-1)) + 1);
  return (text) => {
    const m = INTEGER_SYNTAX.exec(text);
    if (!m) return "invalid_integer";
    const digits = m[2] as string;
    const limit = m[1] === "-" ? minMagnitude : max;
    // Equal-length digit strings compare like the numbers they spell.
    if (digits.length > limit.length || (digits.length === limit.length && digits > limit)) {
      return "integer_out_of_range";
    }
    return null;
  };
}

// ---------------------------------------------------------------- floating point

const FLOAT_SYNTAX = /^[ \t\n\r\v\f]*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[ \t\n\r\v\f]*$/;
const FLOAT_SPECIAL = /^[ \t\n\r\v\f]*(?:nan|[+-]?inf(?:inity)?)[ \t\n\r\v\f]*$/i;
const NONZERO_MANTISSA = /^[^eE]*[1-9]/;

function floatCheck(single: boolean): (text: string) => FailureReason | null {
  return (text) => {
    if (!FLOAT_SYNTAX.test(text)) return FLOAT_SPECIAL.test(text) ? null : "invalid_number";
    const value = Number(text);
    const stored = single ? Math.fround(value) : value;
    // float8in/float4in refuse overflow to infinity and underflow of a nonzero value to 0.
    if (!Number.isFinite(stored)) return "number_out_of_range";
    if (stored === 0 && NONZERO_MANTISSA.test(text)) return "number_out_of_range";
    return null;
  };
}

// ---------------------------------------------------------------- numeric

const NUMERIC_SYNTAX = /^[ \t\n\r\v\f]*[+-]?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?[ \t\n\r\v\f]*$/;
const NUMERIC_NAN = /^[ \t\n\r\v\f]*nan[ \t\n\r\v\f]*$/i;
// PostgreSQL up to 14 refuses exponents beyond NUMERIC_MAX_PRECISION as a syntax error.
const NUMERIC_MAX_EXPONENT = 1000;
// numeric's storage limits: digits before the point and display scale (NUMERIC_DSCALE_MAX).
const NUMERIC_MAX_INTEGER_DIGITS = 131072;
const NUMERIC_MAX_SCALE = 16383;

function numericCheck(precision: number | null, scale: number): (text: string) => FailureReason | null {
  return (text) => {
    const m = NUMERIC_SYNTAX.exec(text);
    if (!m) return NUMERIC_NAN.test(text) ? null : "invalid_number";
    const intDigits = m[1] ?? "";
    const fracDigits = m[2] ?? "";
    if (intDigits.length === 0 && fracDigits.length === 0) return "invalid_number";
    const exponent = m[3] === undefined ? 0 : Number(m[3]);
    if (Math.abs(exponent) > NUMERIC_MAX_EXPONENT) return "invalid_number";
    const digits = intDigits + fracDigits;
    const pointAt = intDigits.length + exponent;
    if (fracDigits.length - exponent > NUMERIC_MAX_SCALE) return "number_out_of_range";
    const firstNonZero = digits.search(/[1-9]/);
    if (firstNonZero !== -1 && pointAt - firstNonZero > NUMERIC_MAX_INTEGER_DIGITS) return "number_out_of_range";
    if (precision === null) return null;
    return integerDigitsAfterRounding(digits, pointAt, scale) > precision - scale ? "number_out_of_range" : null;
  };
}

/** How many integer digits `digits` (decimal point after `pointAt` digits) has once rounded to `scale` places. */
function integerDigitsAfterRounding(digits: string, pointAt: number, scale: number): number {
  let all = digits;
  let point = pointAt;
  if (point < 0) {
    all = "0".repeat(-point) + all;
    point = 0;
  }
  if (point > all.length) all = all.padEnd(point, "0");
  let kept = all.slice(0, point + scale).padEnd(point + scale, "0");
  const firstDropped = all.charCodeAt(point + scale);
  if (firstDropped >= 0x35 /* '5' */) kept = incrementDigits(kept);
  const significant = kept.replace(/^0+/, "");
  return Math.max(0, significant.length - scale);
}

function incrementDigits(digits: string): string {
  let i = digits.length - 1;
  while (i >= 0 && digits[i] === "9") i--;
  if (i < 0) return "1" + "0".repeat(digits.length);
  return digits.slice(0, i) + String.fromCharCode(digits.charCodeAt(i) + 1) + "0".repeat(digits.length - i - 1);
}

// ---------------------------------------------------------------- boolean

// boolin: any unambiguous prefix of true/false/yes/no, on/off, 1/0; case-insensitive.
const BOOLEAN_SYNTAX = /^[ \t\n\r\v\f]*(?:t(?:r(?:ue?)?)?|f(?:a(?:l(?:se?)?)?)?|y(?:es?)?|no?|on|off?|1|0)[ \t\n\r\v\f]*$/i;

function booleanCheck(text: string): FailureReason | null {
  return BOOLEAN_SYNTAX.test(text) ? null : "invalid_boolean";
}

// ---------------------------------------------------------------- uuid

// uuid_in: 32 hex digits, a hyphen allowed after any group of four, optionally in braces.
const UUID_SYNTAX = /^(?:[0-9a-f]{4}(?:-?[0-9a-f]{4}){7}|\{[0-9a-f]{4}(?:-?[0-9a-f]{4}){7}\})$/i;

function uuidCheck(text: string): FailureReason | null {
  return UUID_SYNTAX.test(text) ? null : "invalid_uuid";
}

// ---------------------------------------------------------------- json

function jsonCheck(binary: boolean): (text: string) => FailureReason | null {
  return (text) => {
    try {
      JSON.parse(text);
    } catch {
      return "invalid_json";
    }
    return binary && text.indexOf("\\u") !== -1 ? checkJsonbUnicodeEscapes(text) : null;
  };
}

/**
 * JSON.parse takes escapes jsonb refuses when it decodes strings: an unpaired surrogate and
 * `\u0000`. (json keeps the text as is and only checks the syntax.) The text already
 * parsed, so every backslash starts an escape inside a string.
 */
function checkJsonbUnicodeEscapes(text: string): FailureReason | null {
  let i = text.indexOf("\\");
  let pendingHigh = false;
  let lastEscapeEnd = -1;
  while (i !== -1) {
    if (pendingHigh && i !== lastEscapeEnd) return "invalid_json";
    if (text[i + 1] !== "u") {
      if (pendingHigh) return "invalid_json";
      i = text.indexOf("\\", i + 2);
      continue;
    }
    const code = parseInt(text.slice(i + 2, i + 6), 16);
    lastEscapeEnd = i + 6;
    if (code >= 0xdc00 && code <= 0xdfff) {
      if (!pendingHigh) return "invalid_json";
      pendingHigh = false;
    } else {
      if (pendingHigh) return "invalid_json";
      if (code >= 0xd800 && code <= 0xdbff) pendingHigh = true;
      else if (code === 0) return "invalid_json";
    }
    i = text.indexOf("\\", lastEscapeEnd);
  }
  return pendingHigh ? "invalid_json" : null;
}

// ---------------------------------------------------------------- character types

function lengthCheck(max: number): (text: string) => FailureReason | null {
  return (text) => {
    // UTF-16 length is an upper bound on the character count: the usual case costs nothing.
    if (text.length <= max) return null;
    let chars = 0;
    let cutAt = -1;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code >= 0xdc00 && code <= 0xdfff) continue; // second half of a pair
      chars++;
      if (chars === max + 1) cutAt = i;
    }
    if (chars <= max) return null;
    // varchar(n)/char(n) silently drop excess characters when they are all spaces.
    for (let i = cutAt; i < text.length; i++) if (text.charCodeAt(i) !== 0x20) return "value_too_long";
    return null;
  };
}

// ---------------------------------------------------------------- date and time

const TIMESTAMP_MAX_YEAR = 294276;
const DATE_MAX_YEAR = 5874897;

const TIMESTAMP_SYNTAX = new RegExp(
  "^\\s*(\\d{4,})-(\\d{1,2})-(\\d{1,2})" +
    "(?:(?:T|\\s+)(\\d{1,2}):(\\d{2})(?::(\\d{2})(?:\\.(\\d+))?)?" +
    "\\s*(?:Z|UTC|GMT|[+-](\\d{1,2})(?::?(\\d{2})(?::?(\\d{2}))?)?)?)?" +
    "(?:\\s+(BC|AD))?\\s*$",
  "i",
);
const TIMESTAMP_SPECIAL = /^\s*(?:[+-]?infinity|epoch)\s*$/i;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function timestampCheck(maxYear: number): (text: string) => FailureReason | null {
  return (text) => {
    const m = TIMESTAMP_SYNTAX.exec(text);
    if (!m) return TIMESTAMP_SPECIAL.test(text) ? null : "invalid_timestamp";
    const year = Number(m[1]);
    const month = Number(m[2]);
    const day = Number(m[3]);
    const bc = (m[11] ?? "").toUpperCase() === "BC";
    // There is no year 0; 1 BC is the astronomical year 0 for the leap-year rule.
    if (year < 1 || year > (bc ? 4713 : maxYear)) return "invalid_timestamp";
    if (month < 1 || month > 12) return "invalid_timestamp";
    const astronomical = bc ? 1 - year : year;
    const leap = astronomical % 4 === 0 && (astronomical % 100 !== 0 || astronomical % 400 === 0);
    const monthDays = month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] as number);
    if (day < 1 || day > monthDays) return "invalid_timestamp";
    if (m[4] !== undefined) {
      const hour = Number(m[4]);
      const minute = Number(m[5]);
      const second = m[6] === undefined ? 0 : Number(m[6]);
      const fraction = m[7] === undefined ? 0 : Number(`0.${m[7]}`);
      if (minute > 59 || hour > 24 || second > 60) return "invalid_timestamp";
      if (hour === 24 && (minute > 0 || second > 0 || fraction > 0)) return "invalid_timestamp";
      if (second === 60 && fraction > 0) return "invalid_timestamp";
      if (m[8] !== undefined && (Number(m[8]) > 15 || Number(m[9] ?? 0) > 59 || Number(m[10] ?? 0) > 59)) {
        return "invalid_timestamp";
      }
    }
    return null;
  };
}

// ---------------------------------------------------------------- arrays

const MAX_ARRAY_DIMENSIONS = 6;
const ARRAY_SPACE = /[ \t\n\r\v\f]/;

/**
 * array_in's syntax: `{a,"b c",NULL,{...}}` with optional `[lo:hi]...=` bounds; rectangular
 * sub-arrays; backslash escapes in quoted and unquoted elements; unquoted NULL is null.
 */
function arrayCheck(element: (text: string) => FailureReason | null): (text: string) => FailureReason | null {
  return (text) => {
    const parsed = parseArrayLiteral(text);
    if (parsed === null) return "invalid_array";
    for (const value of parsed) {
      if (value === null) continue;
      const reason = element(value);
      if (reason) return reason;
    }
    return null;
  };
}

/**
 * Parses an array literal into its elements, flattened in storage order, or returns null
 * when array_in would refuse the syntax or the shape.
 */
export function parseArrayLiteral(text: string): (string | null)[] | null {
  const parser = new ArrayLiteralParser(text);
  return parser.parse();
}

class ArrayLiteralParser {
  private i = 0;
  private readonly values: (string | null)[] = [];

  constructor(private readonly text: string) {}

  parse(): (string | null)[] | null {
    this.skipSpace();
    const declared = this.text[this.i] === "[" ? this.parseDimensions() : undefined;
    if (declared === null) return null;
    if (this.text[this.i] !== "{") return null;
    const dims = this.parseLevel(1);
    if (dims === null) return null;
    this.skipSpace();
    if (this.i !== this.text.length) return null;
    if (declared && (declared.length !== dims.length || declared.some((d, k) => d !== dims[k]))) return null;
    return this.values;
  }

  private skipSpace(): void {
    while (this.i < this.text.length && ARRAY_SPACE.test(this.text[this.i] as string)) this.i++;
  }

  /** `[lo:hi][lo:hi]=` → the length of each dimension. */
  private parseDimensions(): number[] | null {
    const lengths: number[] = [];
    while (this.text[this.i] === "[") {
      const m = /^\[([+-]?\d+)(?::([+-]?\d+))?\]/.exec(this.text.slice(this.i, this.i + 40));
      if (!m) return null;
      const lower = m[2] === undefined ? 1 : Number(m[1]);
      const upper = Number(m[2] ?? m[1]);
      if (upper < lower) return null;
      lengths.push(upper - lower + 1);
      this.i += m[0].length;
    }
    this.skipSpace();
    if (this.text[this.i] !== "=") return null;
    this.i++;
    this.skipSpace();
    return lengths;
  }

  /** Parses `{...}` at this.i; returns its shape (length of each dimension), or null. */
  private parseLevel(depth: number): number[] | null {
    if (depth > MAX_ARRAY_DIMENSIONS) return null;
    this.i++; // '{'
    this.skipSpace();
    if (this.text[this.i] === "}") {
      this.i++;
      // Only the whole array may be empty: "{{},{}}" is refused.
      return depth === 1 ? [] : null;
    }
    let items = 0;
    let holdsSubArrays: boolean | undefined;
    let childShape: number[] | undefined;
    for (;;) {
      this.skipSpace();
      if (this.text[this.i] === "{") {
        if (holdsSubArrays === false) return null;
        holdsSubArrays = true;
        const shape = this.parseLevel(depth + 1);
        if (shape === null) return null;
        if (childShape === undefined) childShape = shape;
        else if (shape.length !== childShape.length || shape.some((d, k) => d !== childShape?.[k])) return null;
      } else {
        if (holdsSubArrays === true) return null;
        holdsSubArrays = false;
        if (!this.parseElement()) return null;
      }
      items++;
      this.skipSpace();
      const c = this.text[this.i];
      this.i++;
      if (c === ",") continue;
      if (c === "}") return [items, ...(childShape ?? [])];
      return null;
    }
  }

  private parseElement(): boolean {
    const text = this.text;
    const n = text.length;
    let value = "";
    if (text[this.i] === '"') {
      this.i++;
      for (;;) {
        if (this.i >= n) return false;
        const ch = text[this.i] as string;
        if (ch === "\\") {
          if (this.i + 1 >= n) return false;
          value += text[this.i + 1];
          this.i += 2;
        } else if (ch === '"') {
          this.i++;
          this.values.push(value);
          return true;
        } else {
          value += ch;
          this.i++;
        }
      }
    }
    let protectedLength = 0; // escaped characters are never trimmed
    for (;;) {
      if (this.i >= n) return false;
      const ch = text[this.i] as string;
      if (ch === "," || ch === "}") break;
      if (ch === "{" || ch === '"') return false;
      if (ch === "\\") {
        if (this.i + 1 >= n) return false;
        value += text[this.i + 1];
        protectedLength = value.length;
        this.i += 2;
      } else {
        value += ch;
        this.i++;
      }
    }
    let end = value.length;
    while (end > protectedLength && ARRAY_SPACE.test(value[end - 1] as string)) end--;
    value = value.slice(0, end);
    if (value.length === 0) return false;
    this.values.push(protectedLength === 0 && value.toUpperCase() === "NULL" ? null : value);
    return true;
  }
}

// ---------------------------------------------------------------- raw bytes

/**
 * Whether bytes are well-formed UTF-8: no overlong forms, no surrogates, nothing past
 * U+10FFFF. (PostgreSQL additionally refuses the NUL byte in text; check for 0x00
 * separately if that matters.)
 */
export function isValidUtf8(bytes: Uint8Array): boolean {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b0 = bytes[i] as number;
    if (b0 < 0x80) {
      i++;
      continue;
    }
    if (b0 < 0xc2) return false; // continuation byte or overlong 2-byte lead
    if (b0 < 0xe0) {
      if (i + 1 >= n || ((bytes[i + 1] as number) & 0xc0) !== 0x80) return false;
      i += 2;
      continue;
    }
    if (b0 < 0xf0) {
      if (i + 2 >= n) return false;
      const b1 = bytes[i + 1] as number;
      if ((b1 & 0xc0) !== 0x80 || ((bytes[i + 2] as number) & 0xc0) !== 0x80) return false;
      if (b0 === 0xe0 && b1 < 0xa0) return false; // overlong
      if (b0 === 0xed && b1 >= 0xa0) return false; // surrogate
      i += 3;
      continue;
    }
    if (b0 < 0xf5) {
      if (i + 3 >= n) return false;
      const b1 = bytes[i + 1] as number;
      if (
        (b1 & 0xc0) !== 0x80 ||
        ((bytes[i + 2] as number) & 0xc0) !== 0x80 ||
        ((bytes[i + 3] as number) & 0xc0) !== 0x80
      ) {
        return false;
      }
      if (b0 === 0xf0 && b1 < 0x90) return false; // overlong
      if (b0 === 0xf4 && b1 >= 0x90) return false; // past U+10FFFF
      i += 4;
      continue;
    }
    return false;
  }
  return true;
}
