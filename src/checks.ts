/**
 * The checks of numeric options, so that every option follows one rule in one wording: a value
 * that is not a number (a string, or `undefined` where the option is required) throws a
 * `TypeError`; a number out of range (too small, NaN, Infinity, a fraction where an integer is
 * required) throws a `RangeError`. The message names the option, with its path when it is nested
 * (`jobDefaults.misfireGraceTime`, `retry.delay`), and the value.
 */
import { describeValue } from './describe.js';

/** Throws for `value`: a `RangeError` when it is a number, a `TypeError` when it is not. */
export function badNumber(option: string, expected: string, value: unknown): never {
  const message = `Expected ${option} to be ${expected}, got ${describeValue(value)}`;
  throw typeof value === 'number' ? new RangeError(message) : new TypeError(message);
}

/** A number of seconds above 0. */
export function checkSeconds(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    badNumber(option, 'a number of seconds above 0', value);
  }
  return value;
}

/** A number of seconds above 0, or `null` (no limit). */
export function checkSecondsOrNull(value: unknown, option: string): number | null {
  if (value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    badNumber(option, 'a number of seconds above 0 or null', value);
  }
  return value;
}

/** A number of seconds from 0 and up. */
export function checkSecondsFromZero(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    badNumber(option, 'a number of seconds from 0 and up', value);
  }
  return value;
}

/** A finite number from `min` and up. */
export function checkNumberFrom(value: unknown, option: string, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    badNumber(option, `a number from ${min} and up`, value);
  }
  return value;
}

/**
 * An integer from `min` and up; `Infinity` too when `unbounded` (a limit that may be lifted, such
 * as `maxWorkers`).
 */
export function checkIntegerFrom(value: unknown, option: string, min: number, unbounded = false): number {
  if (
    typeof value !== 'number' ||
    !(Number.isInteger(value) || (unbounded && value === Number.POSITIVE_INFINITY)) ||
    value < min
  ) {
    badNumber(option, `an integer from ${min} and up`, value);
  }
  return value;
}
