// The public surface of tickwork: re-exports only.

export { createDashboard, type DashboardHandler, type DashboardOptions } from './dashboard/index.js';
export * from './errors.js';
export * from './events.js';
export type { Executor, ExecutorHost, RunEnd } from './executors/base.js';
export { BaseExecutor, RunContext } from './executors/base-executor.js';
export { getJobContext, type JobContext } from './executors/context.js';
export { PromisePoolExecutor, type PromisePoolExecutorOptions } from './executors/promise-pool.js';
export { WorkerThreadExecutor, type WorkerThreadExecutorOptions } from './executors/worker-thread.js';
export {
  Job,
  type JobChanges,
  type JobFields,
  type JobFunction,
  type JobHost,
  type RescheduleOptions,
} from './job.js';
export type { JobPolicy } from './job-fields.js';
export type { Logger } from './logger.js';
export type { RetryOn, RetryOptions, RetryPolicy } from './retry.js';
export type { JobRun, JobRunOutcome, RunError, RunQuery } from './runs.js';
export { BackgroundScheduler } from './scheduler/background.js';
export {
  Scheduler,
  type SchedulerState,
  STATE_PAUSED,
  STATE_RUNNING,
  STATE_STOPPED,
} from './scheduler/base.js';
export { BlockingScheduler } from './scheduler/blocking.js';
export type { EventListener, MaskListener } from './scheduler/event-hub.js';
export type {
  CommonJobOptions,
  JobDefaults,
  JobOptions,
  RunHistorySettings,
  SchedulerOptions,
  ShutdownOptions,
  TaskJobOptions,
} from './scheduler/options.js';
export type {
  FinishedRunRow,
  RetryRow,
  RunOutcomeName,
  RunQueryRow,
  RunRecordRow,
} from './stores/backend.js';
export type {
  AbandonedRun,
  AcquiredJob,
  AcquiredRetry,
  JobRelease,
  JobStore,
  StoreHost,
} from './stores/base.js';
export { MemoryJobStore } from './stores/memory.js';
export { JOB_CACHE_LIMIT, type PersistentStoreOptions } from './stores/persistent.js';
export {
  PostgresJobStore,
  type PostgresJobStoreOptions,
  type PostgresPool,
} from './stores/postgres/index.js';
export { type RedisClientLike, RedisJobStore, type RedisJobStoreOptions } from './stores/redis/index.js';
export { type SqliteDriverName, SqliteJobStore, type SqliteJobStoreOptions } from './stores/sqlite/index.js';
export { registerTask, type TaskModules } from './tasks.js';
export type {
  MeterProviderLike,
  RunOutcome,
  RunTelemetry,
  TelemetryOptions,
  TelemetrySource,
  TracerProviderLike,
} from './telemetry.js';
export type { Clock } from './time/clock.js';
export { setClock } from './time/clock.js';
export type { DateInput, DateTimeLike } from './time/inputs.js';
export type { Trigger, TriggerJSON } from './triggers/base.js';
export { CalendarIntervalTrigger } from './triggers/calendar-interval.js';
export { AndTrigger, type CombiningTriggerOptions, OrTrigger } from './triggers/combining.js';
export { CronTrigger, type CrontabOptions } from './triggers/cron/index.js';
export { DateTrigger } from './triggers/date.js';
export { describeTrigger } from './triggers/english.js';
export { IntervalTrigger } from './triggers/interval.js';
export type {
  CalendarIntervalTriggerOptions,
  CronField,
  CronTriggerOptions,
  DateTriggerOptions,
  IntervalTriggerOptions,
  TriggerAlias,
  TriggerOptionsByAlias,
} from './triggers/options.js';
export { createTrigger, registerTrigger, triggerFromJSON } from './triggers/registry.js';
