/**
 * Date inputs: everywhere tickwork takes a date it accepts a `Date`, a luxon `DateTime`, an
 * ISO-8601 string (without an offset: wall time in the given zone) or epoch milliseconds.
 */
import { DateTime } from 'luxon';
import { describeValue } from '../describe.js';
import type { TimeZone } from './zone.js';

/** A luxon `DateTime`, as far as tickwork needs one (declared here so users need no luxon types). */
export interface DateTimeLike {
  /** The instant in epoch milliseconds. */
  toMillis(): number;
  readonly isValid: boolean;
  readonly invalidReason?: string | null;
}

/** Anything tickwork accepts as a date. */
export type DateInput = Date | DateTimeLike | string | number;

const ISO_RE =
  /^([+-]\d{6}|\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * Converts a date input to epoch milliseconds. `zone` interprets strings without an offset.
 * Throws a `TypeError` (wrong type) or `RangeError` (bad value) naming `option` and the value.
 */
export function toEpochMs(value: unknown, zone: TimeZone, option: string): number {
  if (value instanceof Date) {
    const t = value.getTime();
    if (Number.isNaN(t))
      throw new RangeError(`Expected ${option} to be a valid date, got Invalid Date (Date)`);
    return t;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || Math.abs(value) > 8.64e15) {
      throw new RangeError(`Expected ${option} to be epoch milliseconds, got ${describeValue(value)}`);
    }
    return Math.floor(value);
  }
  if (typeof value === 'string') return parseIso(value, zone, option);
  if (DateTime.isDateTime(value)) {
    if (!value.isValid) {
      throw new RangeError(
        `Expected ${option} to be a valid DateTime, got an invalid one (${value.invalidReason ?? 'unknown reason'})`,
      );
    }
    return value.toMillis();
  }
  throw new TypeError(
    `Expected ${option} to be a Date, a luxon DateTime, an ISO-8601 string or epoch milliseconds, got ${describeValue(value)}`,
  );
}

function parseIso(text: string, zone: TimeZone, option: string): number {
  const m = ISO_RE.exec(text.trim());
  const bad = () =>
    new RangeError(`Expected ${option} to be an ISO-8601 date-time, got ${describeValue(text)}`);
  if (m === null) throw bad();
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const ms = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000 + 1e-7);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) throw bad();
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, ms);
  const wall = d.getTime();
  if (Number.isNaN(wall) || d.getUTCDate() !== day) throw bad();
  const offsetText = m[8];
  if (offsetText === undefined) return zone.fromWall(wall);
  if (offsetText === 'Z' || offsetText === 'z') return wall;
  const sign = offsetText[0] === '-' ? -1 : 1;
  const digits = offsetText.slice(1).replace(':', '');
  const oh = Number(digits.slice(0, 2));
  const om = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
  if (oh > 23 || om > 59) throw bad();
  return wall - sign * (oh * 3_600_000 + om * 60_000);
}
