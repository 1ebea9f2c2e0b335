/**
 * `trigger.getNextFireTimes(count, from)` on every trigger and `job.getNextRunTimes(count)`.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AndTrigger,
  BackgroundScheduler,
  CalendarIntervalTrigger,
  CronTrigger,
  DateTrigger,
  IntervalTrigger,
  OrTrigger,
} from '../../src/index.js';

const iso = (dates: Date[]) => dates.map((d) => d.toISOString());

describe('getNextFireTimes', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lists the next fire times of a cron trigger, through a fall-back night', () => {
    const trigger = new CronTrigger({ minute: '*/30', timezone: 'America/New_York' });
    expect(iso(trigger.getNextFireTimes(5, '2026-11-01T05:10:00Z'))).toEqual([
      '2026-11-01T05:30:00.000Z',
      '2026-11-01T06:00:00.000Z',
      '2026-11-01T06:30:00.000Z',
      '2026-11-01T07:00:00.000Z',
      '2026-11-01T07:30:00.000Z',
    ]);
  });

  it('reads a date string without an offset in the trigger zone, and starts at or after it', () => {
    const trigger = new CronTrigger({ hour: 9, timezone: 'Europe/Berlin' });
    expect(iso(trigger.getNextFireTimes(2, '2026-12-01T09:00'))).toEqual([
      '2026-12-01T08:00:00.000Z',
      '2026-12-02T08:00:00.000Z',
    ]);
  });

  it('starts at now by default', () => {
    vi.useFakeTimers({ now: new Date('2026-03-01T12:34:56Z'), toFake: ['Date'] });
    const trigger = new CronTrigger({ day: 1, hour: 9, timezone: 'UTC' });
    expect(iso(trigger.getNextFireTimes(2))).toEqual([
      '2026-04-01T09:00:00.000Z',
      '2026-05-01T09:00:00.000Z',
    ]);
  });

  it('gives fewer when the trigger ends', () => {
    expect(
      iso(new DateTrigger({ runDate: '2026-12-24T18:00:00Z' }).getNextFireTimes(5, '2026-12-01T00:00:00Z')),
    ).toEqual(['2026-12-24T18:00:00.000Z']);
    const interval = new IntervalTrigger({
      hours: 1,
      startDate: '2026-12-01T10:00:00Z',
      endDate: '2026-12-01T12:00:00Z',
      timezone: 'UTC',
    });
    expect(iso(interval.getNextFireTimes(10, '2026-12-01T00:00:00Z'))).toEqual([
      '2026-12-01T10:00:00.000Z',
      '2026-12-01T11:00:00.000Z',
      '2026-12-01T12:00:00.000Z',
    ]);
    expect(interval.getNextFireTimes(0, '2026-12-01T00:00:00Z')).toEqual([]);
  });

  it('works on calendar-interval and combining triggers, leaving their state as it was', () => {
    const calendar = new CalendarIntervalTrigger({
      months: 1,
      hour: 9,
      startDate: '2026-01-31',
      timezone: 'UTC',
    });
    expect(iso(calendar.getNextFireTimes(3, '2026-01-01T00:00:00Z'))).toEqual([
      '2026-01-31T09:00:00.000Z',
      '2026-03-31T09:00:00.000Z',
      '2026-05-31T09:00:00.000Z',
    ]);
    const start = '2026-01-01T00:00:00Z';
    const or = new OrTrigger([
      new IntervalTrigger({ seconds: 4, startDate: start, timezone: 'UTC' }),
      new IntervalTrigger({ seconds: 6, startDate: start, timezone: 'UTC' }),
    ]);
    const first = or.getNextFireTime(null, new Date(start)) as Date;
    const state = JSON.stringify(or.toJSON());
    expect(iso(or.getNextFireTimes(6, start))).toEqual([
      '2026-01-01T00:00:00.000Z',
      '2026-01-01T00:00:04.000Z',
      '2026-01-01T00:00:06.000Z',
      '2026-01-01T00:00:08.000Z',
      '2026-01-01T00:00:12.000Z',
      '2026-01-01T00:00:16.000Z',
    ]);
    expect(JSON.stringify(or.toJSON())).toBe(state);
    expect(or.getNextFireTime(first, first)?.toISOString()).toBe('2026-01-01T00:00:04.000Z');
    const and = new AndTrigger([
      new CronTrigger({ hour: 9, timezone: 'UTC' }),
      new CronTrigger({ dayOfWeek: 'mon', hour: '*', timezone: 'UTC' }),
    ]);
    expect(iso(and.getNextFireTimes(2, '2026-12-01T00:00:00Z'))).toEqual([
      '2026-12-07T09:00:00.000Z',
      '2026-12-14T09:00:00.000Z',
    ]);
  });

  it('refuses a count that is not a whole number from 0 to 100,000, naming it', () => {
    const trigger = new CronTrigger({ minute: '*', timezone: 'UTC' });
    for (const bad of [-1, 1.5, Number.NaN, 100_001, '5']) {
      expect(() => trigger.getNextFireTimes(bad as number)).toThrow(
        /^Expected count to be a whole number from 0 to 100,000, got /,
      );
    }
    expect(() => trigger.getNextFireTimes(1, 'yesterday')).toThrow(/from/);
  });
});

describe('job.getNextRunTimes', () => {
  it('starts at the job next run time, and gives none for a paused job', async () => {
    vi.useFakeTimers({
      now: new Date('2026-12-01T08:00:00Z'),
      toFake: ['Date', 'setTimeout', 'clearTimeout'],
    });
    try {
      const scheduler = new BackgroundScheduler({ timezone: 'UTC', daemon: true });
      await scheduler.start({ paused: true });
      const job = await scheduler.addJob(() => undefined, 'cron', { hour: '9,17', id: 'report' });
      expect(iso(job.getNextRunTimes(3))).toEqual([
        '2026-12-01T09:00:00.000Z',
        '2026-12-01T17:00:00.000Z',
        '2026-12-02T09:00:00.000Z',
      ]);
      const paused = await scheduler.addJob(() => undefined, 'interval', { minutes: 5, nextRunTime: null });
      expect(paused.getNextRunTimes(3)).toEqual([]);
      expect(() => job.getNextRunTimes(-2)).toThrow(/count/);
      await scheduler.shutdown();
    } finally {
      vi.useRealTimers();
    }
  });
});
