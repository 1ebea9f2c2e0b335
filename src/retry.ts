/**
 * The `retry` job option: how many times a failed run is tried again, and when. Try k (k = 1 for
 * the first retry) waits `min(delay * factor^(k-1), maxDelay)` seconds plus a random `[0, jitter]`.
 */
import { checkIntegerFrom, checkNumberFrom, checkSecondsFromZero } from './checks.js';
import { describeValue } from './describe.js';

/** The outcomes a retry may follow. */
export type RetryOn = 'error' | 'timeout' | 'abandoned';

const RETRY_ON: readonly RetryOn[] = ['error', 'timeout', 'abandoned'];

/** The job option `retry`, as given (every field but `attempts` has a default). */
export interface RetryOptions {
  /** How many times a failed run is tried again (an integer from 1 and up). */
  attempts: number;
  /** Seconds before the first retry. Default 1. */
  delay?: number;
  /** Each retry waits `factor` times the one before. Default 2. */
  factor?: number;
  /** Longest wait in seconds, before jitter. Default 3600. */
  maxDelay?: number;
  /** Up to this many seconds are added at random to each wait. Default 0. */
  jitter?: number;
  /**
   * The outcomes that are tried again. Default `['error', 'timeout']`; `'abandoned'` (the run's
   * process died) is off by default, since such a run may have done part of its work.
   */
  on?: RetryOn[];
}

/** A job's retry policy with every field filled in. */
export interface RetryPolicy {
  attempts: number;
  delay: number;
  factor: number;
  maxDelay: number;
  jitter: number;
  on: RetryOn[];
}

const KEYS = ['attempts', 'delay', 'factor', 'maxDelay', 'jitter', 'on'];

/**
 * Checks a `retry` option (`null` or `RetryOptions`) and fills in the defaults; throws naming the
 * option (`option` is its path, e.g. `jobDefaults.retry`) and the value.
 */
export function checkRetry(value: unknown, option = 'retry'): RetryPolicy | null {
  if (value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(
      `Expected ${option} to be null or an object with attempts, got ${describeValue(value)}`,
    );
  }
  const given = value as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!KEYS.includes(key)) {
      throw new TypeError(
        `Unknown option ${JSON.stringify(key)} in ${option} (expected one of ${KEYS.join(', ')})`,
      );
    }
  }
  const attempts = checkIntegerFrom(given.attempts, `${option}.attempts`, 1);
  let on: RetryOn[] = ['error', 'timeout'];
  if (given.on !== undefined) {
    if (!Array.isArray(given.on) || given.on.some((o) => !RETRY_ON.includes(o as RetryOn))) {
      throw new TypeError(
        `Expected ${option}.on to be a list of ${RETRY_ON.map((o) => JSON.stringify(o)).join(', ')}, got ${describeValue(given.on)}`,
      );
    }
    on = [...new Set(given.on as RetryOn[])];
  }
  return {
    attempts,
    delay: given.delay === undefined ? 1 : checkSecondsFromZero(given.delay, `${option}.delay`),
    factor: given.factor === undefined ? 2 : checkNumberFrom(given.factor, `${option}.factor`, 1),
    maxDelay:
      given.maxDelay === undefined ? 3600 : checkSecondsFromZero(given.maxDelay, `${option}.maxDelay`),
    jitter: given.jitter === undefined ? 0 : checkSecondsFromZero(given.jitter, `${option}.jitter`),
    on,
  };
}

/**
 * When the next try of a run is due, in epoch ms, or `null` when it is not tried again:
 * `attempt` is the attempt that just ended with `outcome` (1 for the fire time itself).
 */
export function nextTryAt(
  policy: RetryPolicy | null,
  attempt: number,
  outcome: string,
  now: number,
  random: () => number = Math.random,
): number | null {
  if (policy === null || attempt > policy.attempts || !policy.on.includes(outcome as RetryOn)) return null;
  const seconds = Math.min(policy.delay * policy.factor ** (attempt - 1), policy.maxDelay);
  const jitter = policy.jitter > 0 ? random() * policy.jitter : 0;
  return now + Math.round((seconds + jitter) * 1000);
}
