/**
 * The fall-back rule of SPEC section 6, on the examples the README gives: a wildcard cron job
 * runs on real time through a repeated hour, a fixed-time job fires once.
 */
import { describe, expect, it } from 'vitest';
import { CronTrigger } from '../../src/index.js';

function fires(trigger: CronTrigger, from: string, count: number): string[] {
  const out: string[] = [];
  let previous: Date | null = null;
  let now = new Date(from);
  for (let i = 0; i < count; i++) {
    const next = trigger.getNextFireTime(previous, now);
    if (next === null) break;
    out.push(next.toISOString());
    previous = next;
    now = next;
  }
  return out;
}

describe('cron triggers when clocks fall back', () => {
  it('runs a */15 job every 15 minutes of real time through the repeated hour (New York)', () => {
    const trigger = new CronTrigger({ minute: '*/15', timezone: 'America/New_York' });
    // 2026-11-01: 01:00-01:59 EDT (05:00-05:59Z), then 01:00-01:59 EST again (06:00-06:59Z).
    expect(fires(trigger, '2026-11-01T04:40:00.000Z', 11)).toEqual([
      '2026-11-01T04:45:00.000Z',
      '2026-11-01T05:00:00.000Z',
      '2026-11-01T05:15:00.000Z',
      '2026-11-01T05:30:00.000Z',
      '2026-11-01T05:45:00.000Z',
      '2026-11-01T06:00:00.000Z',
      '2026-11-01T06:15:00.000Z',
      '2026-11-01T06:30:00.000Z',
      '2026-11-01T06:45:00.000Z',
      '2026-11-01T07:00:00.000Z',
      '2026-11-01T07:15:00.000Z',
    ]);
  });

  it('runs an hourly job (hour left *) at both 01:00s, and the same from a crontab', () => {
    const expected = [
      '2026-11-01T04:00:00.000Z',
      '2026-11-01T05:00:00.000Z',
      '2026-11-01T06:00:00.000Z',
      '2026-11-01T07:00:00.000Z',
    ];
    const fields = new CronTrigger({ minute: 0, timezone: 'America/New_York' });
    expect(fires(fields, '2026-11-01T03:30:00.000Z', 4)).toEqual(expected);
    const crontab = CronTrigger.fromCrontab('0 * * * *', { timezone: 'America/New_York' });
    expect(fires(crontab, '2026-11-01T03:30:00.000Z', 4)).toEqual(expected);
  });

  it('fires a fixed-time job (01:30 daily) once, at the first occurrence', () => {
    const trigger = new CronTrigger({ hour: 1, minute: 30, timezone: 'America/New_York' });
    expect(fires(trigger, '2026-10-31T12:00:00.000Z', 3)).toEqual([
      '2026-11-01T05:30:00.000Z', // 01:30 EDT; 01:30 EST (06:30Z) does not fire
      '2026-11-02T06:30:00.000Z',
      '2026-11-03T06:30:00.000Z',
    ]);
  });

  it('fires a wildcard job in a 30-minute fall-back (Lord Howe) at both readings', () => {
    // 2026-04-05 02:00 +11 falls back to 01:30 +10:30: 01:30-01:59 occurs twice.
    const trigger = new CronTrigger({ minute: '*/20', timezone: 'Australia/Lord_Howe' });
    expect(fires(trigger, '2026-04-04T14:15:00.000Z', 5)).toEqual([
      '2026-04-04T14:20:00.000Z', // 01:20 +11
      '2026-04-04T14:40:00.000Z', // 01:40 +11
      '2026-04-04T15:10:00.000Z', // 01:40 +10:30 (second occurrence)
      '2026-04-04T15:30:00.000Z', // 02:00 +10:30
      '2026-04-04T15:50:00.000Z',
    ]);
  });

  it('leaves spring-forward gaps as before: a wall time in the gap fires once, shifted', () => {
    const wildcard = new CronTrigger({ minute: '*/30', timezone: 'America/New_York' });
    // 2026-03-08 02:00 EST jumps to 03:00 EDT; 02:00 and 02:30 map to 03:00 and 03:30 EDT.
    expect(fires(wildcard, '2026-03-08T06:40:00.000Z', 4)).toEqual([
      '2026-03-08T07:00:00.000Z',
      '2026-03-08T07:30:00.000Z',
      '2026-03-08T08:00:00.000Z',
      '2026-03-08T08:30:00.000Z',
    ]);
  });
});
