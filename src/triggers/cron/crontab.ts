/**
 * Crontab lines (`[s] m h dom mon dow [year]`, 0 or 7 = Sunday) compiled onto the cron engine:
 * the forms of Vixie cron, croner and cron-parser (`L`, `5L`, `5#3`, `LW`, `15W`, wrap-around
 * ranges, `@` macros).
 */
import { describeValue } from '../../describe.js';
import {
  type Expression,
  ExpressionError,
  type FieldName,
  MONTHS,
  parseExpression,
  type WeekdayPositionExpression,
} from './expressions.js';
import { type CronSpec, compileSpec, withDefaults } from './fields.js';

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@weekdays': '0 0 * * 1-5',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const UNIX_WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** The field names of a line with 5, 6 (seconds first) and 7 (seconds first, year last) fields. */
const LAYOUTS: Record<number, FieldName[]> = {
  5: ['minute', 'hour', 'day', 'month', 'dayOfWeek'],
  6: ['second', 'minute', 'hour', 'day', 'month', 'dayOfWeek'],
  7: ['second', 'minute', 'hour', 'day', 'month', 'dayOfWeek', 'year'],
};

/** A crontab line compiled: its fields by name as written, and the spec it fires by. */
export interface CrontabFields {
  fields: Partial<Record<FieldName, string>>;
  spec: CronSpec;
}

function bad(expr: string, reason: string): RangeError {
  return new RangeError(`Invalid crontab ${describeValue(expr)}: ${reason}`);
}

/** A list field with names and wrap-around ranges: day of week (0-7) or month (1-12). */
interface ListField {
  label: string;
  min: number;
  max: number;
  names: string[];
  /** The value of `names[0]`. */
  nameBase: number;
}

const WEEKDAY_FIELD: ListField = { label: 'day of week', min: 0, max: 7, names: UNIX_WEEKDAYS, nameBase: 0 };
const MONTH_FIELD: ListField = { label: 'month', min: 1, max: 12, names: MONTHS, nameBase: 1 };

function listValue(token: string, field: ListField, expr: string): number {
  if (/^\d+$/.test(token)) {
    const n = Number(token);
    if (n > field.max) {
      throw bad(expr, `${field.label} value (${n}) is higher than the maximum value (${field.max})`);
    }
    if (n < field.min) {
      throw bad(expr, `${field.label} value (${n}) is lower than the minimum value (${field.min})`);
    }
    return n;
  }
  const index = field.names.indexOf(token.toLowerCase());
  if (index < 0) throw bad(expr, `invalid ${field.label} name "${token}"`);
  return index + field.nameBase;
}

/**
 * The values one part of a list field allows (`*`, `a`, `a-b`, `a/c`, `a-b/c`, `*\/c`), as bits
 * `1 << v`. A range whose first value is after its last wraps around (`fri-mon`, `nov-feb`).
 */
function listPartMask(part: string, field: ListField, expr: string): number {
  const m = /^(\*|[a-z0-9]+)(?:-([a-z0-9]+))?(?:\/(\d+))?$/i.exec(part);
  if (m === null || (m[1] === '*' && m[2] !== undefined)) {
    throw bad(expr, `unrecognized ${field.label} expression "${part}"`);
  }
  const step = m[3] === undefined ? 1 : Number(m[3]);
  if (step < 1) throw bad(expr, `the step in ${field.label} "${part}" must be higher than 0`);
  let first: number;
  let last: number;
  if (m[1] === '*') {
    first = field.min;
    last = field.max;
  } else {
    first = listValue(m[1], field, expr);
    if (m[2] !== undefined) last = listValue(m[2], field, expr);
    else last = m[3] === undefined ? first : field.max;
  }
  let mask = 0;
  if (first <= last) {
    for (let v = first; v <= last; v += step) mask |= 1 << v;
  } else {
    // Around the end of the week (7 values: 7 is 0 again) or of the year (12).
    const cycle = field === WEEKDAY_FIELD ? 7 : 12;
    for (let k = 0; k <= last - first + cycle; k += step) {
      const v = first + k;
      mask |= 1 << (v >= field.min + cycle ? v - cycle : v);
    }
  }
  return mask;
}

/** A day-of-week field: a weekday mask (APScheduler's bit 0 = Monday) and `5L`, `5#3` forms. */
function parseWeekdays(text: string, expr: string): { mask: number; positions: WeekdayPositionExpression[] } {
  let unix = 0;
  const positions: WeekdayPositionExpression[] = [];
  for (const part of text.split(',')) {
    if (part === '?') {
      unix |= 0x7f;
      continue;
    }
    const special = /^([a-z0-9]+)(?:(l)|#(\d+))$/i.exec(part);
    if (special !== null) {
      const weekday = listValue(special[1], WEEKDAY_FIELD, expr) % 7;
      // `5L`: position 5 is the last; `5#3`: positions 0-4 are the 1st to the 5th.
      let position = 5;
      if (special[2] === undefined) {
        const nth = Number(special[3]);
        if (nth < 1 || nth > 5) {
          throw bad(expr, `day of week "${part}": the week in the month (#${nth}) must be from 1 to 5`);
        }
        position = nth - 1;
      }
      positions.push({ kind: 'position', position, weekday: (weekday + 6) % 7 });
      continue;
    }
    unix |= listPartMask(part, WEEKDAY_FIELD, expr);
  }
  // Unix bit v (0 = Sunday, 7 = Sunday again) to APScheduler bit (v + 6) % 7.
  let mask = 0;
  for (let v = 0; v < 8; v++) if (unix & (1 << v)) mask |= 1 << ((v + 6) % 7);
  return { mask, positions };
}

/** A day-of-month field: `L`, `LW`, `15W`, and APScheduler's expressions (`1-15/2`, `last`). */
function parseDays(text: string, expr: string): Expression[] {
  const exprs: Expression[] = [];
  for (const part of text.split(',')) {
    if (/^l$/i.test(part)) exprs.push({ kind: 'lastDay' });
    else if (/^lw$/i.test(part)) exprs.push({ kind: 'nearestWeekday', day: null });
    else if (/^\d+w$/i.test(part)) {
      const day = Number(part.slice(0, -1));
      if (day < 1 || day > 31) throw bad(expr, `day of month "${part}": the day must be from 1 to 31`);
      exprs.push({ kind: 'nearestWeekday', day });
    } else {
      try {
        exprs.push(parseExpression('day', part === '?' ? '*' : part));
      } catch (error) {
        if (error instanceof ExpressionError) throw bad(expr, `day of month: ${error.message}`);
        throw error;
      }
    }
  }
  return exprs;
}

/**
 * Parses a crontab line. Vixie cron's rule: with both day of month and day of week restricted
 * (neither starts with `*` or is `?`), a day matches when either does.
 */
export function parseCrontab(expr: unknown): CrontabFields {
  if (typeof expr !== 'string') {
    throw new TypeError(`Expected crontab to be a string like "0 9 * * 1-5", got ${describeValue(expr)}`);
  }
  const line = MACROS[expr.trim().toLowerCase()] ?? expr.trim();
  const parts = line.split(/\s+/);
  const layout = LAYOUTS[parts.length];
  if (layout === undefined) {
    throw bad(
      expr,
      `expected 5 fields (minute hour day-of-month month day-of-week), 6 (second first) or 7 (second first, year last), got ${parts.length}`,
    );
  }
  const fields: Partial<Record<FieldName, string>> = {};
  layout.forEach((name, i) => {
    fields[name] = parts[i];
  });
  const dayText = fields.day as string;
  const dowText = fields.dayOfWeek as string;
  let monthMask = 0;
  for (const part of (fields.month as string).split(',')) monthMask |= listPartMask(part, MONTH_FIELD, expr);
  const days = parseDays(dayText, expr);
  const weekdays = parseWeekdays(dowText, expr);
  const everyDay = dayText === '*' || dayText === '?';
  const dayStar = dayText.startsWith('*') || dayText === '?';
  const weekdayStar = dowText.startsWith('*') || dowText === '?';

  // Seconds, minutes, hours and years are APScheduler's grammar; the rest is set below.
  const spec = compileSpec(
    withDefaults({
      year: fields.year,
      month: '*',
      day: '*',
      dayOfWeek: '*',
      hour: fields.hour,
      minute: fields.minute,
      second: fields.second,
    }),
  );
  spec.monthMask = monthMask;
  spec.weekdayMask = weekdays.mask;
  spec.dayOrWeekday = !dayStar && !weekdayStar;
  spec.days = everyDay ? null : days;
  if (weekdays.positions.length > 0) {
    // `5L` and `5#3` are days of the month: with the weekdays, they match as the day of week
    // field, so they join the day list and the two combine with OR.
    if (!everyDay && !spec.dayOrWeekday) {
      throw bad(
        expr,
        `day of week "${dowText}" with L or # needs day of month to be "*", "?" or a list that does not start with "*" (got "${dayText}")`,
      );
    }
    spec.days = everyDay ? weekdays.positions : [...days, ...weekdays.positions];
    spec.dayOrWeekday = true;
  }
  return { fields, spec };
}
