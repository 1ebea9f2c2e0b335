/**
 * The next fire times of a trigger, for `getNextFireTimes` and `Job.getNextRunTimes`.
 */
import { badNumber } from '../checks.js';
import { clock } from '../time/clock.js';
import { type DateInput, toEpochMs } from '../time/inputs.js';
import { getZone, localZoneName, TimeZone } from '../time/zone.js';
import type { Trigger } from './base.js';

/** The most fire times one call lists. */
export const MAX_FIRE_TIMES = 100_000;

/** Checks the `count` of `getNextFireTimes`: a whole number from 0 to 100,000. */
export function checkCount(count: unknown): number {
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || count > MAX_FIRE_TIMES) {
    badNumber('count', `a whole number from 0 to ${MAX_FIRE_TIMES.toLocaleString('en-US')}`, count);
  }
  return count;
}

/**
 * The first `count` fire times of `trigger` at or after `from` (fewer when it ends), each from
 * the one before as the scheduler computes them. `trigger` is used as given: pass a copy of a
 * trigger that keeps state.
 */
export function fireTimesOf(trigger: Trigger, count: unknown, from?: DateInput): Date[] {
  const n = checkCount(count);
  const zone = (trigger as { timezone?: unknown }).timezone;
  const startMs =
    from === undefined
      ? clock.now()
      : toEpochMs(from, zone instanceof TimeZone ? zone : getZone(localZoneName()), 'from');
  const out: Date[] = [];
  let previous: Date | null = null;
  let now = new Date(startMs);
  while (out.length < n) {
    const next = trigger.getNextFireTime(previous, now);
    if (next === null) break;
    out.push(next);
    previous = next;
    now = next;
  }
  return out;
}
