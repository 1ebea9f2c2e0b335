/**
 * Time zones: validation, UTC offsets and the wall-time to instant mapping of SPEC section 6.
 *
 * Offsets come from `Intl` (the IANA database Node ships), cached per zone in chunks of about a
 * year, so after the first call for a period an offset lookup is a few array reads.
 */
import { describeValue } from '../describe.js';

const DAY_MS = 86_400_000;
// Roughly 400 days: one cache chunk. A chunk holds every offset change inside it.
const CHUNK_MS = 400 * DAY_MS;
// Offsets are sampled this far apart when a chunk is built; transitions closer together than
// this are not seen (no zone in the database has had two within three days).
const SAMPLE_MS = 3 * DAY_MS;

interface Chunk {
  /** Instants (epoch ms) at which `offsets[i]` starts; `starts[0]` is the chunk start. */
  starts: number[];
  /** Offsets (ms, wall minus UTC) in force from `starts[i]`. */
  offsets: number[];
}

/** A transition after which wall readings repeat (clocks fall back). */
export interface FallBack {
  /** The instant (epoch ms) the smaller offset starts. */
  at: number;
  /** The offset (ms) before `at`. */
  before: number;
  /** The offset (ms) from `at` on; smaller than `before`. */
  after: number;
}

/** An IANA time zone with cached offsets. Get one with `getZone`. */
export class TimeZone {
  /** The zone's IANA name as given (or `UTC`). */
  readonly name: string;
  /** True when the zone has one offset for all time (UTC, Etc/GMT+5). */
  readonly fixed: boolean;
  private readonly fixedOffset: number;
  private readonly format: Intl.DateTimeFormat | null;
  private readonly chunks = new Map<number, Chunk>();

  constructor(name: string) {
    this.name = name;
    const upper = name.toUpperCase();
    if (upper === 'UTC' || upper === 'ETC/UTC' || upper === 'Z' || upper === 'GMT' || upper === 'ETC/GMT') {
      this.fixed = true;
      this.fixedOffset = 0;
      this.format = null;
      return;
    }
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone: name,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    this.fixed = false;
    this.fixedOffset = 0;
  }

  /** The offset (wall time minus UTC, in ms) in force at the instant `epochMs`. */
  offsetAt(epochMs: number): number {
    if (this.fixed) return this.fixedOffset;
    const { starts, offsets } = this.chunk(Math.floor(epochMs / CHUNK_MS));
    let i = starts.length - 1;
    while (i > 0 && starts[i] > epochMs) i--;
    return offsets[i];
  }

  /** The wall-clock reading at `epochMs`, as epoch ms of the same reading in UTC. */
  toWall(epochMs: number): number {
    return epochMs + this.offsetAt(epochMs);
  }

  /**
   * The instant of a wall-clock reading (given as epoch ms of the same reading in UTC).
   * An ambiguous reading (fall-back) maps to its first occurrence; a reading in a gap
   * (spring-forward) maps with the offset from before the transition (PEP 495, fold=0).
   */
  fromWall(wallMs: number): number {
    if (this.fixed) return wallMs - this.fixedOffset;
    const before = this.offsetAt(wallMs - DAY_MS);
    const after = this.offsetAt(wallMs + DAY_MS);
    if (before === after) {
      const t = wallMs - before;
      if (this.offsetAt(t) === before) return t;
    }
    const tBefore = wallMs - before;
    const tAfter = wallMs - after;
    const validBefore = this.offsetAt(tBefore) === before;
    const validAfter = this.offsetAt(tAfter) === after;
    if (validBefore && validAfter) return Math.min(tBefore, tAfter);
    if (validAfter) return tAfter;
    return tBefore;
  }

  /**
   * The first fall-back transition (an offset that decreases, so wall readings repeat) at an
   * instant in `(from, to]`, or `null`. `at` is the instant the new offset starts; `before` and
   * `after` are the offsets (ms) on either side, so the readings from `at + after` up to
   * `at + before` occur twice.
   */
  nextFallBack(from: number, to: number): FallBack | null {
    if (this.fixed) return null;
    const last = Math.floor(to / CHUNK_MS);
    for (let index = Math.floor(from / CHUNK_MS); index <= last; index++) {
      const { starts, offsets } = this.chunk(index);
      // A transition exactly at a chunk's start shows only against the previous chunk's offset.
      let previous = starts[0] > from ? this.offsetAt(starts[0] - 1) : offsets[0];
      for (let i = starts[0] > from ? 0 : 1; i < starts.length; i++) {
        const at = starts[i];
        if (at > to) return null;
        const offset = offsets[i];
        if (at > from && offset < previous) return { at, before: previous, after: offset };
        previous = offset;
      }
    }
    return null;
  }

  /** True when the wall-clock reading exists (is not skipped by a spring-forward gap). */
  exists(wallMs: number): boolean {
    return this.toWall(this.fromWall(wallMs)) === wallMs;
  }

  private chunk(index: number): Chunk {
    let chunk = this.chunks.get(index);
    if (chunk === undefined) {
      chunk = this.buildChunk(index);
      this.chunks.set(index, chunk);
    }
    return chunk;
  }

  private intlOffset(epochMs: number): number {
    // Whole seconds: offsets in the database are whole seconds, and Intl drops milliseconds.
    const t = Math.floor(epochMs / 1000) * 1000;
    const parts = (this.format as Intl.DateTimeFormat).formatToParts(t);
    let year = 0;
    let month = 1;
    let day = 1;
    let hour = 0;
    let minute = 0;
    let second = 0;
    let bc = false;
    for (const part of parts) {
      switch (part.type) {
        case 'year':
          year = Number(part.value);
          break;
        case 'month':
          month = Number(part.value);
          break;
        case 'day':
          day = Number(part.value);
          break;
        case 'hour':
          hour = Number(part.value);
          break;
        case 'minute':
          minute = Number(part.value);
          break;
        case 'second':
          second = Number(part.value);
          break;
        case 'era':
          bc = part.value === 'BC' || part.value === 'B';
          break;
      }
    }
    if (bc) year = 1 - year;
    const wall = new Date(0);
    wall.setUTCFullYear(year, month - 1, day);
    wall.setUTCHours(hour, minute, second, 0);
    return wall.getTime() - t;
  }

  private buildChunk(index: number): Chunk {
    const start = index * CHUNK_MS;
    const end = start + CHUNK_MS;
    const starts = [start];
    const offsets = [this.intlOffset(start)];
    let prevT = start;
    let prevOffset = offsets[0];
    for (let t = Math.min(start + SAMPLE_MS, end); ; t = Math.min(t + SAMPLE_MS, end)) {
      const offset = this.intlOffset(t);
      if (offset !== prevOffset) {
        // Binary search the first second at which the new offset is in force.
        let lo = prevT;
        let hi = t;
        while (hi - lo > 1000) {
          const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
          if (this.intlOffset(mid) === prevOffset) lo = mid;
          else hi = mid;
        }
        starts.push(hi);
        offsets.push(offset);
        prevOffset = offset;
      }
      prevT = t;
      if (t >= end) break;
    }
    return { starts, offsets };
  }
}

const zones = new Map<string, TimeZone>();

let localName: string | null = null;
let localTz: string | undefined;

/** The system's local IANA zone (cached; looked up again when `process.env.TZ` changes). */
export function localZoneName(): string {
  if (localName === null || process.env.TZ !== localTz) {
    localTz = process.env.TZ;
    localName = Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC';
  }
  return localName;
}

/**
 * The `TimeZone` for an IANA name; throws a `RangeError` naming `option` and the value when the
 * name is unknown, a `TypeError` when it is not a string.
 */
export function getZone(name: unknown, option = 'timezone'): TimeZone {
  if (typeof name !== 'string') {
    throw new TypeError(`Expected ${option} to be an IANA time zone name, got ${describeValue(name)}`);
  }
  let zone = zones.get(name);
  if (zone !== undefined) return zone;
  if (name === '' || /^[+-]/.test(name)) {
    throw new RangeError(`Expected ${option} to be an IANA time zone name, got ${describeValue(name)}`);
  }
  try {
    zone = new TimeZone(name);
  } catch {
    throw new RangeError(
      `Expected ${option} to be an IANA time zone name, got unknown time zone ${describeValue(name)}`,
    );
  }
  zones.set(name, zone);
  return zone;
}
