/**
 * Plain-English descriptions of triggers ("every 15 minutes", "at 09:30 on Monday through
 * Friday (America/New_York)"). Cron triggers are described from their compiled spec, so a
 * crontab line and the same fields read alike.
 */
import type { TimeZone } from '../time/zone.js';
import type { Trigger } from './base.js';
import type { Expression, RangeExpression } from './cron/expressions.js';
import type { CronSpec } from './cron/fields.js';

const WEEKDAY_NAMES = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const MONTH_NAMES = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const POSITION_NAMES = ['1st', '2nd', '3rd', '4th', '5th', 'last'];

/** `1st`, `2nd`, `3rd`, `4th`, `11th`, `21st`, ... */
export function ordinal(n: number): string {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${['th', 'st', 'nd', 'rd'][n % 10] ?? 'th'}`;
}

/** `a`, `a and b`, `a, b and c`. */
function listOf(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `09:30`, or `09:30:15` with seconds. */
function clockTime(h: number, m: number, s: number): string {
  return s === 0 ? `${pad(h)}:${pad(m)}` : `${pad(h)}:${pad(m)}:${pad(s)}`;
}

/** An instant as wall time in `zone`: `2026-12-01 10:00 UTC`. */
export function wallTimeOf(ms: number, zone: TimeZone): string {
  const wall = new Date(zone.toWall(ms));
  const date = `${wall.getUTCFullYear()}-${pad(wall.getUTCMonth() + 1)}-${pad(wall.getUTCDate())}`;
  const time = clockTime(wall.getUTCHours(), wall.getUTCMinutes(), wall.getUTCSeconds());
  const millis = wall.getUTCMilliseconds();
  return `${date} ${time}${millis === 0 ? '' : `.${String(millis).padStart(3, '0')}`} ${zone.name}`;
}

/** `1 second`, `2 hours`, `1.5 seconds`. */
function amount(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/** `every second`, `every 2 hours`. */
function every(n: number, unit: string): string {
  return n === 1 ? `every ${unit}` : `every ${amount(n, unit)}`;
}

// A set of values as a shape: every value, every n-th from the minimum, one range, or a list.
type Shape =
  | { kind: 'all' }
  | { kind: 'step'; step: number }
  | { kind: 'range'; first: number; last: number; step: number }
  | { kind: 'list'; values: number[] };

function shapeOf(values: number[], min: number, max: number): Shape {
  const n = values.length;
  if (n === max - min + 1) return { kind: 'all' };
  if (n >= 2) {
    const step = values[1] - values[0];
    const even = values.every((v, i) => i === 0 || v - values[i - 1] === step);
    if (even && values[0] === min && max - values[n - 1] < step) return { kind: 'step', step };
    if (even && (n >= 3 || step === 1)) return { kind: 'range', first: values[0], last: values[n - 1], step };
  }
  return { kind: 'list', values };
}

function bitsOf(lo: number, hi: number, min: number, max: number): number[] {
  const values: number[] = [];
  for (let v = min; v <= max; v++) if ((v < 32 ? lo & (1 << v) : hi & (1 << (v - 32))) !== 0) values.push(v);
  return values;
}

/** The time-of-day part of a cron description, and whether it names a wall time. */
function timeOfDay(spec: CronSpec): { text: string; wall: boolean; exact?: boolean } {
  const hours = bitsOf(spec.hourMask, 0, 0, 23);
  const minutes = bitsOf(spec.minuteLo, spec.minuteHi, 0, 59);
  const seconds = bitsOf(spec.secondLo, spec.secondHi, 0, 59);
  const h = shapeOf(hours, 0, 23);
  const m = shapeOf(minutes, 0, 59);
  const s = shapeOf(seconds, 0, 59);
  // A few exact times: "at 09:00 and 17:30".
  if (h.kind !== 'all' && h.kind !== 'step' && hours.length * minutes.length * seconds.length <= 4) {
    const times: string[] = [];
    for (const hh of hours)
      for (const mm of minutes) for (const ss of seconds) times.push(clockTime(hh, mm, ss));
    return { text: `at ${listOf(times)}`, wall: true, exact: true };
  }
  const zeroSecs = seconds.length === 1 && seconds[0] === 0;
  // A span of minutes in one hour: "every minute from 03:10 through 03:14".
  if (hours.length === 1 && m.kind === 'range' && zeroSecs) {
    const unit = m.step === 1 ? 'every minute' : every(m.step, 'minute');
    return {
      text: `${unit} from ${clockTime(hours[0], m.first, 0)} through ${clockTime(hours[0], m.last, 0)}`,
      wall: true,
    };
  }
  const parts: string[] = [];
  const zeroSeconds = s.kind === 'list' && seconds.length === 1 && seconds[0] === 0;
  const zeroMinutes = m.kind === 'list' && minutes.length === 1 && minutes[0] === 0;
  if (s.kind === 'all' || s.kind === 'step') {
    parts.push(s.kind === 'all' ? 'every second' : every(s.step, 'second'));
    if (m.kind !== 'all') parts.push(minutePhrase(m));
  } else {
    if (zeroSeconds && zeroMinutes) {
      if (h.kind === 'all') return { text: 'every hour', wall: false };
      if (h.kind === 'step') return { text: every(h.step, 'hour'), wall: true };
      return { text: `every hour ${hourPhrase(h)}`, wall: true };
    }
    if (m.kind === 'all') parts.push('every minute');
    else if (m.kind === 'step') parts.push(every(m.step, 'minute'));
    else if (h.kind === 'all')
      parts.push(m.kind === 'range' ? minutePhrase(m) : `every hour ${minutePhrase(m)}`);
    else parts.push(minutePhrase(m));
    if (!zeroSeconds) parts.push(secondPhrase(s));
  }
  if (h.kind !== 'all') parts.push(hourPhrase(h));
  return { text: parts.join(' '), wall: h.kind !== 'all' };
}

function valuesOf(shape: Shape, min: number, max: number): number[] {
  switch (shape.kind) {
    case 'all':
      return Array.from({ length: max - min + 1 }, (_, i) => min + i);
    case 'step':
      return Array.from({ length: Math.floor((max - min) / shape.step) + 1 }, (_, i) => min + i * shape.step);
    case 'range':
      return Array.from(
        { length: Math.floor((shape.last - shape.first) / shape.step) + 1 },
        (_, i) => shape.first + i * shape.step,
      );
    case 'list':
      return shape.values;
  }
}

function rangePhrase(shape: Shape, unit: string, name: (v: number) => string): string {
  if (shape.kind === 'range') {
    const past = unit === 'minute' ? 'the hour' : 'the minute';
    return shape.step === 1
      ? `every ${unit} from ${name(shape.first)} through ${name(shape.last)} past ${past}`
      : `every ${amount(shape.step, unit)} from ${name(shape.first)} through ${name(shape.last)} past ${past}`;
  }
  const values = valuesOf(shape, 0, 59);
  return `at ${unit}${values.length === 1 ? '' : 's'} ${listOf(values.map(name))}`;
}

function minutePhrase(m: Shape): string {
  if (m.kind === 'step') return every(m.step, 'minute');
  return rangePhrase(m, 'minute', String);
}

function secondPhrase(s: Shape): string {
  return rangePhrase(s, 'second', String);
}

function hourPhrase(h: Shape): string {
  if (h.kind === 'step') return `in every ${ordinal(h.step)} hour`;
  if (h.kind === 'range' && h.step === 1) return `from ${pad(h.first)}:00 through ${pad(h.last)}:59`;
  const hours = valuesOf(h, 0, 23);
  if (hours.length === 1) return `from ${pad(hours[0])}:00 through ${pad(hours[0])}:59`;
  return `in the ${listOf(hours.map((v) => `${pad(v)}:00`))} hours`;
}

/**
 * A run of three or more values in cyclic order (a wrap-around range such as fri-mon or
 * nov-feb): its first and last value, or `null`. `values` are sorted, within `[min, max]`.
 */
function cyclicRun(values: number[], min: number, max: number): [number, number] | null {
  const size = max - min + 1;
  if (values.length < 3 || values.length >= size) return null;
  const set = new Set(values);
  for (const start of values) {
    if (set.has(((start - min + size - 1) % size) + min)) continue;
    let length = 0;
    while (length < size && set.has(((start - min + length) % size) + min)) length++;
    return length === values.length ? [start, ((start - min + length - 1) % size) + min] : null;
  }
  return null;
}

/** Weekdays (bit 0 = Monday): `Monday through Friday`, `Friday through Monday`, `Saturday and Sunday`. */
function weekdaysPhrase(mask: number): string | null {
  const days = bitsOf(mask & 0x7f, 0, 0, 6);
  if (days.length === 7 || days.length === 0) return null;
  const run = cyclicRun(days, 0, 6);
  if (run !== null) return `${WEEKDAY_NAMES[run[0]]} through ${WEEKDAY_NAMES[run[1]]}`;
  return listOf(days.map((d) => WEEKDAY_NAMES[d]));
}

function monthsPhrase(mask: number): string | null {
  const months = bitsOf(mask, 0, 1, 12);
  if (months.length === 12) return null;
  const run = cyclicRun(months, 1, 12);
  if (run !== null) return `${MONTH_NAMES[run[0] - 1]} through ${MONTH_NAMES[run[1] - 1]}`;
  const shape = shapeOf(months, 1, 12);
  if (shape.kind === 'step') return `every ${ordinal(shape.step)} month`;
  return listOf(months.map((v) => MONTH_NAMES[v - 1]));
}

function dayExpressionPhrase(expr: Expression): string {
  switch (expr.kind) {
    case 'lastDay':
      return 'the last day';
    case 'position':
      return `the ${POSITION_NAMES[expr.position]} ${WEEKDAY_NAMES[expr.weekday]}`;
    case 'nearestWeekday':
      return expr.day === null ? 'the last weekday' : `the weekday nearest the ${ordinal(expr.day)}`;
    case 'range':
      return rangeDaysPhrase(expr);
  }
}

function rangeDaysPhrase(expr: RangeExpression): string {
  const last = expr.last ?? 31;
  const step = expr.step ?? 1;
  if (expr.first === last) return `the ${ordinal(expr.first)}`;
  if (step === 1) return `the ${ordinal(expr.first)} through ${ordinal(last)}`;
  if (expr.last === null && expr.first === 1) return `every ${ordinal(step)} day`;
  return `every ${ordinal(step)} day from the ${ordinal(expr.first)} through ${ordinal(last)}`;
}

function yearsPhrase(years: RangeExpression[]): string {
  return listOf(
    years.map((y) => {
      if (y.last === y.first) return String(y.first);
      if (y.step === null) return y.last === null ? `${y.first} on` : `${y.first} through ${y.last}`;
      return `every ${ordinal(y.step)} year from ${y.first}${y.last === null ? '' : ` through ${y.last}`}`;
    }),
  );
}

/** The calendar part of a cron description ("on the last Friday of every month"), or ''. */
function calendar(spec: CronSpec): string {
  const weekdays = weekdaysPhrase(spec.weekdayMask);
  const months = monthsPhrase(spec.monthMask);
  const parts: string[] = [];
  if (spec.days !== null) {
    const days = `on ${listOf(spec.days.map(dayExpressionPhrase))} of ${months ?? 'every month'}`;
    // A crontab's `5#3` or `L` with no weekday restriction leaves the weekday mask empty.
    if (weekdays === null) parts.push(days);
    else if (spec.dayOrWeekday) parts.push(`${days}, and on every ${weekdays}`);
    else parts.push(`${days}, when it is a ${weekdays.replace(' and ', ' or ')}`);
  } else {
    if (weekdays !== null) parts.push(`on ${weekdays}`);
    if (months !== null) parts.push(`in ${months}`);
  }
  if (spec.weekLo !== -1 || spec.weekHi !== -1) {
    const weeks = bitsOf(spec.weekLo, spec.weekHi, 1, 53);
    const shape = shapeOf(weeks, 1, 53);
    parts.push(
      shape.kind === 'range' && shape.step === 1
        ? `in ISO weeks ${shape.first} through ${shape.last}`
        : `in ISO week${weeks.length === 1 ? '' : 's'} ${listOf(weeks.map(String))}`,
    );
  }
  if (spec.years !== null) parts.push(`in ${yearsPhrase(spec.years)}`);
  return parts.join(' ');
}

/** Bounds and jitter, shared by every trigger: ` from X until Y, with up to 5 s of random delay`. */
function bounds(startMs: number | null, endMs: number | null, zone: TimeZone, jitter: number | null): string {
  let text = '';
  if (startMs !== null) text += ` from ${wallTimeOf(startMs, zone)}`;
  if (endMs !== null) text += ` until ${wallTimeOf(endMs, zone)}`;
  if (jitter !== null && jitter > 0) text += `, with up to ${jitter} s of random delay`;
  return text;
}

/** A cron trigger in English. */
export function describeCron(
  spec: CronSpec,
  zone: TimeZone,
  startMs: number | null,
  endMs: number | null,
  jitter: number | null,
): string {
  const time = timeOfDay(spec);
  const days = calendar(spec);
  let text = time.text;
  if (days !== '') text += ` ${days}`;
  else if (time.exact === true) text += ' every day';
  // The zone is named where wall time matters; bounds name it anyway.
  if (zone.name !== 'UTC' && (time.wall || days !== '') && startMs === null && endMs === null) {
    text += ` (${zone.name})`;
  }
  return text + bounds(startMs, endMs, zone, jitter);
}

const INTERVAL_UNITS: Array<[number, string]> = [
  [604_800_000, 'week'],
  [86_400_000, 'day'],
  [3_600_000, 'hour'],
  [60_000, 'minute'],
  [1000, 'second'],
];

/** An interval in its largest whole unit: `every 90 minutes`, `every 2 hours`, `every 1.5 seconds`. */
export function describeInterval(
  intervalMs: number,
  startMs: number,
  endMs: number | null,
  zone: TimeZone,
  jitter: number | null,
): string {
  let text = '';
  for (const [ms, unit] of INTERVAL_UNITS) {
    if (intervalMs % ms === 0 || unit === 'second') {
      text = every(intervalMs / ms, unit);
      break;
    }
  }
  return text + bounds(startMs, endMs, zone, jitter);
}

/** A one-off: `once at 2026-12-01 10:00 UTC`. */
export function describeDate(runMs: number, zone: TimeZone): string {
  return `once at ${wallTimeOf(runMs, zone)}`;
}

/** A calendar interval: `at 09:00 every month from 2026-01-31 (Europe/Berlin)`. */
export function describeCalendarInterval(
  units: { years: number; months: number; weeks: number; days: number },
  time: { hour: number; minute: number; second: number },
  startDate: string,
  endDate: string | null,
  zone: TimeZone,
): string {
  const parts: string[] = [];
  for (const unit of ['year', 'month', 'week', 'day'] as const) {
    const n = units[`${unit}s`];
    if (n > 0) parts.push(amount(n, unit));
  }
  const period =
    parts.length === 1 && parts[0].startsWith('1 ') ? `every ${parts[0].slice(2)}` : `every ${listOf(parts)}`;
  let text = `at ${clockTime(time.hour, time.minute, time.second)} ${period} from ${startDate}`;
  if (endDate !== null) text += ` until ${endDate}`;
  return `${text} (${zone.name})`;
}

/** Children of a combining trigger: `a, and b` (Or) or `when all of these coincide: a; b` (And). */
export function describeCombination(
  kind: 'and' | 'or',
  triggers: readonly Trigger[],
  jitter: number | null,
): string {
  const parts = triggers.map(describeTrigger);
  const text = kind === 'or' ? parts.join(', and ') : `whenever all of these coincide: ${parts.join('; ')}`;
  return jitter !== null && jitter > 0 ? `${text}, with up to ${jitter} s of random delay` : text;
}

/**
 * The trigger in plain English, with its time zone where wall time matters: `every 15 minutes`,
 * `at 09:30 on Monday through Friday (America/New_York)`. A trigger without a `describe()`
 * method (a custom one) is described by its `toString()`.
 */
export function describeTrigger(trigger: Trigger): string {
  const describe = (trigger as { describe?: unknown }).describe;
  return typeof describe === 'function' ? String(describe.call(trigger)) : trigger.toString();
}
