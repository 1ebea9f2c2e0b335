/**
 * The options of each built-in trigger, by alias. `addJob(func, alias, options)` checks its
 * options against these.
 */
import type { DateInput } from '../time/inputs.js';

/** A cron field: an APScheduler expression string, or a number. */
export type CronField = string | number;

/** Options of `DateTrigger`. */
export interface DateTriggerOptions {
  /** When to fire (default: now). */
  runDate?: DateInput;
  /** IANA zone for `runDate` strings without an offset (default: the scheduler's or the system's). */
  timezone?: string;
}

/** Options of `IntervalTrigger`. The interval is the sum of the units; it must be positive. */
export interface IntervalTriggerOptions {
  weeks?: number;
  days?: number;
  hours?: number;
  minutes?: number;
  seconds?: number;
  /** First fire time (default: now + interval). */
  startDate?: DateInput;
  /** No fire after this instant. */
  endDate?: DateInput;
  /** IANA zone for date strings without an offset. */
  timezone?: string;
  /** Random delay in [0, jitter] seconds added to each fire time. */
  jitter?: number | null;
}

/** Options of `CronTrigger` (APScheduler's field grammar). */
export interface CronTriggerOptions {
  year?: CronField;
  month?: CronField;
  day?: CronField;
  week?: CronField;
  /** 0 = Monday, as in APScheduler; names `mon`..`sun`. */
  dayOfWeek?: CronField;
  hour?: CronField;
  minute?: CronField;
  second?: CronField;
  startDate?: DateInput;
  endDate?: DateInput;
  /** IANA zone the fields are read in. */
  timezone?: string;
  jitter?: number | null;
}

/** Options of `CalendarIntervalTrigger`. */
export interface CalendarIntervalTriggerOptions {
  years?: number;
  months?: number;
  weeks?: number;
  days?: number;
  /** Wall-clock time of day to fire at (default 0:00:00). */
  hour?: number;
  minute?: number;
  second?: number;
  /** First date to fire on (default: today in `timezone`). */
  startDate?: DateInput;
  endDate?: DateInput;
  timezone?: string;
}

/** Trigger options by alias. */
export interface TriggerOptionsByAlias {
  date: DateTriggerOptions;
  interval: IntervalTriggerOptions;
  cron: CronTriggerOptions;
  calendarinterval: CalendarIntervalTriggerOptions;
}

/** A built-in trigger alias. */
export type TriggerAlias = keyof TriggerOptionsByAlias;
