/**
 * Cron field expressions in APScheduler's grammar: `*`, `*\/a`, `a-b`, `a-b/c`, `a`, `a/c`,
 * names (`jan`, `mon-fri`), and for the day field `xth y`, `last x` and `last`.
 */

/** A value range with an optional step; `*` is the range of the whole field. */
export interface RangeExpression {
  kind: 'range';
  first: number;
  /** `null`: up to the field's maximum (for the day field, the month's last day). */
  last: number | null;
  step: number | null;
}

/** `last`: the last day of the month. */
export interface LastDayExpression {
  kind: 'lastDay';
}

/** `1st mon` .. `5th mon`, `last mon`: a weekday's position in the month. */
export interface WeekdayPositionExpression {
  kind: 'position';
  /** 0..4 for 1st..5th, 5 for last. */
  position: number;
  /** 0 = Monday. */
  weekday: number;
}

/**
 * Crontab `15W` and `LW`: the weekday (Monday to Friday) nearest a day of the month, never in
 * another month (a Saturday 1st gives Monday the 3rd, a Sunday last day the Friday before), as
 * Quartz, croner and cron-parser have it. Not part of APScheduler's grammar.
 */
export interface NearestWeekdayExpression {
  kind: 'nearestWeekday';
  /** The day of the month (1-31; none in a month that has no such day), or `null` for the last. */
  day: number | null;
}

/** Any expression. */
export type Expression =
  | RangeExpression
  | LastDayExpression
  | WeekdayPositionExpression
  | NearestWeekdayExpression;

/** The cron fields, largest unit first (APScheduler's order). */
export const FIELD_NAMES = ['year', 'month', 'day', 'week', 'dayOfWeek', 'hour', 'minute', 'second'] as const;

/** A cron field name. */
export type FieldName = (typeof FIELD_NAMES)[number];

/** Smallest value of each field. */
export const MIN_VALUES: Record<FieldName, number> = {
  year: 1970,
  month: 1,
  day: 1,
  week: 1,
  dayOfWeek: 0,
  hour: 0,
  minute: 0,
  second: 0,
};

/** Largest value of each field. */
export const MAX_VALUES: Record<FieldName, number> = {
  year: 9999,
  month: 12,
  day: 31,
  week: 53,
  dayOfWeek: 6,
  hour: 23,
  minute: 59,
  second: 59,
};

/** Month names, index + 1 = month number. */
export const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
/** Weekday names, index = APScheduler weekday (0 = Monday). */
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const POSITIONS = ['1st', '2nd', '3rd', '4th', '5th', 'last'];

const ALL_RE = /^\*(?:\/(\d+))?$/;
const RANGE_RE = /^(\d+)(?:-(\d+))?(?:\/(\d+))?$/;
const NAME_RANGE_RE = /^([a-z]+)(?:-([a-z]+))?$/i;
const POSITION_RE = /^(1st|2nd|3rd|4th|5th|last) +(mon|tue|wed|thu|fri|sat|sun)$/i;
const LAST_RE = /^last$/i;

/** Thrown for an expression that is not valid; the caller adds the field and value. */
export class ExpressionError extends Error {}

function validateRange(expr: RangeExpression, field: FieldName, text: string): void {
  const min = MIN_VALUES[field];
  const max = MAX_VALUES[field];
  if (expr.step === 0)
    throw new ExpressionError(`error validating expression '${text}': the step must be higher than 0`);
  if (expr.first < min) {
    throw new ExpressionError(
      `error validating expression '${text}': the first value (${expr.first}) is lower than the minimum value (${min})`,
    );
  }
  if (expr.last !== null && expr.last > max) {
    throw new ExpressionError(
      `error validating expression '${text}': the last value (${expr.last}) is higher than the maximum value (${max})`,
    );
  }
  const span = (expr.last ?? max) - expr.first;
  if (expr.step !== null && expr.step > span) {
    throw new ExpressionError(
      `error validating expression '${text}': the step value (${expr.step}) is higher than the total range of the expression (${span})`,
    );
  }
}

function makeRange(first: number, last: number | null, step: number | null): RangeExpression {
  if (last !== null && first > last) {
    throw new ExpressionError('the minimum value in a range must not be higher than the maximum');
  }
  return { kind: 'range', first, last: last === null && step === null ? first : last, step };
}

function nameIndex(names: string[], name: string, kind: string): number {
  const index = names.indexOf(name.toLowerCase());
  if (index < 0) throw new ExpressionError(`invalid ${kind} name "${name}"`);
  return index;
}

/** Parses one expression (no commas) of `field`. */
export function parseExpression(field: FieldName, text: string): Expression {
  let m = ALL_RE.exec(text);
  if (m !== null) {
    const step = m[1] === undefined ? null : Number(m[1]);
    const expr: RangeExpression = { kind: 'range', first: MIN_VALUES[field], last: null, step };
    validateRange(expr, field, text);
    return expr;
  }
  m = RANGE_RE.exec(text);
  if (m !== null) {
    const expr = makeRange(
      Number(m[1]),
      m[2] === undefined ? null : Number(m[2]),
      m[3] === undefined ? null : Number(m[3]),
    );
    validateRange(expr, field, text);
    return expr;
  }
  if (field === 'month' || field === 'dayOfWeek') {
    m = NAME_RANGE_RE.exec(text);
    if (m !== null) {
      const names = field === 'month' ? MONTHS : WEEKDAYS;
      const kind = field === 'month' ? 'month' : 'weekday';
      const offset = field === 'month' ? 1 : 0;
      const first = nameIndex(names, m[1], kind) + offset;
      const last = m[2] === undefined ? null : nameIndex(names, m[2], kind) + offset;
      return makeRange(first, last, null);
    }
  }
  if (field === 'day') {
    m = POSITION_RE.exec(text);
    if (m !== null) {
      return {
        kind: 'position',
        position: POSITIONS.indexOf(m[1].toLowerCase()),
        weekday: WEEKDAYS.indexOf(m[2].toLowerCase()),
      };
    }
    if (LAST_RE.test(text)) return { kind: 'lastDay' };
  }
  throw new ExpressionError(`unrecognized expression "${text}" for field "${field}"`);
}

/** True for the expression `*` (every value, no step). */
export function isWildcard(expr: Expression, field: FieldName): boolean {
  return (
    expr.kind === 'range' && expr.step === null && expr.last === null && expr.first === MIN_VALUES[field]
  );
}
