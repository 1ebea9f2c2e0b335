/**
 * The cron search: the first wall-clock time matching a `CronSpec`, and the first instant a
 * spec fires at under the DST mapping of SPEC section 6.
 */
import {
  DAY_MS,
  dayOfDays,
  daysFromCivil,
  daysInMonth,
  isoWeekOfDays,
  monthOfDays,
  weekdayOfDays,
  yearOfDays,
} from '../../time/calendar.js';
import type { TimeZone } from '../../time/zone.js';
import { type Expression, MAX_VALUES, MIN_VALUES, type RangeExpression } from './expressions.js';
import type { CronSpec } from './fields.js';

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
const MAX_YEAR = MAX_VALUES.year;
// Gaps are at most a day long (Pacific/Apia skipped 2011-12-30); look back a little further.
const GAP_LOOKBACK_MS = DAY_MS + 2 * HOUR_MS;
// With no first occurrence left, a second occurrence can only follow `start` by the length of a
// repeated span: at most a day.
const REPEAT_LOOKAHEAD_MS = DAY_MS + 2 * HOUR_MS;

/** The lowest set bit of `mask` at or above `from` (0-31), or -1. */
function nextBit(mask: number, from: number): number {
  if (from > 31) return -1;
  const m = mask & (-1 << from);
  if (m === 0) return -1;
  return 31 - Math.clz32(m & -m);
}

/** `nextBit` over a 64-bit set held as two masks. */
function nextBit64(lo: number, hi: number, from: number): number {
  if (from < 32) {
    const r = nextBit(lo, from);
    if (r >= 0) return r;
    const h = nextBit(hi, 0);
    return h < 0 ? -1 : h + 32;
  }
  const h = nextBit(hi, from - 32);
  return h < 0 ? -1 : h + 32;
}

function nextYear(years: RangeExpression[] | null, year: number): number {
  if (years === null) return year <= MAX_YEAR ? Math.max(year, MIN_VALUES.year) : -1;
  let best = -1;
  for (const expr of years) {
    const min = Math.max(expr.first, MIN_VALUES.year);
    const max = expr.last ?? MAX_YEAR;
    let v = Math.max(year, min);
    if (expr.step !== null) v += (expr.step - ((v - min) % expr.step)) % expr.step;
    if (v <= max && (best < 0 || v < best)) best = v;
  }
  return best;
}

/** Bit `d - 1` for each day `d` of the month that `expr` allows. */
function dayExpressionMask(expr: Expression, dim: number, firstWeekday: number): number {
  if (expr.kind === 'lastDay') return 1 << (dim - 1);
  if (expr.kind === 'position') {
    let firstHit = expr.weekday - firstWeekday + 1;
    if (firstHit <= 0) firstHit += 7;
    const target =
      expr.position < 5 ? firstHit + expr.position * 7 : firstHit + Math.floor((dim - firstHit) / 7) * 7;
    return target <= dim ? 1 << (target - 1) : 0;
  }
  if (expr.kind === 'nearestWeekday') {
    const day = expr.day ?? dim;
    if (day > dim) return 0;
    const weekday = (firstWeekday + day - 1) % 7;
    let target = day;
    if (weekday === 5) target = day > 1 ? day - 1 : day + 2;
    else if (weekday === 6) target = day < dim ? day + 1 : day - 2;
    return 1 << (target - 1);
  }
  let mask = 0;
  const last = Math.min(expr.last ?? dim, dim);
  const step = expr.step ?? 1;
  for (let d = Math.max(expr.first, 1); d <= last; d += step) mask |= 1 << (d - 1);
  return mask;
}

/** Matches wall-clock times against a spec; caches the day mask of the last month it saw. */
export class CronMatcher {
  private cachedMonth = -1;
  private cachedMask = 0;

  constructor(readonly spec: CronSpec) {}

  /** Bit `d - 1` for each day `d` of the month that matches day, week and weekday. */
  dayMask(year: number, month: number): number {
    const key = year * 16 + month;
    if (key === this.cachedMonth) return this.cachedMask;
    const spec = this.spec;
    const dim = daysInMonth(year, month);
    const all = dim === 31 ? 0x7fffffff : (1 << dim) - 1;
    const firstDays = daysFromCivil(year, month, 1);
    const firstWeekday = weekdayOfDays(firstDays);
    let dom = all;
    if (spec.days !== null) {
      dom = 0;
      for (const expr of spec.days) dom |= dayExpressionMask(expr, dim, firstWeekday);
    }
    let dow = 0;
    if ((spec.weekdayMask & 0x7f) === 0x7f) dow = all;
    else {
      for (let d = 0; d < dim; d++) if (spec.weekdayMask & (1 << ((firstWeekday + d) % 7))) dow |= 1 << d;
    }
    let week = all;
    if (spec.weekLo !== -1 || spec.weekHi !== -1) {
      week = 0;
      for (let d = 0; d < dim; d++) {
        const w = isoWeekOfDays(firstDays + d);
        if ((w < 32 ? spec.weekLo & (1 << w) : spec.weekHi & (1 << (w - 32))) !== 0) week |= 1 << d;
      }
    }
    const mask = (spec.dayOrWeekday ? dom | dow : dom & dow) & week;
    this.cachedMonth = key;
    this.cachedMask = mask;
    return mask;
  }

  /**
   * The first wall time at or after `wall` (epoch ms of a wall reading, rounded up to a whole
   * second) that matches every field; `null` past year 9999.
   */
  nextWall(wall: number): number | null {
    const spec = this.spec;
    let days = Math.floor(wall / DAY_MS);
    let msOfDay = wall - days * DAY_MS;
    if (msOfDay % 1000 !== 0) msOfDay += 1000 - (msOfDay % 1000);
    if (msOfDay >= DAY_MS) {
      days++;
      msOfDay -= DAY_MS;
    }
    let y = yearOfDays(days);
    let mo = monthOfDays(days);
    let d = dayOfDays(days);
    let h = Math.floor(msOfDay / HOUR_MS);
    let mi = Math.floor((msOfDay % HOUR_MS) / MINUTE_MS);
    let s = Math.floor((msOfDay % MINUTE_MS) / 1000);
    for (;;) {
      const ny = nextYear(spec.years, y);
      if (ny < 0) return null;
      if (ny !== y) {
        y = ny;
        mo = 1;
        d = 1;
        h = mi = s = 0;
      }
      const nm = mo > 12 ? -1 : nextBit(spec.monthMask, mo);
      if (nm < 0 || nm > 12) {
        y++;
        mo = 1;
        d = 1;
        h = mi = s = 0;
        continue;
      }
      if (nm !== mo) {
        mo = nm;
        d = 1;
        h = mi = s = 0;
      }
      const nd = nextBit(this.dayMask(y, mo), d - 1) + 1;
      if (nd === 0) {
        mo++;
        d = 1;
        h = mi = s = 0;
        continue;
      }
      if (nd !== d) {
        d = nd;
        h = mi = s = 0;
      }
      const nh = nextBit(spec.hourMask, h);
      if (nh < 0) {
        d++;
        h = mi = s = 0;
        continue;
      }
      if (nh !== h) {
        h = nh;
        mi = s = 0;
      }
      const nmi = nextBit64(spec.minuteLo, spec.minuteHi, mi);
      if (nmi < 0) {
        h++;
        mi = s = 0;
        continue;
      }
      if (nmi !== mi) {
        mi = nmi;
        s = 0;
      }
      const ns = nextBit64(spec.secondLo, spec.secondHi, s);
      if (ns < 0) {
        mi++;
        s = 0;
        continue;
      }
      return daysFromCivil(y, mo, d) * DAY_MS + h * HOUR_MS + mi * MINUTE_MS + ns * 1000;
    }
  }

  /**
   * The smallest instant at or after `start` that the spec fires at in `zone`: the image of the
   * matching wall times under `zone.fromWall` (gap: pre-transition offset; ambiguous: first
   * occurrence), and for a wildcard spec also the second occurrence of a repeated wall time.
   * `null` when none is left.
   */
  nextInstant(start: number, zone: TimeZone): number | null {
    if (zone.fixed) return this.nextWallFixed(start, zone);
    const first = this.nextFirstOccurrence(start, zone);
    if (!this.spec.wildcard) return first;
    const repeated = this.nextRepeated(start, first ?? start + REPEAT_LOOKAHEAD_MS, zone);
    return repeated !== null && (first === null || repeated < first) ? repeated : first;
  }

  /**
   * The smallest instant in `[start, limit)` whose wall reading matches and repeats an earlier
   * one (the second pass through the hour after clocks fall back), or `null`.
   */
  private nextRepeated(start: number, limit: number, zone: TimeZone): number | null {
    // A repeat window [at, at + before - after) that is still open at `start` began at most a
    // day (the longest fall-back in the database) before it.
    let from = start - GAP_LOOKBACK_MS;
    for (;;) {
      const fallBack = zone.nextFallBack(from, limit);
      if (fallBack === null) return null;
      const { at, before, after } = fallBack;
      const end = at + before - after;
      if (end > start) {
        // Instants in [at, end) read `instant + after`, every such reading repeated.
        const wall = this.nextWall(Math.max(start, at) + after);
        if (wall !== null && wall - after < end) return wall - after < limit ? wall - after : null;
      }
      from = at;
    }
  }

  /** `nextInstant` under the first-occurrence rule alone. */
  private nextFirstOccurrence(start: number, zone: TimeZone): number | null {
    const offset = zone.offsetAt(start);
    const earlier = zone.offsetAt(start - GAP_LOOKBACK_MS);
    // Walls in a spring-forward gap that just passed map to instants after `start` even though
    // they read earlier than `start` does: begin the search low enough to see them.
    let wall = this.nextWall(start + Math.min(offset, earlier));
    let best = Number.POSITIVE_INFINITY;
    let bestWall = Number.POSITIVE_INFINITY;
    while (wall !== null) {
      const t = zone.fromWall(wall);
      if (t >= start && t < best) {
        best = t;
        bestWall = zone.toWall(t);
      }
      // Walls after the reading at `best` map to `best` or later: nothing left to improve.
      if (wall >= bestWall) break;
      wall = this.nextWall(wall + 1000);
    }
    return best === Number.POSITIVE_INFINITY ? null : best;
  }

  private nextWallFixed(start: number, zone: TimeZone): number | null {
    const offset = zone.offsetAt(start);
    const wall = this.nextWall(start + offset);
    return wall === null ? null : wall - offset;
  }
}
