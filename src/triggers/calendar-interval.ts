/**
 * CalendarIntervalTrigger: every N calendar units at a fixed wall-clock time, as APScheduler 4
 * has it (a day that does not exist in a month is skipped; the day of month is kept).
 */
import { describeValue } from '../describe.js';
import { DAY_MS, dayOfDays, daysFromCivil, daysInMonth, monthOfDays, yearOfDays } from '../time/calendar.js';
import { clock } from '../time/clock.js';
import type { DateInput } from '../time/inputs.js';
import { toEpochMs } from '../time/inputs.js';
import { getZone, localZoneName, type TimeZone } from '../time/zone.js';
import type { Trigger, TriggerJSON } from './base.js';
import { describeCalendarInterval } from './english.js';
import type { CalendarIntervalTriggerOptions } from './options.js';
import { fireTimesOf } from './preview.js';
import { checkAmount, checkOptionKeys, optionsFromJSON } from './validate.js';

const UNIT_KEYS = ['years', 'months', 'weeks', 'days'] as const;
const TIME_KEYS = [
  ['hour', 23],
  ['minute', 59],
  ['second', 59],
] as const;

const OPTION_KEYS = [...UNIT_KEYS, ...TIME_KEYS.map((t) => t[0]), 'startDate', 'endDate', 'timezone'];

function isoDate(days: number): string {
  return new Date(days * DAY_MS).toISOString().slice(0, 10);
}

function checkTime(value: unknown, option: string, max: number): number {
  const n = checkAmount(value, option, true);
  if (n > max)
    throw new RangeError(`Expected ${option} to be an integer from 0 to ${max}, got ${describeValue(value)}`);
  return n;
}

/** Fires every `years`/`months`/`weeks`/`days` at `hour:minute:second` wall time in `timezone`. */
export class CalendarIntervalTrigger implements Trigger {
  readonly years: number;
  readonly months: number;
  readonly weeks: number;
  readonly days: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  /** First date (days since 1970-01-01). */
  readonly startDay: number;
  /** Last date (days since 1970-01-01), or `null`. */
  readonly endDay: number | null;
  /** The zone the dates and time are read in. */
  readonly timezone: TimeZone;
  private readonly timeMs: number;

  constructor(options: CalendarIntervalTriggerOptions = {}) {
    checkOptionKeys(options, OPTION_KEYS, 'calendarinterval');
    this.years = checkAmount(options.years, 'years', true);
    this.months = checkAmount(options.months, 'months', true);
    this.weeks = checkAmount(options.weeks, 'weeks', true);
    this.days = checkAmount(options.days, 'days', true);
    if (this.years + this.months + this.weeks + this.days === 0) {
      throw new RangeError('Expected at least one of years, months, weeks, days to be 1 or more, got none');
    }
    this.hour = checkTime(options.hour, 'hour', 23);
    this.minute = checkTime(options.minute, 'minute', 59);
    this.second = checkTime(options.second, 'second', 59);
    this.timeMs = ((this.hour * 60 + this.minute) * 60 + this.second) * 1000;
    this.timezone = getZone(options.timezone ?? localZoneName(), 'timezone');
    const dayOf = (ms: number) => Math.floor(this.timezone.toWall(ms) / DAY_MS);
    this.startDay = dayOf(
      options.startDate == null ? clock.now() : toEpochMs(options.startDate, this.timezone, 'startDate'),
    );
    this.endDay =
      options.endDate == null ? null : dayOf(toEpochMs(options.endDate, this.timezone, 'endDate'));
    if (this.endDay !== null && this.endDay < this.startDay) {
      throw new RangeError(
        `Expected endDate to be on or after startDate (${isoDate(this.startDay)}), got ${isoDate(this.endDay)}`,
      );
    }
  }

  /** Restores a trigger from `toJSON()` output. */
  static fromJSON(json: TriggerJSON | Record<string, unknown>): CalendarIntervalTrigger {
    return new CalendarIntervalTrigger(
      optionsFromJSON(json, 'calendarinterval') as CalendarIntervalTriggerOptions,
    );
  }

  /** The instant of the fire on a date (days since 1970-01-01). */
  private fireOn(day: number): number {
    return this.timezone.fromWall(day * DAY_MS + this.timeMs);
  }

  /** The date after `day` in the sequence (APScheduler 4's rule). */
  private step(day: number): number {
    const dom = dayOfDays(day);
    let year = yearOfDays(day);
    let month = monthOfDays(day);
    if (this.years !== 0 || this.months !== 0) {
      // Skip months that lack this day of month, keeping the day.
      for (;;) {
        month += this.months;
        year += this.years + Math.floor((month - 1) / 12);
        month = ((month - 1) % 12) + 1;
        if (dom <= daysInMonth(year, month)) break;
      }
    }
    return daysFromCivil(year, month, dom) + this.days + this.weeks * 7;
  }

  /** The first date of the sequence whose fire instant is at or after `nowMs`. */
  private firstFrom(nowMs: number): number {
    let day = this.startDay;
    const nowDay = Math.floor(this.timezone.toWall(nowMs) / DAY_MS);
    const stepDays = this.days + this.weeks * 7;
    const stepMonths = this.years * 12 + this.months;
    if (nowDay - 2 > day) {
      // Jump close to `now` where the sequence has a closed form, then walk.
      if (stepMonths === 0) {
        day += Math.floor((nowDay - 2 - day) / stepDays) * stepDays;
      } else if (stepDays === 0) {
        const dom = dayOfDays(day);
        const startMonths = yearOfDays(day) * 12 + monthOfDays(day) - 1;
        const nowMonths = yearOfDays(nowDay) * 12 + monthOfDays(nowDay) - 1;
        const jumps = Math.floor((nowMonths - startMonths) / stepMonths) - 1;
        if (jumps > 0) {
          // Walk back to the last month of the sequence that has this day.
          for (let j = jumps; j > 0; j--) {
            const m = startMonths + j * stepMonths;
            const y = Math.floor(m / 12);
            if (dom <= daysInMonth(y, (m % 12) + 1)) {
              day = daysFromCivil(y, (m % 12) + 1, dom);
              break;
            }
          }
        }
      }
    }
    while (this.fireOn(day) < nowMs) day = this.step(day);
    return day;
  }

  /** The next fire time (see `Trigger`). */
  getNextFireTime(previousFireTime: Date | null, now: Date): Date | null {
    let day: number;
    if (previousFireTime === null) {
      day = this.firstFrom(now.getTime());
    } else {
      const prev = previousFireTime.getTime();
      day = this.step(Math.floor(this.timezone.toWall(prev) / DAY_MS));
      while (this.fireOn(day) <= prev) day = this.step(day);
    }
    if (this.endDay !== null && day > this.endDay) return null;
    return new Date(this.fireOn(day));
  }

  /**
   * Fire times after `after` and before `beforeMs` (see `Trigger`): whole runs of day steps are
   * jumped in closed form, the rest walked as day numbers, with no date built.
   */
  countFireTimes(after: Date, beforeMs: number): { count: number; last: Date } {
    const from = after.getTime();
    let day = Math.floor(this.timezone.toWall(from) / DAY_MS);
    let lastDay: number | null = null;
    let count = 0;
    const stepDays = this.days + this.weeks * 7;
    const beforeDay = Math.floor(this.timezone.toWall(beforeMs) / DAY_MS);
    if (this.years === 0 && this.months === 0) {
      // Steps of whole days: jump over the dates up to two days before the limit (their fire
      // instants are all before it, whatever the zone's offset changes).
      let first = this.step(day);
      while (this.fireOn(first) <= from) first = this.step(first);
      let n = first <= beforeDay - 2 ? Math.floor((beforeDay - 2 - first) / stepDays) + 1 : 0;
      if (this.endDay !== null) {
        n = Math.min(n, this.endDay >= first ? Math.floor((this.endDay - first) / stepDays) + 1 : 0);
      }
      if (n > 0) {
        count = n;
        lastDay = first + (n - 1) * stepDays;
        day = lastDay;
      }
    }
    for (;;) {
      let next = this.step(day);
      while (this.fireOn(next) <= from) next = this.step(next);
      if (this.endDay !== null && next > this.endDay) break;
      if (this.fireOn(next) >= beforeMs) break;
      count += 1;
      lastDay = next;
      day = next;
    }
    return { count, last: lastDay === null ? after : new Date(this.fireOn(lastDay)) };
  }

  /** `{ type: 'calendarinterval', <units>, hour, minute, second, startDate, endDate?, timezone }`. */
  toJSON(): TriggerJSON {
    const json: TriggerJSON = { type: 'calendarinterval' };
    for (const key of UNIT_KEYS) if (this[key] !== 0) json[key] = this[key];
    json.hour = this.hour;
    json.minute = this.minute;
    json.second = this.second;
    json.startDate = isoDate(this.startDay);
    if (this.endDay !== null) json.endDate = isoDate(this.endDay);
    json.timezone = this.timezone.name;
    return json;
  }

  /** The next `count` fire times at or after `from` (default: now), fewer when it ends. */
  getNextFireTimes(count: number, from?: DateInput): Date[] {
    return fireTimesOf(this, count, from);
  }

  /** `at 09:00 every month from 2026-01-31 (Europe/Berlin)`. */
  describe(): string {
    return describeCalendarInterval(
      this,
      this,
      isoDate(this.startDay),
      this.endDay === null ? null : isoDate(this.endDay),
      this.timezone,
    );
  }

  /** `calendarinterval[months=1, time=09:00:00]`. */
  toString(): string {
    const units = UNIT_KEYS.filter((k) => this[k] !== 0).map((k) => `${k}=${this[k]}`);
    const time = [this.hour, this.minute, this.second].map((n) => String(n).padStart(2, '0')).join(':');
    return `calendarinterval[${[...units, `time=${time}`].join(', ')}]`;
  }
}
