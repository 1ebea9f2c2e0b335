/**
 * What the README promises about date inputs and bounds: a wall time in a DST gap, inclusive
 * start and end dates, and the first calendar-interval fire at or after now.
 */
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import {
  CalendarIntervalTrigger,
  CronTrigger,
  DateTrigger,
  IntervalTrigger,
  type Trigger,
} from '../../src/index.js';

const iso = (d: Date | null) => d?.toISOString() ?? null;

/** Every fire time from `now` (the scheduler's way), `null` last when it ends. */
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

describe('date inputs', () => {
  const zone = 'America/New_York';

  it('reads a wall time in a spring-forward gap with the offset from before the transition', () => {
    // 02:30 does not exist on 2026-03-08 in New York: read at UTC-5, it is 07:30Z (03:30 EDT).
    const run = (runDate: string) =>
      new DateTrigger({ runDate, timezone: zone }).getNextFireTime(null, new Date(0));
    expect(iso(run('2026-03-08T02:30'))).toBe('2026-03-08T07:30:00.000Z');
    expect(iso(run('2026-03-08T02:00:00'))).toBe('2026-03-08T07:00:00.000Z');
    // The same for start and end dates.
    const cron = new CronTrigger({ minute: 0, startDate: '2026-03-08T02:30', timezone: zone });
    expect(fires(cron, '2026-03-08T00:00:00Z', 1)).toEqual(['2026-03-08T08:00:00.000Z']);
    const interval = new IntervalTrigger({ hours: 1, startDate: '2026-03-08T02:30', timezone: zone });
    expect(interval.toJSON().startDate).toBe('2026-03-08T07:30:00.000Z');
  });

  it('reads a repeated wall time at its first occurrence', () => {
    const t = new DateTrigger({ runDate: '2026-11-01T01:30', timezone: zone });
    expect(iso(t.getNextFireTime(null, new Date(0)))).toBe('2026-11-01T05:30:00.000Z');
  });

  it('takes instants as they are: an offset in the string, a Date, a DateTime, epoch ms', () => {
    const at = '2026-03-08T07:30:00.000Z';
    for (const runDate of ['2026-03-08T03:30-04:00', new Date(at), DateTime.fromISO(at), Date.parse(at)]) {
      expect(iso(new DateTrigger({ runDate, timezone: zone }).getNextFireTime(null, new Date(0)))).toBe(at);
    }
  });
});

describe('start and end dates are inclusive', () => {
  const startDate = '2026-01-01T10:00:00Z';
  const endDate = '2026-01-01T12:00:00Z';
  const hourly = ['2026-01-01T10:00:00.000Z', '2026-01-01T11:00:00.000Z', '2026-01-01T12:00:00.000Z', null];

  it('for cron triggers, from fields and from crontab lines', () => {
    expect(
      fires(new CronTrigger({ minute: 0, startDate, endDate, timezone: 'UTC' }), '2026-01-01T00:00:00Z', 5),
    ).toEqual(hourly);
    expect(
      fires(
        CronTrigger.fromCrontab('0 * * * *', { startDate, endDate, timezone: 'UTC' }),
        '2026-01-01T00:00:00Z',
        5,
      ),
    ).toEqual(hourly);
  });

  it('for interval triggers', () => {
    expect(
      fires(
        new IntervalTrigger({ hours: 1, startDate, endDate, timezone: 'UTC' }),
        '2026-01-01T00:00:00Z',
        5,
      ),
    ).toEqual(hourly);
  });

  it('for calendar-interval triggers (dates)', () => {
    const t = new CalendarIntervalTrigger({
      days: 1,
      hour: 9,
      startDate: '2026-01-01',
      endDate: '2026-01-03',
      timezone: 'UTC',
    });
    expect(fires(t, '2025-12-01T00:00:00Z', 5)).toEqual([
      '2026-01-01T09:00:00.000Z',
      '2026-01-02T09:00:00.000Z',
      '2026-01-03T09:00:00.000Z',
      null,
    ]);
  });
});

describe('CalendarIntervalTrigger', () => {
  it('gives the first fire at or after now, without the ones before it', () => {
    const t = new CalendarIntervalTrigger({ days: 1, hour: 9, startDate: '2026-01-01', timezone: 'UTC' });
    expect(iso(t.getNextFireTime(null, new Date('2026-01-05T09:00:00Z')))).toBe('2026-01-05T09:00:00.000Z');
    expect(iso(t.getNextFireTime(null, new Date('2026-01-05T09:00:00.001Z')))).toBe(
      '2026-01-06T09:00:00.000Z',
    );
  });
});
