/**
 * Property test: CronTrigger against a brute-force reference that enumerates local wall-clock
 * minutes, matches the fields naively, and maps wall times to instants with Intl (SPEC section 6:
 * both occurrences of a repeated time for a wildcard spec, the first for any other; the
 * pre-transition offset for a time in a gap).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CronTrigger } from '../../src/index.js';

const ZONES = [
  'UTC',
  'America/New_York',
  'Europe/Berlin',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'America/Sao_Paulo',
  'Asia/Kathmandu',
];
const MINUTE = 60_000;
const DAY = 86_400_000;
const WINDOW_DAYS = 45;

const formats = new Map<string, Intl.DateTimeFormat>();
function format(zone: string): Intl.DateTimeFormat {
  let f = formats.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    formats.set(zone, f);
  }
  return f;
}

/** The wall reading of an instant in a zone, as epoch ms of the same reading in UTC (minute resolution). */
function wallOf(zone: string, t: number): number {
  const parts = Object.fromEntries(
    format(zone)
      .formatToParts(t)
      .map((p) => [p.type, Number(p.value)]),
  );
  return Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute);
}

/**
 * The instants a wall time fires at: the earliest instant with that reading, and for a wildcard
 * spec (hour or minute starting with `*`) the later one too when the reading occurs twice; the
 * pre-transition offset for a reading in a gap.
 */
function instantsOf(zone: string, wall: number, wildcard: boolean): number[] {
  const offsetBefore = wallOf(zone, wall - DAY) - (wall - DAY);
  const offsetAfter = wallOf(zone, wall + DAY) - (wall + DAY);
  const found = [...new Set([wall - offsetBefore, wall - offsetAfter])]
    .filter((t) => wallOf(zone, t) === wall)
    .sort((a, b) => a - b);
  if (found.length > 0) return wildcard ? found : [found[0]];
  // In a gap: the offset in force before the transition.
  return [wall - offsetBefore];
}

/** True when a wall reading occurs twice in the zone (clocks fell back over it). */
function repeats(zone: string, wall: number): boolean {
  return instantsOf(zone, wall, true).length > 1;
}

const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

interface Spec {
  month: string;
  day: string;
  dayOfWeek: string;
  hour: string;
  minute: string;
}

function parseSet(text: string, min: number, max: number, names: string[] = [], offset = 0): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    let first: number;
    let last: number;
    if (range === '*') {
      first = min;
      last = max;
    } else {
      const [a, b] = range.split('-');
      const value = (s: string) => (names.includes(s) ? names.indexOf(s) + offset : Number(s));
      first = value(a);
      last = b === undefined ? (stepText === undefined ? first : max) : value(b);
    }
    for (let v = first; v <= last; v += step) out.add(v);
  }
  return out;
}

function dayMatches(expr: string, y: number, m: number, d: number): boolean {
  const dim = new Date(Date.UTC(y, m, 0)).getUTCDate();
  const weekdayOf = (day: number) => (new Date(Date.UTC(y, m - 1, day)).getUTCDay() + 6) % 7;
  for (const part of expr.split(',')) {
    if (part === 'last') {
      if (d === dim) return true;
      continue;
    }
    const position = /^(1st|2nd|3rd|4th|5th|last) (\w+)$/.exec(part);
    if (position !== null) {
      const weekday = WEEKDAYS.indexOf(position[2]);
      const hits: number[] = [];
      for (let day = 1; day <= dim; day++) if (weekdayOf(day) === weekday) hits.push(day);
      const target = position[1] === 'last' ? hits[hits.length - 1] : hits[Number(position[1][0]) - 1];
      if (target === d) return true;
      continue;
    }
    if (parseSet(part, 1, dim).has(d)) return true;
  }
  return false;
}

/** The reference: first fire at or after `start` within the window, or undefined. */
function reference(spec: Spec, zone: string, start: number): number | undefined {
  const months = parseSet(spec.month, 1, 12);
  const weekdays = parseSet(spec.dayOfWeek, 0, 6, WEEKDAYS);
  const hours = parseSet(spec.hour, 0, 23);
  const minutes = parseSet(spec.minute, 0, 59);
  const wildcard = spec.hour.startsWith('*') || spec.minute.startsWith('*');
  const firstDay = Math.floor(wallOf(zone, start) / DAY) - 2;
  let best: number | undefined;
  for (let dayIndex = firstDay; dayIndex < firstDay + WINDOW_DAYS; dayIndex++) {
    const date = new Date(dayIndex * DAY);
    const y = date.getUTCFullYear();
    const m = date.getUTCMonth() + 1;
    const d = date.getUTCDate();
    if (!months.has(m) || !weekdays.has((date.getUTCDay() + 6) % 7) || !dayMatches(spec.day, y, m, d))
      continue;
    for (const h of hours) {
      for (const mi of minutes) {
        for (const t of instantsOf(zone, dayIndex * DAY + h * 3_600_000 + mi * MINUTE, wildcard)) {
          if (t >= start && (best === undefined || t < best)) best = t;
        }
      }
    }
    // Offsets shift wall times by at most a few hours: a day later nothing can be earlier.
    if (best !== undefined && dayIndex * DAY > wallOf(zone, best) + DAY) break;
  }
  return best;
}

/**
 * Instants near the DST transitions of a zone in 2024-2030, found by scanning Intl offsets;
 * `fallBack` keeps only those where the offset decreases (wall times repeat).
 */
function transitions(zone: string, fallBack = false): number[] {
  const out: number[] = [];
  let prev = wallOf(zone, Date.UTC(2024, 0, 1)) - Date.UTC(2024, 0, 1);
  for (let t = Date.UTC(2024, 0, 1); t < Date.UTC(2030, 0, 1); t += 6 * 3_600_000) {
    const offset = wallOf(zone, t) - t;
    if (offset !== prev && (!fallBack || offset < prev)) out.push(t);
    prev = offset;
  }
  return out;
}

const transitionsByZone = new Map(ZONES.map((z) => [z, transitions(z)]));
const DST_ZONES = ZONES.filter((z) => (transitionsByZone.get(z) as number[]).length > 0);
const fallBacksByZone = new Map(DST_ZONES.map((z) => [z, transitions(z, true)]));

const specArb = fc.record({
  month: fc.constantFrom('*', '*', '*', '1-3', '*/2', '3,10', '4-11'),
  day: fc.constantFrom('*', '*', '*', '1', '15', 'last', '1st sun', 'last sun', '*/10', '28-31', '2nd mon'),
  dayOfWeek: fc.constantFrom('*', '*', '*', 'mon-fri', 'sat,sun', 'sun', '0-2'),
  hour: fc.constantFrom('*', '0-3', '1', '2', '2,3', '*/6', '1-2', '9-17', '23', '0', '3'),
  minute: fc.constantFrom('0', '30', '*/15', '0,45', '*/20', '59', '10-14'),
});

const caseArb = fc
  .tuple(
    specArb,
    fc.constantFrom(...ZONES),
    fc.double({ min: 0, max: 1, noNaN: true }),
    fc.integer({ min: -6, max: 6 }),
    fc.integer({ min: 0, max: 3_599_999 }),
  )
  .map(([spec, zone, pick, hoursAway, jitter]) => {
    const list = transitionsByZone.get(zone) as number[];
    const anchor =
      list.length > 0
        ? list[Math.min(list.length - 1, Math.floor(pick * list.length))]
        : Date.UTC(2024, 0, 1) + Math.floor(pick * 6 * 365 * DAY);
    return { spec, zone, start: anchor + hoursAway * 3_600_000 + jitter };
  });

interface Tally {
  compared: number;
  nearTransition: number;
  secondOccurrences: number;
  fixedInRepeat: number;
}

/** Compares `steps` consecutive fires of the trigger with the reference, counting what they hit. */
function compareFires(spec: Spec, zone: string, start: number, steps: number, tally: Tally): void {
  const trigger = new CronTrigger({ ...spec, second: 0, timezone: zone });
  let from = Math.ceil(start / 1000) * 1000;
  let previous: Date | null = null;
  for (let step = 0; step < steps; step++) {
    const expected = reference(spec, zone, from);
    if (expected === undefined || expected > from + (WINDOW_DAYS - 5) * DAY) return;
    const got = trigger.getNextFireTime(previous, previous ?? new Date(from));
    expect(got?.toISOString(), JSON.stringify({ spec, zone, from: new Date(from).toISOString() })).toBe(
      new Date(expected).toISOString(),
    );
    tally.compared++;
    const list = transitionsByZone.get(zone) as number[];
    if (list.some((t) => Math.abs(t - expected) < 12 * 3_600_000)) tally.nearTransition++;
    const wall = wallOf(zone, expected);
    if (repeats(zone, wall)) {
      if (instantsOf(zone, wall, true)[1] === expected) tally.secondOccurrences++;
      else if (!spec.hour.startsWith('*') && !spec.minute.startsWith('*')) tally.fixedInRepeat++;
    }
    previous = got as Date;
    from = expected + 1000;
  }
}

// Specs that match on most days, with hours around the repeated spans of the zones above.
const fallBackSpecArb = fc.record({
  month: fc.constantFrom('*', '*', '3,4,9,10,11'),
  day: fc.constantFrom('*', '*', '*', '1st sun', 'last sun'),
  dayOfWeek: fc.constantFrom('*', '*', 'sun', 'sat,sun'),
  hour: fc.constantFrom('*', '*', '*/2', '1', '2', '3', '1-3', '0-3', '*/6'),
  minute: fc.constantFrom('0', '30', '*/15', '0,45', '*/20', '59', '10-14', '*', '*/7'),
});

const fallBackArb = fc
  .tuple(
    fallBackSpecArb,
    fc.constantFrom(...DST_ZONES),
    fc.double({ min: 0, max: 1, noNaN: true }),
    fc.integer({ min: 0, max: 10 * 3_600_000 }),
  )
  .map(([spec, zone, pick, before]) => {
    const list = fallBacksByZone.get(zone) as number[];
    const anchor = list[Math.min(list.length - 1, Math.floor(pick * list.length))];
    return { spec, zone, start: anchor - before };
  });

describe('CronTrigger against a brute-force reference', () => {
  it('finds the same next fire times, DST transitions included', () => {
    const tally: Tally = { compared: 0, nearTransition: 0, secondOccurrences: 0, fixedInRepeat: 0 };
    fc.assert(
      fc.property(caseArb, ({ spec, zone, start }) => {
        // Three steps: the first fire and the two after it.
        compareFires(spec, zone, start, 3, tally);
      }),
      { numRuns: 400, seed: 20261125 },
    );
    // The property must not pass vacuously: most cases compare three fires, many near a transition.
    expect(tally.compared).toBeGreaterThan(500);
    expect(tally.nearTransition).toBeGreaterThan(40);
  });

  it('fires wildcard specs at both occurrences of a repeated wall time, fixed specs at the first', () => {
    const tally: Tally = { compared: 0, nearTransition: 0, secondOccurrences: 0, fixedInRepeat: 0 };
    fc.assert(
      fc.property(fallBackArb, ({ spec, zone, start }) => {
        // Up to eight fires from a few hours before clocks fall back, through the repeated span.
        compareFires(spec, zone, start, 8, tally);
      }),
      { numRuns: 300, seed: 20261201 },
    );
    expect(tally.compared).toBeGreaterThan(800);
    // Both rules are exercised: wildcard specs on the second pass through a repeated span, and
    // fixed specs whose repeated wall time fires once.
    expect(tally.secondOccurrences).toBeGreaterThan(50);
    expect(tally.fixedInRepeat).toBeGreaterThan(10);
  });
});
