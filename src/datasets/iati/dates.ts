/**
 * Date handling for flattened IATI values, after the refresher's flattener: every
 * recognisable date becomes `YYYY-MM-DDTHH:mm:ss.sssZ`, anything else is dropped (the
 * refresher drops it too, because the search index would reject it).
 */

// xsd:date, optionally with a timezone, which is ignored: a calendar date stays the same
// calendar date (shifting 2021-02-21+05:00 to the 20th would be worse than useless).
const XSD_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:Z|[+-]\d{2}:\d{2})?$/;
// Compact calendar date, which the refresher's dateutil fallback also understood.
const COMPACT_DATE = /^(\d{4})(\d{2})(\d{2})$/;
// xsd:dateTime, also with a space separator, optional seconds and offsets without a colon.
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Normalises an IATI date or date-time to an ISO 8601 UTC timestamp with milliseconds,
 * or returns undefined when the value is not a real date.
 *
 * - Date-times with an offset are converted to UTC; without one they are taken as UTC.
 * - Dates become midnight UTC of the same calendar day.
 * - Fractions of a second are truncated to milliseconds, as the refresher does.
 * - Only four-digit years 0001-9999 are accepted (the refresher's Python limit).
 */
export function normaliseIatiDate(value: string): string | undefined {
  const text = value.trim();

  const date = XSD_DATE.exec(text) ?? COMPACT_DATE.exec(text);
  if (date) return toIso(utcDate(Number(date[1]), Number(date[2]), Number(date[3]), 0, 0, 0, 0));

  const dateTime = DATE_TIME.exec(text);
  if (!dateTime) return undefined;
  const [, year, month, day, hour, minute, second = "0", fraction = "", offset = "Z"] = dateTime;
  const hours = Number(hour);
  const minutes = Number(minute);
  const seconds = Number(second);
  // xsd:dateTime allows 24:00:00 for the midnight that ends a day.
  const endOfDay = hours === 24 && minutes === 0 && seconds === 0 && !/[1-9]/.test(fraction);
  const millis = Number(fraction.slice(0, 3).padEnd(3, "0"));
  const local = utcDate(Number(year), Number(month), Number(day), endOfDay ? 0 : hours, minutes, seconds, millis);
  const offsetMinutes = parseOffsetMinutes(offset);
  if (local === undefined || offsetMinutes === undefined) return undefined;
  const instant = local.getTime() + (endOfDay ? 86_400_000 : 0) - offsetMinutes * 60_000;
  return toIso(new Date(instant));
}

/** A Date for exact calendar fields, or undefined if any field is out of range. */
function utcDate(
  year: number,
  month: number,
  day: number,
  hours: number,
  minutes: number,
  seconds: number,
  millis: number,
): Date | undefined {
  if (year < 1 || hours > 23 || minutes > 59 || seconds > 59) return undefined;
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not turn years 0-99 into 1900-1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hours, minutes, seconds, millis);
  const sameDay = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
  return sameDay ? date : undefined;
}

function parseOffsetMinutes(offset: string): number | undefined {
  if (offset.toUpperCase() === "Z") return 0;
  const match = /^([+-])(\d{2}):?(\d{2})?$/.exec(offset);
  if (!match) return undefined;
  const hours = Number(match[2]);
  const minutes = Number(match[3] ?? "0");
  if (hours > 14 || minutes > 59) return undefined;
  return (match[1] === "-" ? -1 : 1) * (hours * 60 + minutes);
}

function toIso(date: Date | undefined): string | undefined {
  if (date === undefined) return undefined;
  const year = date.getUTCFullYear();
  // An offset can push 0001-01-01 or 9999-12-31 out of the four-digit range.
  if (year < 1 || year > 9999) return undefined;
  return date.toISOString();
}
