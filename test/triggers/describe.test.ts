/**
 * Plain-English trigger descriptions: a table of triggers of every kind (DST zones, crontab
 * forms, combining triggers), each with the text `describeTrigger` and `trigger.describe()` give.
 */
import { describe, expect, it } from 'vitest';
import {
  AndTrigger,
  CalendarIntervalTrigger,
  CronTrigger,
  DateTrigger,
  describeTrigger,
  IntervalTrigger,
  OrTrigger,
  type Trigger,
} from '../../src/index.js';

const NY = 'America/New_York';
const cron = (fields: ConstructorParameters<typeof CronTrigger>[0]) =>
  new CronTrigger({ timezone: 'UTC', ...fields });
const tab = (line: string, timezone = 'UTC') => CronTrigger.fromCrontab(line, { timezone });
const every = (options: ConstructorParameters<typeof IntervalTrigger>[0]) =>
  new IntervalTrigger({ startDate: '2026-12-01T10:00:00Z', timezone: 'UTC', ...options });

const TABLE: Array<[Trigger, string]> = [
  // cron fields: times of day
  [cron({ minute: '*/15', timezone: NY }), 'every 15 minutes'],
  [cron({ minute: '*/15' }), 'every 15 minutes'],
  [cron({ second: '*' }), 'every second'],
  [cron({ second: '*/10' }), 'every 10 seconds'],
  [cron({ second: '0,30' }), 'every 30 seconds'],
  [cron({ minute: '*' }), 'every minute'],
  [cron({ minute: 0 }), 'every hour'],
  [cron({ minute: 5, timezone: 'Europe/Berlin' }), 'every hour at minute 5'],
  [cron({ minute: '0,30' }), 'every 30 minutes'],
  [cron({ minute: '10,20,45' }), 'every hour at minutes 10, 20 and 45'],
  [cron({ hour: '*/2' }), 'every 2 hours'],
  [cron({ hour: '*/6', timezone: 'Asia/Kathmandu' }), 'every 6 hours (Asia/Kathmandu)'],
  [cron({ hour: '*/2', minute: 30 }), 'at minute 30 in every 2nd hour'],
  [cron({ hour: 9 }), 'at 09:00 every day'],
  [cron({ hour: 9, minute: 30, timezone: NY }), 'at 09:30 every day (America/New_York)'],
  [cron({ hour: 9, minute: 30, second: 15 }), 'at 09:30:15 every day'],
  [cron({ hour: '9,17' }), 'at 09:00 and 17:00 every day'],
  [cron({ hour: '9,12,15,18', minute: 15 }), 'at 09:15, 12:15, 15:15 and 18:15 every day'],
  [cron({ hour: '9-17' }), 'every hour from 09:00 through 17:59'],
  [cron({ hour: '9-17', minute: '*/10' }), 'every 10 minutes from 09:00 through 17:59'],
  [cron({ hour: 3, minute: '10-14' }), 'every minute from 03:10 through 03:14'],
  [
    cron({ hour: '1,3,5,7,9', minute: '*/30' }),
    'every 30 minutes in the 01:00, 03:00, 05:00, 07:00 and 09:00 hours',
  ],
  [cron({ minute: '5-10' }), 'every minute from 5 through 10 past the hour'],
  [cron({ second: '*/5', minute: 30 }), 'every 5 seconds at minute 30'],
  [
    cron({ second: 30, minute: '*/5', hour: '9-17', dayOfWeek: 'mon-fri', timezone: NY }),
    'every 5 minutes at second 30 from 09:00 through 17:59 on Monday through Friday (America/New_York)',
  ],
  // cron fields: calendar
  [
    cron({ hour: 9, minute: 30, dayOfWeek: 'mon-fri', timezone: NY }),
    'at 09:30 on Monday through Friday (America/New_York)',
  ],
  [cron({ day: 'last fri', hour: 17, minute: 30 }), 'at 17:30 on the last Friday of every month'],
  [cron({ day: 1, hour: 9 }), 'at 09:00 on the 1st of every month'],
  [cron({ day: 2, hour: 9 }), 'at 09:00 on the 2nd of every month'],
  [cron({ day: 23, hour: 9 }), 'at 09:00 on the 23rd of every month'],
  [cron({ day: 'last' }), 'at 00:00 on the last day of every month'],
  [cron({ day: '1st mon', hour: 8 }), 'at 08:00 on the 1st Monday of every month'],
  [cron({ day: '1,15', hour: 12 }), 'at 12:00 on the 1st and the 15th of every month'],
  [cron({ day: '1-7', hour: 12 }), 'at 12:00 on the 1st through 7th of every month'],
  [cron({ day: '*/10' }), 'at 00:00 on every 10th day of every month'],
  [cron({ month: 2, day: 29, hour: 12 }), 'at 12:00 on the 29th of February'],
  [cron({ month: 'jan', day: 1 }), 'at 00:00 on the 1st of January'],
  [cron({ month: '1-3', day: 1 }), 'at 00:00 on the 1st of January through March'],
  [cron({ month: '*/3', day: 1 }), 'at 00:00 on the 1st of every 3rd month'],
  [cron({ month: '3,10', dayOfWeek: 'sun', hour: 2 }), 'at 02:00 on Sunday in March and October'],
  [cron({ dayOfWeek: 'sat,sun', hour: 10 }), 'at 10:00 on Saturday and Sunday'],
  [
    cron({ dayOfWeek: 'mon,wed,fri', hour: 7, timezone: 'Europe/London' }),
    'at 07:00 on Monday, Wednesday and Friday (Europe/London)',
  ],
  [cron({ dayOfWeek: 'mon' }), 'at 00:00 on Monday'],
  [
    cron({ day: '1-7', dayOfWeek: 'mon', hour: 9 }),
    'at 09:00 on the 1st through 7th of every month, when it is a Monday',
  ],
  [cron({ week: '1-10', hour: 9 }), 'at 09:00 in ISO weeks 1 through 10'],
  [cron({ week: 5, hour: 9 }), 'at 09:00 in ISO week 5'],
  [cron({ year: 2027, month: 'jan', day: 1 }), 'at 00:00 on the 1st of January in 2027'],
  [cron({ year: '2026-2028', month: 'jan', day: 1 }), 'at 00:00 on the 1st of January in 2026 through 2028'],
  [cron({ minute: '*/10', jitter: 30 }), 'every 10 minutes, with up to 30 s of random delay'],
  [
    cron({ hour: 6, startDate: '2026-01-01', endDate: '2026-06-30', timezone: 'Europe/Paris' }),
    'at 06:00 every day from 2026-01-01 00:00 Europe/Paris until 2026-06-30 00:00 Europe/Paris',
  ],
  [
    cron({ hour: 2, minute: 30, timezone: 'Australia/Lord_Howe' }),
    'at 02:30 every day (Australia/Lord_Howe)',
  ],
  [cron({ hour: 0, timezone: 'America/Sao_Paulo' }), 'at 00:00 every day (America/Sao_Paulo)'],
  // crontab lines
  [tab('*/15 * * * *'), 'every 15 minutes'],
  [tab('0 9 * * 1-5', NY), 'at 09:00 on Monday through Friday (America/New_York)'],
  [tab('0 8 1-7 * 1'), 'at 08:00 on the 1st through 7th of every month, and on every Monday'],
  [tab('0 0 L * *'), 'at 00:00 on the last day of every month'],
  [tab('0 12 * * 5#3'), 'at 12:00 on the 3rd Friday of every month'],
  [tab('30 17 * * 5L'), 'at 17:30 on the last Friday of every month'],
  [tab('0 12 15W * *'), 'at 12:00 on the weekday nearest the 15th of every month'],
  [tab('0 12 LW * *'), 'at 12:00 on the last weekday of every month'],
  [tab('0 18 * * fri-mon', 'Europe/Berlin'), 'at 18:00 on Friday through Monday (Europe/Berlin)'],
  [tab('0 6 * nov-feb *'), 'at 06:00 in November through February'],
  [tab('@daily'), 'at 00:00 every day'],
  [tab('@hourly'), 'every hour'],
  [tab('@weekly'), 'at 00:00 on Sunday'],
  [tab('@monthly'), 'at 00:00 on the 1st of every month'],
  [tab('@yearly'), 'at 00:00 on the 1st of January'],
  [tab('@weekdays'), 'at 00:00 on Monday through Friday'],
  [tab('*/5 * * * * *'), 'every 5 seconds'],
  [tab('0 0 12 1 1 * 2027'), 'at 12:00 on the 1st of January in 2027'],
  // interval, date, calendar interval
  [every({ hours: 2 }), 'every 2 hours from 2026-12-01 10:00 UTC'],
  [every({ seconds: 1 }), 'every second from 2026-12-01 10:00 UTC'],
  [every({ minutes: 90, timezone: 'Europe/Berlin' }), 'every 90 minutes from 2026-12-01 11:00 Europe/Berlin'],
  [every({ days: 1 }), 'every day from 2026-12-01 10:00 UTC'],
  [every({ weeks: 2 }), 'every 2 weeks from 2026-12-01 10:00 UTC'],
  [every({ seconds: 1.5 }), 'every 1.5 seconds from 2026-12-01 10:00 UTC'],
  [
    every({ hours: 1, endDate: '2026-12-02T10:00:00Z', jitter: 5 }),
    'every hour from 2026-12-01 10:00 UTC until 2026-12-02 10:00 UTC, with up to 5 s of random delay',
  ],
  [new DateTrigger({ runDate: '2026-12-01T10:00:00Z', timezone: 'UTC' }), 'once at 2026-12-01 10:00 UTC'],
  [
    new DateTrigger({ runDate: '2026-11-01T01:30:00-05:00', timezone: NY }),
    'once at 2026-11-01 01:30 America/New_York',
  ],
  [
    new CalendarIntervalTrigger({ months: 1, hour: 9, startDate: '2026-01-31', timezone: 'Europe/Berlin' }),
    'at 09:00 every month from 2026-01-31 (Europe/Berlin)',
  ],
  [
    new CalendarIntervalTrigger({ weeks: 2, hour: 8, minute: 30, startDate: '2026-12-07', timezone: 'UTC' }),
    'at 08:30 every 2 weeks from 2026-12-07 (UTC)',
  ],
  [
    new CalendarIntervalTrigger({
      years: 1,
      months: 6,
      startDate: '2026-01-01',
      endDate: '2030-01-01',
      timezone: 'UTC',
    }),
    'at 00:00 every 1 year and 6 months from 2026-01-01 until 2030-01-01 (UTC)',
  ],
  // combining
  [
    new OrTrigger([
      cron({ day: 1, hour: 9 }),
      new IntervalTrigger({ seconds: 2, startDate: '2026-01-01T00:00:00Z', timezone: 'UTC' }),
    ]),
    'at 09:00 on the 1st of every month, and every 2 seconds from 2026-01-01 00:00 UTC',
  ],
  [
    new OrTrigger([cron({ hour: 9, dayOfWeek: 'mon-fri' }), cron({ hour: 11, dayOfWeek: 'sat,sun' })], {
      jitter: 60,
    }),
    'at 09:00 on Monday through Friday, and at 11:00 on Saturday and Sunday, with up to 60 s of random delay',
  ],
  [
    new AndTrigger([cron({ hour: 9 }), cron({ dayOfWeek: 'mon' })]),
    'whenever all of these coincide: at 09:00 every day; at 00:00 on Monday',
  ],
];

describe('describeTrigger', () => {
  it('has a table of at least 60 triggers', () => {
    expect(TABLE.length).toBeGreaterThanOrEqual(60);
  });

  for (const [trigger, text] of TABLE) {
    it(`${trigger.toString()} (${JSON.stringify(trigger.toJSON()).slice(0, 60)})`, () => {
      expect(describeTrigger(trigger)).toBe(text);
      expect(trigger.describe?.()).toBe(text);
    });
  }

  it('describes a custom trigger without describe() by its toString()', () => {
    const custom: Trigger = {
      getNextFireTime: () => null,
      toJSON: () => ({ type: 'custom' }),
      toString: () => 'custom[every full moon]',
    };
    expect(describeTrigger(custom)).toBe('custom[every full moon]');
  });
});
