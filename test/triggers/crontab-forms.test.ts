/**
 * The crontab forms Node users bring from croner, cron-parser and node-cron, each compared with
 * croner or cron-parser on the same pattern over a year of fire times, in several zones.
 *
 * Peer differences kept out of the table, and why:
 * - cron-parser 5 accepts neither `W` nor `LW`, nor 7 fields, nor `#` in a list or beside a
 *   range (`0#1,3L`, `1-5,5#3`): those rows are checked against croner only.
 * - Neither peer accepts a wrap-around range (`fri-mon`, `nov-feb` throw "From value is larger
 *   than to value" / "Invalid range"): those rows compare with the same days written as a list.
 * - croner reads `W` inside a list (`2W,L`) differently (it drops the `L`): checked here against
 *   explicit dates instead.
 * - Patterns that fire in a repeated fall-back hour (an hourly pattern in Sydney in April) are
 *   left out: the rule for those is the DST section's, tested with the conformance vectors.
 */
import { CronExpressionParser } from 'cron-parser';
import { Cron } from 'croner';
import { describe, expect, it } from 'vitest';
import { CronTrigger, type Trigger, type TriggerJSON, triggerFromJSON } from '../../src/index.js';

const ZONES = ['UTC', 'America/New_York', 'Europe/Berlin', 'Australia/Sydney', 'Asia/Kolkata'];
const YEAR: [string, string] = ['2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z'];
const MAX_FIRES = 1000;

interface Row {
  form: string;
  pattern: string;
  /** croner's pattern (`null`: croner is not compared), when it differs from `pattern`. */
  croner?: string | null;
  /** cron-parser's pattern (`null`: cron-parser is not compared), when it differs. */
  parser?: string | null;
  window?: [string, string];
  /** At most this many fire times (default MAX_FIRES; a year of every 5 s is 6 million). */
  max?: number;
}

const ROWS: Row[] = [
  { form: '6 fields, seconds first', pattern: '*/5 * * * * *', max: 200 },
  { form: '6 fields, seconds first', pattern: '*/30 0 9 * * 1' },
  {
    form: '7 fields, year last',
    pattern: '0 30 9 * * 1 2027',
    parser: null,
    window: ['2026-06-01T00:00:00Z', '2028-06-01T00:00:00Z'],
  },
  {
    form: '7 fields, year last',
    pattern: '0 0 12 1 * * 2026-2028',
    parser: null,
    window: ['2025-06-01T00:00:00Z', '2029-06-01T00:00:00Z'],
  },
  { form: 'L in day of month', pattern: '0 0 L * *' },
  {
    form: 'L in day of month',
    pattern: '15 10 L 2 *',
    window: ['2026-01-01T00:00:00Z', '2030-01-01T00:00:00Z'],
  },
  { form: '5L in day of week', pattern: '0 12 * * 5L' },
  { form: '5L in day of week', pattern: '30 10 * * 7L' },
  { form: '5#3 in day of week', pattern: '0 12 * * 5#3' },
  { form: '5#3 in day of week', pattern: '0 12 * * sun#2' },
  { form: '5#3 in day of week', pattern: '0 12 * * 5#5' },
  { form: 'LW in day of month', pattern: '0 9 LW * *', parser: null },
  { form: '15W in day of month', pattern: '0 9 15W * *', parser: null },
  { form: '15W in day of month', pattern: '0 9 1W * *', parser: null },
  { form: '15W in day of month', pattern: '0 9 31W * *', parser: null },
  {
    form: 'wrap-around day of week',
    pattern: '0 8 * * fri-mon',
    croner: '0 8 * * 5,6,0,1',
    parser: '0 8 * * 5,6,0,1',
  },
  { form: 'wrap-around day of week', pattern: '0 8 * * 5-1/2', croner: '0 8 * * 5,0', parser: '0 8 * * 5,0' },
  {
    form: 'wrap-around month',
    pattern: '0 0 1 nov-feb *',
    croner: '0 0 1 11,12,1,2 *',
    parser: '0 0 1 11,12,1,2 *',
  },
  {
    form: 'wrap-around month',
    pattern: '0 0 1 10-3/2 *',
    croner: '0 0 1 10,12,2 *',
    parser: '0 0 1 10,12,2 *',
  },
  { form: '@weekdays', pattern: '@weekdays', croner: '0 0 * * 1-5' },
  { form: "Vixie's OR with 5L", pattern: '0 0 1 * 5L' },
  { form: "Vixie's OR with 5#3", pattern: '0 */6 1,15 * 5#3' },
  { form: "Vixie's OR with 15W", pattern: '0 0 15W * 1', parser: null },
  { form: '5#3 and 5L in a list', pattern: '0 12 * * 0#1,3L', parser: null },
  { form: 'weekdays and 5#3 in a list', pattern: '0 12 * * 1-5,5#3', parser: null },
];

/** Fire times strictly after `from` and before `to`, the scheduler's way (at most `max`). */
function ours(trigger: Trigger, [from, to]: [string, string], max: number): string[] {
  const out: string[] = [];
  const end = Date.parse(to);
  let previous = new Date(from);
  while (out.length < max) {
    const next = trigger.getNextFireTime(previous, previous);
    if (next === null || next.getTime() >= end) break;
    out.push(next.toISOString());
    previous = next;
  }
  return out;
}

function croner(pattern: string, timezone: string, [from, to]: [string, string], max: number): string[] {
  const job = new Cron(pattern, { timezone, paused: true });
  const out: string[] = [];
  const end = Date.parse(to);
  let at = new Date(from);
  while (out.length < max) {
    const next = job.nextRun(at);
    if (next === null || next.getTime() >= end) break;
    out.push(next.toISOString());
    at = next;
  }
  return out;
}

function cronParser(pattern: string, tz: string, [from, to]: [string, string], max: number): string[] {
  const it = CronExpressionParser.parse(pattern, { currentDate: new Date(from), endDate: new Date(to), tz });
  const out: string[] = [];
  const end = Date.parse(to);
  while (out.length < max && it.hasNext()) {
    const next = it.next().toDate();
    if (next.getTime() >= end) break;
    out.push(next.toISOString());
  }
  return out;
}

describe('crontab forms against croner and cron-parser', () => {
  for (const row of ROWS) {
    describe(`${row.form}: ${row.pattern}`, () => {
      for (const zone of ZONES) {
        it(zone, () => {
          const window = row.window ?? YEAR;
          const trigger = CronTrigger.fromCrontab(row.pattern, { timezone: zone });
          const max = row.max ?? MAX_FIRES;
          const fires = ours(trigger, window, max);
          expect(fires.length).toBeGreaterThan(0);
          if (row.croner !== null)
            expect(fires).toEqual(croner(row.croner ?? row.pattern, zone, window, max));
          if (row.parser !== null)
            expect(fires).toEqual(cronParser(row.parser ?? row.pattern, zone, window, max));
          // A stored trigger fires the same.
          const stored = triggerFromJSON(JSON.parse(JSON.stringify(trigger.toJSON())) as TriggerJSON);
          expect(stored.toString()).toBe(`cron[crontab='${row.pattern}']`);
          expect(ours(stored, window, max)).toEqual(fires);
        });
      }
    });
  }
});

describe('crontab forms', () => {
  const utc = (pattern: string, from: string, count: number) => {
    const t = CronTrigger.fromCrontab(pattern, { timezone: 'UTC' });
    const out: string[] = [];
    let previous = new Date(from);
    for (let i = 0; i < count; i++) {
      const next = t.getNextFireTime(previous, previous);
      if (next === null) break;
      out.push(next.toISOString().slice(0, 10));
      previous = next;
    }
    return out;
  };

  it('gives the nearest weekday without leaving the month', () => {
    // 2026-08-01 is a Saturday: the 3rd (Monday), not July 31.
    expect(utc('0 0 1W 8 *', '2026-07-01T00:00:00Z', 1)).toEqual(['2026-08-03']);
    // 2026-05-31 is a Sunday: Friday the 29th, not June 1.
    expect(utc('0 0 LW 5 *', '2026-05-01T00:00:00Z', 1)).toEqual(['2026-05-29']);
    // 2026-02-15 is a Sunday: Monday the 16th.
    expect(utc('0 0 15W 2 *', '2026-01-01T00:00:00Z', 1)).toEqual(['2026-02-16']);
    // No 31st: no fire that month.
    expect(utc('0 0 31W * *', '2026-01-31T00:00:00Z', 3)).toEqual(['2026-03-31', '2026-05-29', '2026-07-31']);
    // In a list, each part adds its days.
    expect(utc('0 0 2W,L * *', '2026-04-30T12:00:00Z', 4)).toEqual([
      '2026-05-01',
      '2026-05-31',
      '2026-06-02',
      '2026-06-30',
    ]);
  });

  it('keeps Unix weekday numbering and the old forms', () => {
    expect(utc('0 0 * * 0L', '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-25']);
    expect(utc('0 0 * * 7#1', '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-04']);
    expect(utc('0 0 * * sat-sun', '2026-01-01T00:00:00Z', 2)).toEqual(['2026-01-03', '2026-01-04']);
    expect(utc('0 0 * * sun-mon', '2026-01-01T00:00:00Z', 2)).toEqual(['2026-01-04', '2026-01-05']);
    expect(utc('0 0 ? * fri', '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-02']);
    expect(utc('0 0 last * *', '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-31']);
    // Day of month starting with * and a weekday: both must match, as before.
    expect(utc('0 0 */10 * mon', '2026-01-01T00:00:00Z', 1)).toEqual(['2026-05-11']);
  });

  it('refuses what it does not know, naming the field', () => {
    const cases: Array<[string, RegExp]> = [
      ['0 0 32W * *', /day of month "32W": the day must be from 1 to 31/],
      ['0 0 0W * *', /day of month "0W"/],
      ['0 0 L-2 * *', /day of month: unrecognized expression "L-2"/],
      ['0 0 1-5W * *', /day of month: unrecognized expression "1-5W"/],
      ['0 0 W * *', /day of month: unrecognized expression "W"/],
      ['0 0 * * 5#6', /day of week "5#6": the week in the month \(#6\) must be from 1 to 5/],
      ['0 0 * * 5#0', /day of week "5#0"/],
      ['0 0 * * 8L', /day of week value \(8\) is higher than the maximum value \(7\)/],
      ['0 0 * * L', /invalid day of week name "L"/],
      ['0 0 * * 1W', /invalid day of week name "1W"/],
      ['0 0 * * fri-', /unrecognized day of week expression "fri-"/],
      ['0 0 * * */0', /the step in day of week "\*\/0" must be higher than 0/],
      ['0 0 * 13 *', /month value \(13\) is higher than the maximum value \(12\)/],
      ['0 0 * 0 *', /month value \(0\) is lower than the minimum value \(1\)/],
      ['0 0 * jan-foo *', /invalid month name "foo"/],
      ['0 0 * ? *', /unrecognized month expression "\?"/],
      ['0 0 */2 * 5L', /day of week "5L" with L or # needs day of month to be/],
      ['60 * * * * *', /Invalid cron field second/],
      ['0 60 * * * *', /Invalid cron field minute/],
      ['0 0 24 * * *', /Invalid cron field hour/],
      ['0 0 0 * * * 1969', /Invalid cron field year/],
      [
        '0 0 0 * * * 2026 1',
        /expected 5 fields .*, 6 \(second first\) or 7 \(second first, year last\), got 8/,
      ],
      ['0 0 * *', /got 4/],
      ['@reboot', /got 1/],
    ];
    for (const [pattern, message] of cases) {
      expect(() => CronTrigger.fromCrontab(pattern, { timezone: 'UTC' }), pattern).toThrow(RangeError);
      expect(() => CronTrigger.fromCrontab(pattern, { timezone: 'UTC' }), pattern).toThrow(message);
    }
  });

  it('leaves the APScheduler field grammar as it is', () => {
    expect(() => new CronTrigger({ day: '15W', timezone: 'UTC' })).toThrow(/Invalid cron field day/);
    expect(() => new CronTrigger({ dayOfWeek: 'fri-mon', timezone: 'UTC' })).toThrow(
      /Invalid cron field dayOfWeek/,
    );
    expect(() => new CronTrigger({ month: '11-2', timezone: 'UTC' })).toThrow(/Invalid cron field month/);
  });
});
