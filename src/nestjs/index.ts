// The NestJS integration of tickwork (`tickwork/nestjs`): re-exports only.
export {
  Cron,
  type CronDecoratorOptions,
  type CronFields,
  type DecoratedJobOptions,
  InjectScheduler,
  Interval,
  type IntervalDecoratorOptions,
  RunAt,
  TICKWORK_OPTIONS,
  TICKWORK_SCHEDULER,
  Timeout,
  type TimeoutDecoratorOptions,
} from './decorators.js';
export { TickworkExplorer } from './explorer.js';
export { TickworkModule, type TickworkModuleAsyncOptions, type TickworkModuleOptions } from './module.js';
