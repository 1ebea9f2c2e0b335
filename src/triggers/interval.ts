/**
 * IntervalTrigger: fires every fixed amount of elapsed time.
 */
import { describeValue } from '../describe.js';
import { clock } from '../time/clock.js';
import type { DateInput } from '../time/inputs.js';
import { toEpochMs } from '../time/inputs.js';
import { getZone, localZoneName, type TimeZone } from '../time/zone.js';
import { applyJitter, type Trigger, type TriggerJSON } from './base.js';
import { describeInterval } from './english.js';
import { formatTimedelta } from './format.js';
import type { IntervalTriggerOptions } from './options.js';
import { fireTimesOf } from './preview.js';
import { checkAmount, checkJitter, checkOptionKeys, isoOrNull, optionsFromJSON } from './validate.js';

const UNITS = [
  ['weeks', 604_800_000],
  ['days', 86_400_000],
  ['hours', 3_600_000],
  ['minutes', 60_000],
  ['seconds', 1000],
] as const;

const OPTION_KEYS = [...UNITS.map((u) => u[0]), 'startDate', 'endDate', 'timezone', 'jitter'];

/** Fires every interval of elapsed time from `startDate` (default: now + interval). */
export class IntervalTrigger implements Trigger {
  /** The interval in milliseconds. */
  readonly intervalMs: number;
  /** The first fire time (epoch ms). */
  readonly startMs: number;
  /** No fire after this instant (epoch ms), or `null`. */
  readonly endMs: number | null;
  /** The zone date strings without an offset were read in. */
  readonly timezone: TimeZone;
  /** Random delay added to each fire time, in seconds. */
  readonly jitter: number | null;

  constructor(options: IntervalTriggerOptions = {}) {
    checkOptionKeys(options, OPTION_KEYS, 'interval');
    let total = 0;
    for (const [unit, ms] of UNITS) {
      total += checkAmount(options[unit], unit) * ms;
    }
    this.intervalMs = Math.round(total);
    if (this.intervalMs <= 0) {
      throw new RangeError(
        `Expected the interval (weeks, days, hours, minutes, seconds) to be longer than 0, got ${describeValue(total)} ms`,
      );
    }
    this.timezone = getZone(options.timezone ?? localZoneName(), 'timezone');
    this.startMs =
      options.startDate == null
        ? clock.now() + this.intervalMs
        : toEpochMs(options.startDate, this.timezone, 'startDate');
    this.endMs = options.endDate == null ? null : toEpochMs(options.endDate, this.timezone, 'endDate');
    if (this.endMs !== null && this.endMs < this.startMs) {
      throw new RangeError(
        `Expected endDate to be at or after startDate (${isoOrNull(this.startMs)}), got ${isoOrNull(this.endMs)}`,
      );
    }
    this.jitter = checkJitter(options.jitter);
  }

  /** Restores a trigger from `toJSON()` output. */
  static fromJSON(json: TriggerJSON | Record<string, unknown>): IntervalTrigger {
    return new IntervalTrigger(optionsFromJSON(json, 'interval') as IntervalTriggerOptions);
  }

  /** The next fire time (see `Trigger`): elapsed time, never wall time. */
  getNextFireTime(previousFireTime: Date | null, now: Date): Date | null {
    let next: number;
    if (previousFireTime !== null) {
      next = previousFireTime.getTime() + this.intervalMs;
    } else {
      const nowMs = now.getTime();
      if (this.startMs > nowMs) next = this.startMs;
      else next = this.startMs + this.intervalMs * Math.ceil((nowMs - this.startMs) / this.intervalMs);
    }
    if (this.endMs !== null && next > this.endMs) return null;
    return new Date(applyJitter(next, this.jitter, this.endMs));
  }

  /** Fire times after `after` and before `beforeMs`, counted in closed form (see `Trigger`). */
  countFireTimes(after: Date, beforeMs: number): { count: number; last: Date } {
    const from = after.getTime();
    let count = Math.max(0, Math.ceil((beforeMs - from) / this.intervalMs) - 1);
    if (this.endMs !== null)
      count = Math.min(count, Math.max(0, Math.floor((this.endMs - from) / this.intervalMs)));
    return { count, last: count === 0 ? after : new Date(from + count * this.intervalMs) };
  }

  /**
   * `{ type: 'interval', weeks?, days?, hours?, minutes?, seconds?, startDate, endDate?, timezone,
   * jitter? }`, the interval split into its largest whole units (90 minutes: `hours: 1, minutes:
   * 30`). The units given are not kept: one trigger per job adds up at a million jobs.
   */
  toJSON(): TriggerJSON {
    const json: TriggerJSON = { type: 'interval' };
    let rest = this.intervalMs;
    for (const [unit, ms] of UNITS) {
      const amount = unit === 'seconds' ? rest / ms : Math.floor(rest / ms);
      if (amount > 0) json[unit] = amount;
      rest -= Math.floor(rest / ms) * ms;
    }
    json.startDate = isoOrNull(this.startMs);
    if (this.endMs !== null) json.endDate = isoOrNull(this.endMs);
    json.timezone = this.timezone.name;
    if (this.jitter !== null) json.jitter = this.jitter;
    return json;
  }

  /** The next `count` fire times at or after `from` (default: now), fewer when it ends. */
  getNextFireTimes(count: number, from?: DateInput): Date[] {
    return fireTimesOf(this, count, from);
  }

  /** `every 2 hours from 2026-12-01 10:00 UTC`. */
  describe(): string {
    return describeInterval(this.intervalMs, this.startMs, this.endMs, this.timezone, this.jitter);
  }

  /** `interval[1:00:00]`, as APScheduler prints it. */
  toString(): string {
    return `interval[${formatTimedelta(this.intervalMs)}]`;
  }
}
