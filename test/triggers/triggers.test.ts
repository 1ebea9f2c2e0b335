/**
 * Unit tests of every trigger through the public API: options, defaults, DST, JSON, errors.
 */
import { DateTime } from 'luxon';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AndTrigger,
  CalendarIntervalTrigger,
  CronTrigger,
  createTrigger,
  DateTrigger,
  IntervalTrigger,
  OrTrigger,
  registerTrigger,
  type Trigger,
  type TriggerJSON,
  triggerFromJSON,
} from '../../src/index.js';

const iso = (d: Date | null) => d?.toISOString() ?? null;

/** The first `count` fire times from `now`, each next one computed as the scheduler does. */
function fires(trigger: Trigger, now: string, count: number): Array<string | null> {
  const out: Array<string | null> = [];
  let previous: Date | null = null;
  let at = new Date(now);
  for (let i = 0; i < count; i++) {
    const next = trigger.getNextFireTime(previous, at);
    out.push(iso(next));
    if (next === null) break;
    previous = at = next;
  }
  return out;
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('CronTrigger', () => {
  it('fills fields left out as APScheduler does', () => {
    // day and hour given: minute and second default to 0, month and year to *.
    expect(fires(new CronTrigger({ day: 1, hour: 9, timezone: 'UTC' }), '2026-01-15T00:00:00Z', 2)).toEqual([
      '2026-02-01T09:00:00.000Z',
      '2026-03-01T09:00:00.000Z',
    ]);
    // only the year: its first second.
    expect(fires(new CronTrigger({ year: 2027, timezone: 'UTC' }), '2026-05-05T00:00:00Z', 2)).toEqual([
      '2027-01-01T00:00:00.000Z',
      null,
    ]);
  });

  it('supports every expression of the grammar', () => {
    const at = '2026-01-01T00:00:00Z';
    expect(fires(new CronTrigger({ day: 'last fri', hour: 17, minute: 30, timezone: 'UTC' }), at, 2)).toEqual(
      ['2026-01-30T17:30:00.000Z', '2026-02-27T17:30:00.000Z'],
    );
    expect(fires(new CronTrigger({ day: '2nd mon', timezone: 'UTC' }), at, 1)).toEqual([
      '2026-01-12T00:00:00.000Z',
    ]);
    expect(fires(new CronTrigger({ day: 'last', month: 'feb', timezone: 'UTC' }), at, 2)).toEqual([
      '2026-02-28T00:00:00.000Z',
      '2027-02-28T00:00:00.000Z',
    ]);
    expect(fires(new CronTrigger({ minute: '10-20/5', hour: 3, timezone: 'UTC' }), at, 4)).toEqual([
      '2026-01-01T03:10:00.000Z',
      '2026-01-01T03:15:00.000Z',
      '2026-01-01T03:20:00.000Z',
      '2026-01-02T03:10:00.000Z',
    ]);
    expect(fires(new CronTrigger({ minute: '50/5', hour: 3, timezone: 'UTC' }), at, 3)).toEqual([
      '2026-01-01T03:50:00.000Z',
      '2026-01-01T03:55:00.000Z',
      '2026-01-02T03:50:00.000Z',
    ]);
    expect(fires(new CronTrigger({ dayOfWeek: 'sat,sun', hour: 8, timezone: 'UTC' }), at, 3)).toEqual([
      '2026-01-03T08:00:00.000Z',
      '2026-01-04T08:00:00.000Z',
      '2026-01-10T08:00:00.000Z',
    ]);
    // ISO week 1 of 2027 starts on Monday 2027-01-04.
    expect(
      fires(new CronTrigger({ week: 1, dayOfWeek: 0, timezone: 'UTC' }), '2026-02-01T00:00:00Z', 1),
    ).toEqual(['2027-01-04T00:00:00.000Z']);
    expect(fires(new CronTrigger({ year: '2026-2027', month: 12, day: 25, timezone: 'UTC' }), at, 3)).toEqual(
      ['2026-12-25T00:00:00.000Z', '2027-12-25T00:00:00.000Z', null],
    );
  });

  it('fires at whole seconds from a fractional start, and respects startDate and endDate', () => {
    const t = new CronTrigger({
      second: '*/20',
      startDate: '2026-01-01T00:00:30Z',
      endDate: '2026-01-01T00:01:10Z',
      timezone: 'UTC',
    });
    expect(fires(t, '2026-01-01T00:00:00.250Z', 5)).toEqual([
      '2026-01-01T00:00:40.000Z',
      '2026-01-01T00:01:00.000Z',
      null,
    ]);
  });

  it('maps DST gaps and overlaps as the spec says', () => {
    const ny = new CronTrigger({ hour: 2, minute: 30, timezone: 'America/New_York' });
    // 2026-03-08: 02:30 does not exist: it fires at 03:30 EDT (07:30Z).
    expect(fires(ny, '2026-03-07T12:00:00Z', 2)).toEqual([
      '2026-03-08T07:30:00.000Z',
      '2026-03-09T06:30:00.000Z',
    ]);
    const fallBack = new CronTrigger({ hour: 1, minute: 30, timezone: 'America/New_York' });
    // 2026-11-01: 01:30 happens twice; it fires once, at 01:30 EDT (05:30Z).
    expect(fires(fallBack, '2026-10-31T12:00:00Z', 2)).toEqual([
      '2026-11-01T05:30:00.000Z',
      '2026-11-02T06:30:00.000Z',
    ]);
  });

  it('takes Unix crontab lines with Sunday as 0 or 7, names, macros and the OR day rule', () => {
    const at = '2026-01-01T00:00:00Z'; // a Thursday
    expect(fires(CronTrigger.fromCrontab('0 12 * * 0', { timezone: 'UTC' }), at, 1)).toEqual([
      '2026-01-04T12:00:00.000Z',
    ]);
    expect(fires(CronTrigger.fromCrontab('0 12 * * 7', { timezone: 'UTC' }), at, 1)).toEqual([
      '2026-01-04T12:00:00.000Z',
    ]);
    expect(fires(CronTrigger.fromCrontab('0 12 * * fri-sun', { timezone: 'UTC' }), at, 3)).toEqual([
      '2026-01-02T12:00:00.000Z',
      '2026-01-03T12:00:00.000Z',
      '2026-01-04T12:00:00.000Z',
    ]);
    expect(fires(CronTrigger.fromCrontab('@daily', { timezone: 'UTC' }), at, 2)).toEqual([
      '2026-01-01T00:00:00.000Z',
      '2026-01-02T00:00:00.000Z',
    ]);
    // Both restricted: the 15th OR any Monday.
    expect(fires(CronTrigger.fromCrontab('0 0 15 * mon', { timezone: 'UTC' }), at, 3)).toEqual([
      '2026-01-05T00:00:00.000Z',
      '2026-01-12T00:00:00.000Z',
      '2026-01-15T00:00:00.000Z',
    ]);
    // Day of month given as */n starts with *: both must match (Vixie's rule).
    expect(fires(CronTrigger.fromCrontab('0 0 */10 * mon', { timezone: 'UTC' }), at, 1)).toEqual([
      '2026-05-11T00:00:00.000Z',
    ]);
    expect(() => CronTrigger.fromCrontab('0 0 * *', { timezone: 'UTC' })).toThrow(RangeError);
    expect(() => CronTrigger.fromCrontab('0 0 * * 8', { timezone: 'UTC' })).toThrow(/8/);
  });

  it('prints and round-trips like APScheduler', () => {
    const t = new CronTrigger({ day: 1, hour: 9, minute: 0, timezone: 'Europe/Berlin', jitter: 5 });
    expect(t.toString()).toBe("cron[day='1', hour='9', minute='0']");
    const json = t.toJSON();
    expect(json).toEqual({
      type: 'cron',
      day: '1',
      hour: '9',
      minute: '0',
      timezone: 'Europe/Berlin',
      jitter: 5,
    });
    expect(triggerFromJSON(JSON.parse(JSON.stringify(json))).toJSON()).toEqual(json);
    const crontab = CronTrigger.fromCrontab('5 4 * * 6,0', { timezone: 'UTC' });
    expect(triggerFromJSON(crontab.toJSON()).toString()).toBe("cron[crontab='5 4 * * 6,0']");
    expect(new CronTrigger({ dayOfWeek: 'mon-fri', timezone: 'UTC' }).toString()).toBe(
      "cron[day_of_week='mon-fri']",
    );
  });

  it('adds jitter within [0, jitter] and never past endDate', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999999);
    const t = new CronTrigger({ minute: 0, jitter: 30, endDate: '2026-01-01T05:00:10Z', timezone: 'UTC' });
    expect(iso(t.getNextFireTime(null, new Date('2026-01-01T03:30:00Z')))).toBe('2026-01-01T04:00:30.000Z');
    expect(iso(t.getNextFireTime(null, new Date('2026-01-01T04:30:00Z')))).toBe('2026-01-01T05:00:10.000Z');
  });

  it('names the field and the value in errors', () => {
    expect(() => new CronTrigger({ hour: '25', timezone: 'UTC' })).toThrow(/hour.*25/);
    expect(() => new CronTrigger({ dayOfWeek: 'funday', timezone: 'UTC' })).toThrow(/dayOfWeek.*funday/);
    expect(() => new CronTrigger({ minute: '*/0', timezone: 'UTC' })).toThrow(/minute/);
    expect(() => new CronTrigger({ hour: 1, timezone: 'Mars/Olympus' })).toThrow(/timezone.*Mars\/Olympus/);
    expect(() => new CronTrigger({ hour: 1, jitter: -1, timezone: 'UTC' })).toThrow(/jitter/);
    expect(() => new CronTrigger({ hours: 1 } as never)).toThrow(/hours/);
  });
});

describe('IntervalTrigger', () => {
  it('writes its interval in whole units to JSON and round-trips', () => {
    const t = new IntervalTrigger({
      minutes: 90,
      seconds: 0.25,
      startDate: '2026-01-01T00:00:00Z',
      timezone: 'UTC',
    });
    expect(t.toJSON()).toEqual({
      type: 'interval',
      hours: 1,
      minutes: 30,
      seconds: 0.25,
      startDate: '2026-01-01T00:00:00.000Z',
      timezone: 'UTC',
    });
    const back = triggerFromJSON(JSON.parse(JSON.stringify(t.toJSON()))) as IntervalTrigger;
    expect(back.intervalMs).toBe(t.intervalMs);
    expect(back.toJSON()).toEqual(t.toJSON());
    expect(new IntervalTrigger({ days: 15, timezone: 'UTC', startDate: 0 }).toJSON()).toMatchObject({
      weeks: 2,
      days: 1,
    });
  });

  it('counts elapsed time from startDate, with fractional seconds', () => {
    const t = new IntervalTrigger({ seconds: 1.5, startDate: '2026-01-01T00:00:00Z', timezone: 'UTC' });
    expect(fires(t, '2026-01-01T00:00:02Z', 2)).toEqual([
      '2026-01-01T00:00:03.000Z',
      '2026-01-01T00:00:04.500Z',
    ]);
  });

  it('starts one interval from now by default', () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-06-01T10:00:00Z'));
    const t = new IntervalTrigger({ minutes: 5 });
    expect(iso(t.getNextFireTime(null, new Date()))).toBe('2026-06-01T10:05:00.000Z');
  });

  it('ignores wall clocks across DST', () => {
    const t = new IntervalTrigger({
      days: 1,
      startDate: '2026-03-07T12:00:00',
      timezone: 'America/New_York',
    });
    expect(fires(t, '2026-03-07T00:00:00Z', 2)).toEqual([
      '2026-03-07T17:00:00.000Z',
      '2026-03-08T17:00:00.000Z',
    ]);
  });

  it('stops at endDate and refuses bad intervals', () => {
    const t = new IntervalTrigger({ hours: 1, startDate: 0, endDate: 3_600_000, timezone: 'UTC' });
    expect(fires(t, '1970-01-01T00:00:00Z', 3)).toEqual([
      '1970-01-01T00:00:00.000Z',
      '1970-01-01T01:00:00.000Z',
      null,
    ]);
    expect(() => new IntervalTrigger({ timezone: 'UTC' })).toThrow(/longer than 0/);
    expect(() => new IntervalTrigger({ seconds: -1, timezone: 'UTC' })).toThrow(/seconds.*-1/);
    expect(() => new IntervalTrigger({ hours: 1, startDate: 10, endDate: 5, timezone: 'UTC' })).toThrow(
      /endDate/,
    );
    expect(() => new IntervalTrigger({ hours: 1, startDate: 'yesterday', timezone: 'UTC' })).toThrow(
      /startDate.*yesterday/,
    );
    expect(new IntervalTrigger({ hours: 1, startDate: 0, timezone: 'UTC' }).toString()).toBe(
      'interval[1:00:00]',
    );
    expect(new IntervalTrigger({ days: 2, seconds: 30, startDate: 0, timezone: 'UTC' }).toString()).toBe(
      'interval[2 days, 0:00:30]',
    );
  });
});

describe('DateTrigger and date inputs', () => {
  it('fires once', () => {
    const t = new DateTrigger({ runDate: '2026-07-01T12:00:00', timezone: 'Europe/Berlin' });
    expect(fires(t, '2026-01-01T00:00:00Z', 2)).toEqual(['2026-07-01T10:00:00.000Z', null]);
    expect(t.toString()).toBe('date[2026-07-01 12:00:00 Europe/Berlin]');
  });

  it('accepts Date, luxon DateTime, ISO strings with and without offset, and epoch ms', () => {
    const expected = '2026-07-01T10:00:00.000Z';
    for (const runDate of [
      new Date(expected),
      DateTime.fromISO('2026-07-01T12:00:00', { zone: 'Europe/Berlin' }),
      '2026-07-01T12:00:00+02:00',
      '2026-07-01 12:00:00',
      Date.parse(expected),
    ]) {
      expect(
        iso(new DateTrigger({ runDate, timezone: 'Europe/Berlin' }).getNextFireTime(null, new Date(0))),
      ).toBe(expected);
    }
    expect(() => new DateTrigger({ runDate: new Date('nope'), timezone: 'UTC' })).toThrow(/runDate/);
    expect(() => new DateTrigger({ runDate: '2026-02-30', timezone: 'UTC' })).toThrow(/runDate.*2026-02-30/);
    expect(() => new DateTrigger({ runDate: {} as never, timezone: 'UTC' })).toThrow(TypeError);
  });
});

describe('CalendarIntervalTrigger', () => {
  it('skips days a month does not have, keeping the day of month', () => {
    const t = new CalendarIntervalTrigger({ months: 1, hour: 9, startDate: '2026-01-31', timezone: 'UTC' });
    expect(fires(t, '2026-01-01T00:00:00Z', 4)).toEqual([
      '2026-01-31T09:00:00.000Z',
      '2026-03-31T09:00:00.000Z',
      '2026-05-31T09:00:00.000Z',
      '2026-07-31T09:00:00.000Z',
    ]);
  });

  it('fires yearly on 29 February only in leap years', () => {
    const t = new CalendarIntervalTrigger({ years: 1, startDate: '2028-02-29', timezone: 'UTC' });
    expect(fires(t, '2026-01-01T00:00:00Z', 2)).toEqual([
      '2028-02-29T00:00:00.000Z',
      '2032-02-29T00:00:00.000Z',
    ]);
  });

  it('follows the DST rules', () => {
    const gap = new CalendarIntervalTrigger({
      days: 1,
      hour: 2,
      minute: 30,
      startDate: '2026-03-07',
      timezone: 'America/New_York',
    });
    expect(fires(gap, '2026-03-07T00:00:00Z', 3)).toEqual([
      '2026-03-07T07:30:00.000Z',
      '2026-03-08T07:30:00.000Z',
      '2026-03-09T06:30:00.000Z',
    ]);
    const overlap = new CalendarIntervalTrigger({
      days: 1,
      hour: 1,
      minute: 30,
      startDate: '2026-10-31',
      timezone: 'America/New_York',
    });
    expect(fires(overlap, '2026-10-31T00:00:00Z', 3)).toEqual([
      '2026-10-31T05:30:00.000Z',
      '2026-11-01T05:30:00.000Z',
      '2026-11-02T06:30:00.000Z',
    ]);
  });

  it('is stateless, jumps to now, stops at endDate, and round-trips', () => {
    const t = new CalendarIntervalTrigger({
      weeks: 2,
      startDate: '2020-01-06',
      endDate: '2026-02-01',
      timezone: 'UTC',
    });
    // Every 14 days from Monday 2020-01-06: 2026-01-12 is day 2198 = 157 x 14.
    expect(fires(t, '2026-01-01T00:00:00Z', 4)).toEqual([
      '2026-01-12T00:00:00.000Z',
      '2026-01-26T00:00:00.000Z',
      null,
    ]);
    expect(triggerFromJSON(t.toJSON()).toJSON()).toEqual(t.toJSON());
    expect(() => new CalendarIntervalTrigger({ timezone: 'UTC' })).toThrow(/at least one/);
    expect(() => new CalendarIntervalTrigger({ days: 1, hour: 24, timezone: 'UTC' })).toThrow(/hour.*24/);
  });
});

describe('AndTrigger and OrTrigger', () => {
  it('combine triggers', () => {
    const weekdays = new CronTrigger({ dayOfWeek: 'mon-fri', hour: '*', timezone: 'UTC' });
    const noon = new CronTrigger({ hour: 12, timezone: 'UTC' });
    expect(fires(new AndTrigger([weekdays, noon]), '2026-01-02T13:00:00Z', 2)).toEqual([
      '2026-01-05T12:00:00.000Z',
      '2026-01-06T12:00:00.000Z',
    ]);
    const six = new CronTrigger({ hour: 6, timezone: 'UTC' });
    expect(fires(new OrTrigger([noon, six]), '2026-01-01T07:00:00Z', 3)).toEqual([
      '2026-01-01T12:00:00.000Z',
      '2026-01-02T06:00:00.000Z',
      '2026-01-02T12:00:00.000Z',
    ]);
    const and = new AndTrigger([weekdays, noon], { jitter: 2 });
    expect(and.toString()).toBe("and[cron[day_of_week='mon-fri', hour='*'], cron[hour='12']]");
    expect(triggerFromJSON(and.toJSON()).toJSON()).toEqual(and.toJSON());
    expect(() => new OrTrigger([])).toThrow(TypeError);
  });
});

describe('trigger registry', () => {
  class EveryHourOnTheHour implements Trigger {
    getNextFireTime(_previous: Date | null, now: Date): Date | null {
      return new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000 + 3_600_000);
    }
    toJSON(): TriggerJSON {
      return { type: 'hourly' };
    }
    toString(): string {
      return 'hourly[]';
    }
  }

  it('restores custom triggers and refuses unknown ones', () => {
    expect(() => triggerFromJSON({ type: 'hourly' })).toThrow(/hourly/);
    registerTrigger('hourly', () => new EveryHourOnTheHour());
    expect(triggerFromJSON({ type: 'hourly' }).toString()).toBe('hourly[]');
    expect(() => registerTrigger('cron', () => new EveryHourOnTheHour())).toThrow(/built in/);
    expect(() => triggerFromJSON('cron')).toThrow(TypeError);
  });

  it('makes triggers from aliases with the default zone', () => {
    const t = createTrigger('cron', { hour: 9 }, 'Asia/Tokyo');
    expect(t.toJSON().timezone).toBe('Asia/Tokyo');
    expect(() => createTrigger('weekly', {}, 'UTC')).toThrow(
      /"date", "interval", "cron", "calendarinterval".*weekly/,
    );
  });
});
