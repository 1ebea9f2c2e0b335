/**
 * Compiles cron fields into a `CronSpec`: bit masks for the fixed-range fields, expression lists
 * for the fields whose values depend on the month (day) or are unbounded (year).
 */
import { describeValue } from '../../describe.js';
import {
  type Expression,
  ExpressionError,
  FIELD_NAMES,
  type FieldName,
  MAX_VALUES,
  MIN_VALUES,
  parseExpression,
  type RangeExpression,
} from './expressions.js';

/** A compiled cron schedule. Masks hold bit `v` for each allowed value `v` (`lo`: 0-31, `hi`: 32-63). */
export interface CronSpec {
  /** Year expressions, or `null` for every year. */
  years: RangeExpression[] | null;
  monthMask: number;
  /** Day-of-month expressions, or `null` for every day. */
  days: Expression[] | null;
  /** ISO week masks, or both `-1` for every week. */
  weekLo: number;
  weekHi: number;
  /** Weekday mask, bit 0 = Monday. */
  weekdayMask: number;
  hourMask: number;
  minuteLo: number;
  minuteHi: number;
  secondLo: number;
  secondHi: number;
  /** Vixie-cron rule: a day matches when its day of month OR its weekday matches. */
  dayOrWeekday: boolean;
  /**
   * A "wildcard" schedule (its hour or minute field starts with `*`): it fires at both
   * occurrences of a wall time repeated when clocks fall back, so it keeps running on real time.
   */
  wildcard: boolean;
}

/** The cron fields as given: expression strings. */
export type CronFieldValues = Partial<Record<FieldName, string>>;

const DEFAULT_VALUES: Record<FieldName, string> = {
  year: '*',
  month: '1',
  day: '1',
  week: '*',
  dayOfWeek: '*',
  hour: '0',
  minute: '0',
  second: '0',
};

/** Normalizes a field value given by the user to its expression string. */
export function fieldText(field: FieldName, value: unknown): string {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) {
      throw new RangeError(`Invalid cron field ${field}: expected an integer, got ${describeValue(value)}`);
    }
    return String(value);
  }
  if (typeof value !== 'string') {
    throw new TypeError(
      `Invalid cron field ${field}: expected a string or a number, got ${describeValue(value)}`,
    );
  }
  return value.trim();
}

/** Parses a comma list of expressions, naming the field and the value when one is bad. */
export function parseField(field: FieldName, text: string): Expression[] {
  if (text === '') throw new RangeError(`Invalid cron field ${field}: ${describeValue(text)}: it is empty`);
  const exprs: Expression[] = [];
  for (const part of text.split(',')) {
    try {
      exprs.push(parseExpression(field, part.trim()));
    } catch (error) {
      if (error instanceof ExpressionError) {
        throw new RangeError(`Invalid cron field ${field}: ${JSON.stringify(text)}: ${error.message}`);
      }
      throw error;
    }
  }
  return exprs;
}

/** Fills in the fields left out as APScheduler does: smaller than the smallest given: minimum; larger: `*`. */
export function withDefaults(given: CronFieldValues): Record<FieldName, string> {
  const out = {} as Record<FieldName, string>;
  let remaining = FIELD_NAMES.filter((f) => given[f] !== undefined).length;
  let assignDefaults = false;
  for (const field of FIELD_NAMES) {
    const value = given[field];
    if (value !== undefined) {
      out[field] = value;
      remaining--;
      assignDefaults = remaining === 0;
    } else {
      out[field] = assignDefaults ? DEFAULT_VALUES[field] : '*';
    }
  }
  return out;
}

/** A 64-bit set as two 32-bit masks, from range expressions over a fixed range. */
function rangeMask(exprs: Expression[], field: FieldName): [number, number] {
  let lo = 0;
  let hi = 0;
  const max = MAX_VALUES[field];
  for (const expr of exprs) {
    if (expr.kind !== 'range') continue;
    const last = expr.last ?? max;
    const step = expr.step ?? 1;
    const start = Math.max(expr.first, MIN_VALUES[field]);
    for (let v = start; v <= last; v += step) {
      if (v < 32) lo |= 1 << v;
      else hi |= 1 << (v - 32);
    }
  }
  return [lo, hi];
}

function isEvery(text: string): boolean {
  return text === '*';
}

/** Compiles all eight fields (defaults already applied). */
export function compileSpec(fields: Record<FieldName, string>, dayOrWeekday = false): CronSpec {
  const parsed = {} as Record<FieldName, Expression[]>;
  for (const field of FIELD_NAMES) parsed[field] = parseField(field, fields[field]);
  const [weekLo, weekHi] = isEvery(fields.week) ? [-1, -1] : rangeMask(parsed.week, 'week');
  const [minuteLo, minuteHi] = rangeMask(parsed.minute, 'minute');
  const [secondLo, secondHi] = rangeMask(parsed.second, 'second');
  return {
    years: isEvery(fields.year) ? null : (parsed.year as RangeExpression[]),
    monthMask: rangeMask(parsed.month, 'month')[0],
    days: isEvery(fields.day) ? null : parsed.day,
    weekLo,
    weekHi,
    weekdayMask: rangeMask(parsed.dayOfWeek, 'dayOfWeek')[0],
    hourMask: rangeMask(parsed.hour, 'hour')[0],
    minuteLo,
    minuteHi,
    secondLo,
    secondHi,
    dayOrWeekday,
    wildcard: fields.hour.startsWith('*') || fields.minute.startsWith('*'),
  };
}
