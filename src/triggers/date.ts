import { clock } from '../time/clock.js';
import type { DateInput } from '../time/inputs.js';
import { toEpochMs } from '../time/inputs.js';
import { getZone, localZoneName, type TimeZone } from '../time/zone.js';
import type { Trigger, TriggerJSON } from './base.js';
import { describeDate } from './english.js';
import { formatInstant } from './format.js';
import type { DateTriggerOptions } from './options.js';
import { fireTimesOf } from './preview.js';
import { checkOptionKeys, isoOrNull, optionsFromJSON } from './validate.js';

const OPTION_KEYS = ['runDate', 'timezone'];

/** Fires once, at `runDate` (default: now). */
export class DateTrigger implements Trigger {
  /** The instant it fires at (epoch ms). */
  readonly runMs: number;
  /** The zone date strings without an offset were read in. */
  readonly timezone: TimeZone;

  constructor(options: DateTriggerOptions = {}) {
    checkOptionKeys(options, OPTION_KEYS, 'date');
    this.timezone = getZone(options.timezone ?? localZoneName(), 'timezone');
    this.runMs = options.runDate == null ? clock.now() : toEpochMs(options.runDate, this.timezone, 'runDate');
  }

  /** Restores a trigger from `toJSON()` output. */
  static fromJSON(json: TriggerJSON | Record<string, unknown>): DateTrigger {
    return new DateTrigger(optionsFromJSON(json, 'date') as DateTriggerOptions);
  }

  /** `runDate` the first time, then `null`. */
  getNextFireTime(previousFireTime: Date | null, _now: Date): Date | null {
    return previousFireTime === null ? new Date(this.runMs) : null;
  }

  /** `{ type: 'date', runDate, timezone }`. */
  toJSON(): TriggerJSON {
    return { type: 'date', runDate: isoOrNull(this.runMs), timezone: this.timezone.name };
  }

  /** The next `count` fire times at or after `from` (default: now), fewer when it ends. */
  getNextFireTimes(count: number, from?: DateInput): Date[] {
    return fireTimesOf(this, count, from);
  }

  /** `once at 2026-12-01 10:00 UTC`. */
  describe(): string {
    return describeDate(this.runMs, this.timezone);
  }

  /** `date[2026-01-01 09:00:00 UTC]`. */
  toString(): string {
    return `date[${formatInstant(this.runMs, this.timezone)}]`;
  }
}
