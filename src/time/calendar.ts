/**
 * Proleptic Gregorian calendar arithmetic on plain numbers, for the triggers' hot paths
 * (no Date objects, no allocation).
 */

/** Milliseconds in a day. */
export const DAY_MS = 86_400_000;

/** Days since 1970-01-01 of a civil date (month 1-12). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = month > 2 ? month - 3 : month + 9;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The civil year of a day count since 1970-01-01. */
export function yearOfDays(days: number): number {
  return civil(days, 0);
}

/** The civil month (1-12) of a day count since 1970-01-01. */
export function monthOfDays(days: number): number {
  return civil(days, 1);
}

/** The civil day of month (1-31) of a day count since 1970-01-01. */
export function dayOfDays(days: number): number {
  return civil(days, 2);
}

function civil(days: number, part: 0 | 1 | 2): number {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  if (part === 2) return doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  if (part === 1) return month;
  return yoe + era * 400 + (month <= 2 ? 1 : 0);
}

/** True in a leap year. */
export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days in a month (1-12). */
export function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : MONTH_DAYS[month - 1];
}

/** Weekday of a day count, 0 = Monday .. 6 = Sunday (APScheduler's numbering). */
export function weekdayOfDays(days: number): number {
  // 1970-01-01 was a Thursday (3).
  return (((days + 3) % 7) + 7) % 7;
}

/** ISO-8601 week number (1-53) of a day count. */
export function isoWeekOfDays(days: number): number {
  const weekday = weekdayOfDays(days);
  const thursday = days - weekday + 3;
  const year = yearOfDays(thursday);
  return Math.floor((thursday - daysFromCivil(year, 1, 1)) / 7) + 1;
}
