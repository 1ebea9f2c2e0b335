/**
 * Scheduler and job options: their types, defaults and validation.
 */

import { hostname } from 'node:os';
import { checkIntegerFrom, checkSeconds, checkSecondsFromZero } from '../checks.js';
import { describeValue } from '../describe.js';
import type { Executor } from '../executors/base.js';
import type { JobFunction } from '../job.js';
import {
  checkBoolean,
  checkPolicy,
  isPolicyField,
  JOB_POLICY_NAMES,
  type JobPolicy,
  policyDefaults,
} from '../job-fields.js';
import { type Logger, silentLogger, stderrLogger } from '../logger.js';
import type { RetryOptions } from '../retry.js';
import type { JobStore } from '../stores/base.js';
import { didYouMean, JOB_OPTION_NAMES } from '../suggest.js';
import {
  checkTaskModules,
  checkTaskRoot,
  DEFAULT_TASK_POLICY,
  type TaskModules,
  type TaskPolicy,
} from '../tasks.js';
import { checkTelemetryOption, type TelemetryOptions } from '../telemetry.js';
import type { DateInput } from '../time/inputs.js';
import { getZone, localZoneName } from '../time/zone.js';
import type { TriggerAlias, TriggerOptionsByAlias } from '../triggers/options.js';

/** Defaults applied to every job that does not set them: the job's run policy (see `JobPolicy`). */
export type JobDefaults = JobPolicy;

/** The `runHistory` scheduler option, filled in. */
export interface RunHistorySettings {
  /** Seconds a history row is kept. Default 604800 (7 days). */
  maxAge: number;
  /** Most history rows kept per job (the newest). Default 100. */
  maxPerJob: number;
}

/** Options of a scheduler (constructor or `configure()`). */
export interface SchedulerOptions {
  /** IANA zone of triggers and of date inputs without an offset. Default: the system's zone. */
  timezone?: string;
  /** Job stores by alias. Default `{ default: new MemoryJobStore() }`. */
  jobstores?: Record<string, JobStore>;
  /** Executors by alias. Default `{ default: new PromisePoolExecutor({ maxWorkers: 10 }) }`. */
  executors?: Record<string, Executor>;
  /** Job option defaults. */
  jobDefaults?: Partial<Omit<JobDefaults, 'retry'>> & { retry?: RetryOptions | null };
  /**
   * What the run history keeps (both limits apply), or `false` to record nothing. Default
   * `{ maxAge: 604800, maxPerJob: 100 }`.
   */
  runHistory?: Partial<RunHistorySettings> | false;
  /** Seconds to wait after a store error before using that store again. Default 10. */
  jobstoreRetryInterval?: number;
  /** BackgroundScheduler: do not keep the process alive (timers are unref'd). Default false. */
  daemon?: boolean;
  /**
   * Where to log: an object with `debug/info/warn/error`, called as `(context, message)` (pino and
   * console fit), or `false` for nothing. Default: warnings and errors to stderr.
   */
  logger?: Logger | false;
  /** This scheduler's id in events and shared stores. Default `${hostname}-${pid}`. */
  schedulerId?: string;
  /**
   * Modules a `'module#export'` task reference may import (specifiers, globs, or a predicate).
   * Default: files inside `taskRoot`. Builtins and data:/http:/https: URLs are never imported.
   */
  taskModules?: TaskModules;
  /** The application root that file task references must stay inside. Default `process.cwd()`. */
  taskRoot?: string;
  /**
   * OpenTelemetry spans and metrics (needs `@opentelemetry/api`): `true` for the global
   * providers, or the providers to use. Default false.
   */
  telemetry?: boolean | TelemetryOptions;
}

type ArgsOption<F extends JobFunction> = F extends (...args: infer P) => unknown
  ? [] extends P
    ? { args?: P }
    : { args: P }
  : { args?: unknown[] };

/** Job options shared by every trigger (SPEC section 3). */
export interface CommonJobOptions {
  /** Unique id (default: random hex). */
  id?: string;
  /** Human name (default: the function's name). */
  name?: string;
  misfireGraceTime?: number | null;
  coalesce?: boolean;
  maxInstances?: number;
  /** Seconds a run may take before it is aborted with `JobTimeoutError`. */
  timeout?: number | null;
  /** How a failed run is tried again (`null`: it is not). Default from `jobDefaults.retry`. */
  retry?: RetryOptions | null;
  /** First run time (even a past one, then treated as missed); `null` adds the job paused. */
  nextRunTime?: DateInput | null;
  /** Alias of the store to keep the job in. Default `default`. */
  jobstore?: string;
  /** Alias of the executor to run it. Default `default`. */
  executor?: string;
  /** Replace a job with the same id instead of throwing `ConflictingIdError`. */
  replaceExisting?: boolean;
}

/**
 * The options argument of `addJob` for `F`: required when `F` has required parameters (its `args`
 * must be given), optional otherwise.
 */
export type OptionsArgument<F extends JobFunction, O> = F extends (...args: infer P) => unknown
  ? [] extends P
    ? [options?: O]
    : [options: O]
  : [options?: O];

/**
 * All of `addJob`'s options for function (or task reference) `F` and trigger `T`: the trigger
 * alias's options (none for a Trigger instance) and the job options, `args` checked against `F`.
 */
export type AddJobOptions<F extends JobFunction | string, T> = (T extends TriggerAlias
  ? TriggerOptionsByAlias[T]
  : unknown) &
  (F extends JobFunction ? JobOptions<F> : TaskJobOptions);

/**
 * The arguments of `addJob` after the function. One signature for every form, so that a mistake
 * is reported against the options themselves by every TypeScript version (TypeScript 7 reports
 * only the last overload of a failed call).
 */
export type AddJobRest<F extends JobFunction | string, T> = F extends JobFunction
  ? OptionsArgument<F, AddJobOptions<F, T>> extends [options: AddJobOptions<F, T>]
    ? [trigger: T, options: AddJobOptions<F, T>]
    : [trigger?: T, options?: AddJobOptions<F, T>]
  : [trigger?: T, options?: AddJobOptions<F, T>];

/** Job options, with `args` checked against the function's parameters. */
export type JobOptions<F extends JobFunction = JobFunction> = CommonJobOptions & ArgsOption<F>;

/** Job options for a job that names its function by a task reference. */
export type TaskJobOptions = CommonJobOptions & { args?: unknown[] };

/** The keys of the job options (everything else in `addJob`'s options goes to the trigger). */
export const JOB_OPTION_KEYS: ReadonlySet<string> = new Set(JOB_OPTION_NAMES);

const SCHEDULER_OPTION_KEYS = new Set([
  'timezone',
  'jobstores',
  'executors',
  'jobDefaults',
  'jobstoreRetryInterval',
  'daemon',
  'logger',
  'schedulerId',
  'taskModules',
  'taskRoot',
  'telemetry',
  'runHistory',
]);

export { checkBoolean };

/** Validates and completes job defaults. */
export function resolveJobDefaults(given: unknown, base: JobDefaults): JobDefaults {
  if (given === undefined) return base;
  if (typeof given !== 'object' || given === null) {
    throw new TypeError(`Expected jobDefaults to be an object, got ${describeValue(given)}`);
  }
  for (const key of Object.keys(given)) {
    if (!isPolicyField(key)) {
      throw new TypeError(
        `Unknown option ${JSON.stringify(key)} in jobDefaults (${didYouMean(key, JOB_POLICY_NAMES)}expected one of ${JOB_POLICY_NAMES.join(', ')})`,
      );
    }
  }
  return checkPolicy(given as Record<string, unknown>, base, 'jobDefaults.');
}

const STORE_METHODS = [
  'start',
  'shutdown',
  'lookupJob',
  'getDueJobs',
  'getNextRunTime',
  'getAllJobs',
  'addJob',
];
const EXECUTOR_METHODS = ['start', 'shutdown', 'submitJob'];

/** Checks that `value` has the methods of a JobStore or Executor. */
export function checkPlugin(value: unknown, kind: 'jobstore' | 'executor', alias: string): void {
  const methods = kind === 'jobstore' ? STORE_METHODS : EXECUTOR_METHODS;
  const ok =
    typeof value === 'object' &&
    value !== null &&
    methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function');
  if (!ok) {
    throw new TypeError(
      `Expected ${kind} ${JSON.stringify(alias)} to be ${kind === 'jobstore' ? 'a JobStore' : 'an Executor'}, got ${describeValue(value)}`,
    );
  }
}

/** Checks an alias argument. */
export function checkAlias(value: unknown, option: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(`Expected ${option} to be a non-empty string, got ${describeValue(value)}`);
  }
  return value;
}

/** The validated, non-plugin scheduler settings. */
export interface SchedulerSettings {
  timezone: string;
  jobDefaults: JobDefaults;
  jobstoreRetryIntervalMs: number;
  daemon: boolean;
  logger: Logger;
  schedulerId: string;
  taskPolicy: TaskPolicy;
  telemetry: TelemetryOptions | null;
  /** `null` when the history is off. */
  runHistory: RunHistorySettings | null;
}

/** The settings a new scheduler starts with. */
export function defaultSettings(): SchedulerSettings {
  return {
    timezone: localZoneName(),
    jobDefaults: policyDefaults(),
    jobstoreRetryIntervalMs: 10_000,
    daemon: false,
    logger: stderrLogger,
    schedulerId: `${hostname()}-${process.pid}`,
    taskPolicy: DEFAULT_TASK_POLICY,
    telemetry: null,
    runHistory: { maxAge: 604_800, maxPerJob: 100 },
  };
}

/** Checks the `runHistory` option. */
export function checkRunHistory(value: unknown, base: RunHistorySettings | null): RunHistorySettings | null {
  if (value === false) return null;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(
      `Expected runHistory to be false or an object with maxAge and/or maxPerJob, got ${describeValue(value)}`,
    );
  }
  const out: RunHistorySettings = { ...(base ?? { maxAge: 604_800, maxPerJob: 100 }) };
  for (const [key, v] of Object.entries(value)) {
    if (key === 'maxAge') {
      out.maxAge = checkSeconds(v, 'runHistory.maxAge');
    } else if (key === 'maxPerJob') {
      out.maxPerJob = checkIntegerFrom(v, 'runHistory.maxPerJob', 1);
    } else {
      throw new TypeError(
        `Unknown option ${JSON.stringify(key)} in runHistory (expected maxAge or maxPerJob)`,
      );
    }
  }
  return out;
}

/** Applies options to settings (validating them); stores and executors are left to the caller. */
export function applyOptions(settings: SchedulerSettings, options: unknown): SchedulerSettings {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`Expected scheduler options to be an object, got ${describeValue(options)}`);
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!SCHEDULER_OPTION_KEYS.has(key)) {
      throw new TypeError(
        `Unknown scheduler option ${JSON.stringify(key)} (expected one of ${[...SCHEDULER_OPTION_KEYS].join(', ')})`,
      );
    }
  }
  const out = { ...settings };
  if (o.timezone !== undefined) out.timezone = getZone(o.timezone, 'timezone').name;
  out.jobDefaults = resolveJobDefaults(o.jobDefaults, settings.jobDefaults);
  if (o.jobstoreRetryInterval !== undefined) {
    out.jobstoreRetryIntervalMs = checkSeconds(o.jobstoreRetryInterval, 'jobstoreRetryInterval') * 1000;
  }
  if (o.daemon !== undefined) out.daemon = checkBoolean(o.daemon, 'daemon');
  if (o.logger === false) out.logger = silentLogger;
  else if (o.logger !== undefined) {
    const logger = o.logger as Record<string, unknown>;
    const ok =
      typeof logger === 'object' &&
      logger !== null &&
      ['debug', 'info', 'warn', 'error'].every((m) => typeof logger[m] === 'function');
    if (!ok) {
      throw new TypeError(
        `Expected logger to be false or an object with debug, info, warn and error methods, got ${describeValue(o.logger)}`,
      );
    }
    out.logger = o.logger as Logger;
  }
  if (o.schedulerId !== undefined) out.schedulerId = checkAlias(o.schedulerId, 'schedulerId');
  if (o.taskModules !== undefined || o.taskRoot !== undefined) {
    out.taskPolicy = {
      modules: o.taskModules === undefined ? settings.taskPolicy.modules : checkTaskModules(o.taskModules),
      root: o.taskRoot === undefined ? settings.taskPolicy.root : checkTaskRoot(o.taskRoot),
    };
  }
  if (o.telemetry !== undefined) out.telemetry = checkTelemetryOption(o.telemetry);
  if (o.runHistory !== undefined) out.runHistory = checkRunHistory(o.runHistory, settings.runHistory);
  return out;
}

/** Options of `shutdown()`. */
export interface ShutdownOptions {
  /** Wait for running jobs (default true); `false` aborts them at once. */
  wait?: boolean;
  /** Seconds to wait for running jobs at most; then they are aborted. Default: no limit. */
  timeout?: number;
  /** Stops the waiting when it aborts; running jobs are then aborted. */
  signal?: AbortSignal;
}

const SHUTDOWN_OPTION_KEYS = new Set(['wait', 'timeout', 'signal']);

/** Validates `shutdown()` options. */
export function checkShutdownOptions(options: unknown): {
  wait: boolean;
  timeoutMs: number | null;
  signal: AbortSignal | null;
} {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Expected shutdown options to be an object, got ${describeValue(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!SHUTDOWN_OPTION_KEYS.has(key)) throw new TypeError(`Unknown shutdown option ${JSON.stringify(key)}`);
  }
  const { wait, timeout, signal } = options as ShutdownOptions;
  if (wait !== undefined) checkBoolean(wait, 'wait');
  if (timeout !== undefined) checkSecondsFromZero(timeout, 'timeout');
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`Expected signal to be an AbortSignal, got ${describeValue(signal)}`);
  }
  return {
    wait: wait ?? true,
    timeoutMs: timeout === undefined ? null : timeout * 1000,
    signal: signal ?? null,
  };
}
