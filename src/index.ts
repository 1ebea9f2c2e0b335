// The public surface of tickwork: re-exports only.
export * from './errors.js';
export * from './events.js';
export type { Executor, ExecutorHost } from './executors/base.js';
export type { Job, JobChanges, JobFields, JobFunction } from './job.js';
export type { Logger } from './logger.js';
export type { JobStore, StoreHost } from './stores/base.js';
export { registerTask } from './tasks.js';
export type { Clock } from './time/clock.js';
export { setClock } from './time/clock.js';
export type { DateInput } from './time/inputs.js';
export type { Trigger, TriggerJSON } from './triggers/base.js';
export type {
  CalendarIntervalTriggerOptions,
  CronField,
  CronTriggerOptions,
  DateTriggerOptions,
  IntervalTriggerOptions,
  TriggerAlias,
  TriggerOptionsByAlias,
} from './triggers/options.js';
