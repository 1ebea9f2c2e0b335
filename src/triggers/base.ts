import type { DateInput } from '../time/inputs.js';

/**
 * The Trigger interface and what every trigger shares (jitter, end-date capping).
 */

/** The JSON form of a trigger: a `type` tag and the trigger's options. */
export interface TriggerJSON {
  /** The trigger's registered type (`date`, `interval`, `cron`, `calendarinterval`, `and`, `or`, ...). */
  type: string;
  [option: string]: unknown;
}

/**
 * Computes fire times. The built-in triggers other than `OrTrigger` are stateless: the same
 * arguments always give the same answer (up to jitter). `OrTrigger` keeps the next fire time of
 * each child, and writes it to `toJSON()`.
 */
export interface Trigger {
  /**
   * The next fire time after `previousFireTime` (or the first one, when it is `null`), no
   * earlier than needed to catch up to `now`; `null` when the trigger will never fire again.
   */
  getNextFireTime(previousFireTime: Date | null, now: Date): Date | null;
  /**
   * Optional, for triggers that can skip ahead without listing fire times: how many fire times
   * lie strictly between `after` (a fire time) and `beforeMs`, and the last of them (`after`
   * itself when there are none). Catching up a long backlog uses it instead of a walk.
   */
  countFireTimes?(after: Date, beforeMs: number): { count: number; last: Date };
  /** The trigger as plain JSON, restorable with `triggerFromJSON`. */
  toJSON(): TriggerJSON;
  /** A human description, in APScheduler's style: `cron[day='1', hour='9', minute='0']`. */
  toString(): string;
  /**
   * The next `count` fire times at or after `from` (default: now), fewer when the trigger ends.
   * Every built-in trigger has it; the trigger itself is not changed.
   */
  getNextFireTimes?(count: number, from?: DateInput): Date[];
  /** The trigger in plain English (every built-in trigger has it): `every 15 minutes`. */
  describe?(): string;
}

/**
 * Adds a random delay in [0, jitter] seconds to `fireMs`, never past `endMs`. Returns `fireMs`
 * unchanged when `jitter` is null or 0.
 */
export function applyJitter(fireMs: number, jitter: number | null, endMs: number | null): number {
  if (jitter === null || jitter <= 0) return fireMs;
  let jittered = fireMs + Math.floor(Math.random() * (jitter * 1000 + 1));
  if (endMs !== null && jittered > endMs) jittered = Math.max(fireMs, endMs);
  return jittered;
}
