import type { DateInput } from '../../time/inputs.js';
import { toEpochMs } from '../../time/inputs.js';
import { getZone, localZoneName, type TimeZone } from '../../time/zone.js';
import { applyJitter, type Trigger, type TriggerJSON } from '../base.js';
import { describeCron } from '../english.js';
import type { CronTriggerOptions } from '../options.js';
import { fireTimesOf } from '../preview.js';
import { checkJitter, checkOptionKeys, isoOrNull, optionsFromJSON } from '../validate.js';
import { parseCrontab } from './crontab.js';
import { CronMatcher } from './engine.js';
import { FIELD_NAMES, type FieldName } from './expressions.js';
import { compileSpec, fieldText, withDefaults } from './fields.js';

const OPTION_KEYS = [...FIELD_NAMES, 'startDate', 'endDate', 'timezone', 'jitter'] as const;
const CRONTAB_OPTION_KEYS = ['timezone', 'startDate', 'endDate', 'jitter'];
const SNAKE_NAMES: Record<FieldName, string> = {
  year: 'year',
  month: 'month',
  day: 'day',
  week: 'week',
  dayOfWeek: 'day_of_week',
  hour: 'hour',
  minute: 'minute',
  second: 'second',
};

/** Options of `CronTrigger.fromCrontab`. */
export interface CrontabOptions {
  timezone?: string;
  startDate?: CronTriggerOptions['startDate'];
  endDate?: CronTriggerOptions['endDate'];
  jitter?: number | null;
}

/** Fires when the wall clock in `timezone` matches every field (APScheduler's cron grammar). */
export class CronTrigger implements Trigger {
  /**
   * The fields as given (expression strings), for `toJSON` and `toString`; for a crontab
   * trigger, the crontab's fields by name, as written (Unix weekday numbers).
   */
  readonly fields: Readonly<Partial<Record<FieldName, string>>>;
  /** The crontab line this trigger was made from, if any. */
  readonly crontab: string | null;
  /** The zone the fields are read in. */
  readonly timezone: TimeZone;
  /** First instant it may fire at (epoch ms), or `null`. */
  readonly startMs: number | null;
  /** Last instant it may fire at (epoch ms), or `null`. */
  readonly endMs: number | null;
  /** Random delay added to each fire time, in seconds. */
  readonly jitter: number | null;
  private readonly matcher: CronMatcher;

  constructor(options: CronTriggerOptions = {}) {
    checkOptionKeys(options, OPTION_KEYS, 'cron');
    const fields: Partial<Record<FieldName, string>> = {};
    for (const name of FIELD_NAMES) {
      const value = options[name];
      if (value !== undefined && value !== null) fields[name] = fieldText(name, value);
    }
    this.fields = fields;
    this.crontab = null;
    this.timezone = getZone(options.timezone ?? localZoneName(), 'timezone');
    this.startMs =
      options.startDate == null ? null : toEpochMs(options.startDate, this.timezone, 'startDate');
    this.endMs = options.endDate == null ? null : toEpochMs(options.endDate, this.timezone, 'endDate');
    // An endDate before startDate is accepted (the trigger never fires), as APScheduler 3 and
    // the conformance vectors have it; interval and calendar triggers refuse it.
    this.jitter = checkJitter(options.jitter);
    this.matcher = new CronMatcher(compileSpec(withDefaults(fields)));
  }

  /**
   * A trigger from a crontab line: `m h dom mon dow`, with seconds first in 6 fields and a year
   * last in 7; 0 or 7 = Sunday; `L`, `5L`, `5#3`, `LW`, `15W`, wrap-around ranges, `@daily` and co.
   */
  static fromCrontab(expr: string, options: CrontabOptions = {}): CronTrigger {
    checkOptionKeys(options, CRONTAB_OPTION_KEYS, 'crontab');
    const { fields, spec } = parseCrontab(expr);
    const trigger = new CronTrigger(options);
    const mutable = trigger as unknown as { fields: typeof fields; crontab: string; matcher: CronMatcher };
    mutable.fields = fields;
    mutable.crontab = expr.trim();
    mutable.matcher = new CronMatcher(spec);
    return trigger;
  }

  /** Restores a trigger from `toJSON()` output (also accepts `{ crontab, timezone }` without `type`). */
  static fromJSON(json: TriggerJSON | Record<string, unknown>): CronTrigger {
    const { crontab, ...rest } = optionsFromJSON(json, 'cron');
    if (crontab !== undefined) return CronTrigger.fromCrontab(crontab as string, rest as CrontabOptions);
    return new CronTrigger(rest as CronTriggerOptions);
  }

  /** The next fire time (see `Trigger`). */
  getNextFireTime(previousFireTime: Date | null, now: Date): Date | null {
    const nowMs = now.getTime();
    let start: number;
    if (previousFireTime !== null) {
      const prev = previousFireTime.getTime();
      start = Math.min(nowMs, prev + 1);
      if (start === prev) start++;
    } else {
      start = this.startMs !== null && this.startMs > nowMs ? this.startMs : nowMs;
    }
    const fire = this.matcher.nextInstant(start, this.timezone);
    if (fire === null || (this.endMs !== null && fire > this.endMs)) return null;
    return new Date(applyJitter(fire, this.jitter, this.endMs));
  }

  /** `{ type: 'cron', <fields given>, timezone, ... }`. */
  toJSON(): TriggerJSON {
    const json: TriggerJSON = { type: 'cron' };
    if (this.crontab !== null) json.crontab = this.crontab;
    else Object.assign(json, this.fields);
    json.timezone = this.timezone.name;
    if (this.startMs !== null) json.startDate = isoOrNull(this.startMs);
    if (this.endMs !== null) json.endDate = isoOrNull(this.endMs);
    if (this.jitter !== null) json.jitter = this.jitter;
    return json;
  }

  /** The next `count` fire times at or after `from` (default: now), fewer when it ends. */
  getNextFireTimes(count: number, from?: DateInput): Date[] {
    return fireTimesOf(this, count, from);
  }

  /** `at 09:30 on Monday through Friday (America/New_York)`. */
  describe(): string {
    return describeCron(this.matcher.spec, this.timezone, this.startMs, this.endMs, this.jitter);
  }

  /** `cron[day='1', hour='9', minute='0']`, as APScheduler prints it. */
  toString(): string {
    if (this.crontab !== null) return `cron[crontab='${this.crontab}']`;
    const parts = FIELD_NAMES.filter((f) => this.fields[f] !== undefined).map(
      (f) => `${SNAKE_NAMES[f]}='${this.fields[f]}'`,
    );
    return `cron[${parts.join(', ')}]`;
  }
}
