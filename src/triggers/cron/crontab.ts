/**
 * Unix crontab lines (`m h dom mon dow`, 0 or 7 = Sunday) turned into APScheduler fields.
 */
import { describeValue } from '../../describe.js';
import type { FieldName } from './expressions.js';

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const UNIX_WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const APS_WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/** A crontab line as APScheduler fields, and whether day and weekday combine with OR. */
export interface CrontabFields {
  fields: Partial<Record<FieldName, string>>;
  dayOrWeekday: boolean;
}

function bad(expr: string, reason: string): RangeError {
  return new RangeError(`Invalid crontab ${describeValue(expr)}: ${reason}`);
}

function unixWeekday(token: string, expr: string): number {
  if (/^\d+$/.test(token)) {
    const n = Number(token);
    if (n > 7) throw bad(expr, `day of week value (${n}) is higher than the maximum value (7)`);
    return n % 7;
  }
  const index = UNIX_WEEKDAYS.indexOf(token.toLowerCase());
  if (index < 0) throw bad(expr, `invalid weekday name "${token}"`);
  return index;
}

/** Converts a Unix day-of-week field to APScheduler's numbering (0 = Monday) as a name list. */
function convertWeekdays(text: string, expr: string): string {
  if (text === '*' || text === '?') return '*';
  let mask = 0;
  for (const part of text.split(',')) {
    const m = /^(\*|[a-z0-9]+)(?:-([a-z0-9]+))?(?:\/(\d+))?$/i.exec(part);
    if (m === null) throw bad(expr, `unrecognized day of week expression "${part}"`);
    const step = m[3] === undefined ? 1 : Number(m[3]);
    if (step < 1) throw bad(expr, `the step in "${part}" must be higher than 0`);
    let first: number;
    let last: number;
    if (m[1] === '*') {
      if (m[2] !== undefined) throw bad(expr, `unrecognized day of week expression "${part}"`);
      first = 0;
      last = 6;
    } else {
      first = /^\d+$/.test(m[1]) ? Number(m[1]) : unixWeekday(m[1], expr);
      if (first > 7) throw bad(expr, `day of week value (${first}) is higher than the maximum value (7)`);
      last =
        m[2] === undefined
          ? m[3] === undefined
            ? first
            : 7
          : /^\d+$/.test(m[2])
            ? Number(m[2])
            : unixWeekday(m[2], expr);
      if (m[2] !== undefined && /^[a-z]+$/i.test(m[2]) && last === 0) last = 7;
      if (last > 7) throw bad(expr, `day of week value (${last}) is higher than the maximum value (7)`);
      if (first > last) throw bad(expr, `the range "${part}" runs backwards`);
    }
    for (let v = first; v <= last; v += step) mask |= 1 << (v % 7);
  }
  const names: string[] = [];
  for (let aps = 0; aps < 7; aps++) if (mask & (1 << ((aps + 1) % 7))) names.push(APS_WEEKDAYS[aps]);
  return names.join(',');
}

/** Parses a crontab line. Vixie cron's rule: with both day of month and day of week restricted, either may match. */
export function parseCrontab(expr: unknown): CrontabFields {
  if (typeof expr !== 'string') {
    throw new TypeError(`Expected crontab to be a string like "0 9 * * 1-5", got ${describeValue(expr)}`);
  }
  const line = MACROS[expr.trim().toLowerCase()] ?? expr.trim();
  const parts = line.split(/\s+/);
  if (parts.length !== 5) {
    throw bad(expr, `expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`);
  }
  const [minute, hour, day, month, dow] = parts;
  const dayText = day === '?' ? '*' : day;
  return {
    fields: { minute, hour, day: dayText, month, dayOfWeek: convertWeekdays(dow, expr) },
    dayOrWeekday: !dayText.startsWith('*') && !dow.startsWith('*') && dow !== '?',
  };
}
