/**
 * Human formats for `toString()`, in APScheduler's style.
 */
import type { TimeZone } from '../time/zone.js';

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** Python's `str(timedelta)`: `1:00:00`, `2 days, 0:00:30`, `0:00:00.500000`. */
export function formatTimedelta(ms: number): string {
  const days = Math.floor(ms / 86_400_000);
  let rest = ms - days * 86_400_000;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  const millis = Math.round(rest - seconds * 1000);
  const time = `${hours}:${pad(minutes)}:${pad(seconds)}${millis ? `.${pad(millis, 3)}000` : ''}`;
  return days ? `${days} day${days === 1 ? '' : 's'}, ${time}` : time;
}

/** `2026-01-01 09:00:00 UTC`: the wall time of an instant in a zone, and the zone. */
export function formatInstant(ms: number, zone: TimeZone): string {
  const iso = new Date(zone.toWall(ms)).toISOString();
  const millis = iso.slice(20, 23);
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${millis === '000' ? '' : `.${millis}`} ${zone.name}`;
}
