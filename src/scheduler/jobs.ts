/**
 * Turning `addJob`/`modifyJob` arguments into job fields, with every check done before anything
 * changes.
 */
import { randomBytes } from 'node:crypto';
import { describeValue } from '../describe.js';
import { TaskLookupError } from '../errors.js';
import type { JobChanges, JobFields, JobFunction } from '../job.js';
import { checkBoolean, checkPolicy, isPolicyField, JOB_POLICY, JOB_POLICY_NAMES } from '../job-fields.js';
import { didYouMean, JOB_OPTION_NAMES } from '../suggest.js';
import { resolveTask, type TaskPolicy, taskRefOf } from '../tasks.js';
import { toEpochMs } from '../time/inputs.js';
import { getZone } from '../time/zone.js';
import type { Trigger } from '../triggers/base.js';
import { createTrigger } from '../triggers/registry.js';
import { JOB_OPTION_KEYS, type JobDefaults } from './options.js';

// Random ids come from a pool of random bytes: one crypto call per 1,024 ids.
const ID_BYTES = 16;
let idPool = Buffer.alloc(0);
let idOffset = 0;

/** A random 32-character hex id. */
export function randomId(): string {
  if (idOffset + ID_BYTES > idPool.length) {
    idPool = randomBytes(ID_BYTES * 1024);
    idOffset = 0;
  }
  const id = idPool.toString('hex', idOffset, idOffset + ID_BYTES);
  idOffset += ID_BYTES;
  return id;
}

const NO_ARGS: unknown[] = [];
// Shared by every addJob without options: neither part is ever written to.
const NO_OPTIONS: [Record<string, unknown>, Record<string, unknown>] = [Object.freeze({}), Object.freeze({})];

/** A job about to be added: its fields and how to add it. */
export interface JobDraft {
  fields: Omit<JobFields, 'nextRunTime'>;
  /** The first run time when given (`null` = paused); `undefined` = from the trigger at add time. */
  nextRunTime: Date | null | undefined;
  replaceExisting: boolean;
}

/** True for an object that looks like a Trigger. */
export function isTrigger(value: unknown): value is Trigger {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Trigger).getNextFireTime === 'function' &&
    typeof (value as Trigger).toJSON === 'function'
  );
}

/** Makes a trigger from an alias and options, or checks a Trigger instance. */
export function resolveTrigger(
  trigger: unknown,
  triggerOptions: Record<string, unknown>,
  timezone: string,
): Trigger {
  if (trigger === undefined || trigger === null) {
    return createTrigger('date', triggerOptions, timezone);
  }
  if (isTrigger(trigger)) {
    const extra = Object.keys(triggerOptions);
    if (extra.length > 0) {
      throw new TypeError(
        `Unknown job option ${JSON.stringify(extra[0])} (${didYouMean(extra[0], JOB_OPTION_NAMES)}trigger options go with a trigger alias, not a Trigger instance)`,
      );
    }
    return trigger;
  }
  return createTrigger(trigger, triggerOptions, timezone);
}

/** Splits `addJob` options into job options and trigger options. */
export function splitOptions(options: unknown): [Record<string, unknown>, Record<string, unknown>] {
  if (options === undefined) return NO_OPTIONS;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`Expected job options to be an object, got ${describeValue(options)}`);
  }
  const job: Record<string, unknown> = {};
  const trigger: Record<string, unknown> = {};
  const record = options as Record<string, unknown>;
  for (const key in record) {
    const value = record[key];
    if (value === undefined) continue;
    if (JOB_OPTION_KEYS.has(key)) job[key] = value;
    else trigger[key] = value;
  }
  return [job, trigger];
}

/** A job function with its task reference. */
export interface ResolvedFunc {
  func: JobFunction;
  taskRef: string | null;
}

/**
 * Resolves `func` (a function or a task reference) to the function and its task reference; at
 * once for a function, asynchronously for a reference (it may need an import).
 */
export function resolveFunc(func: unknown, policy?: TaskPolicy): ResolvedFunc | Promise<ResolvedFunc> {
  if (typeof func === 'function')
    return { func: func as JobFunction, taskRef: taskRefOf(func as JobFunction) };
  if (typeof func === 'string') return resolveTask(func, policy).then((fn) => ({ func: fn, taskRef: func }));
  throw new TypeError(
    `Expected func to be a function or a task reference string ("name" or "module#export"), got ${describeValue(func)}`,
  );
}

/** The main thread's stand-in for a task name that only a worker thread resolves. */
export function workerOnlyTask(ref: string): JobFunction {
  const stand = () => {
    throw new TaskLookupError(ref, 'this task name is resolved in worker threads, not in the main thread');
  };
  Object.defineProperty(stand, 'name', { value: ref });
  return stand;
}

/** Checks the job options that need no I/O; throws naming the option and the value. */
export function checkJobOptions(
  options: Record<string, unknown>,
  defaults: JobDefaults,
  timezone: string,
): Omit<JobDraft['fields'], 'func' | 'taskRef' | 'trigger' | 'name'> & {
  name: string | undefined;
  nextRunTime: Date | null | undefined;
  replaceExisting: boolean;
} {
  const id = options.id === undefined ? randomId() : options.id;
  if (typeof id !== 'string' || id === '') {
    throw new TypeError(`Expected id to be a non-empty string, got ${describeValue(options.id)}`);
  }
  if (options.name !== undefined && typeof options.name !== 'string') {
    throw new TypeError(`Expected name to be a string, got ${describeValue(options.name)}`);
  }
  const args = options.args ?? [];
  if (!Array.isArray(args))
    throw new TypeError(`Expected args to be an array, got ${describeValue(options.args)}`);
  for (const alias of ['jobstore', 'executor'] as const) {
    const value = options[alias];
    if (value !== undefined && (typeof value !== 'string' || value === '')) {
      throw new TypeError(`Expected ${alias} to be a non-empty string, got ${describeValue(value)}`);
    }
  }
  let nextRunTime: Date | null | undefined;
  if (options.nextRunTime === null) nextRunTime = null;
  else if (options.nextRunTime !== undefined) {
    nextRunTime = new Date(toEpochMs(options.nextRunTime, getZone(timezone), 'nextRunTime'));
  }
  return {
    id,
    name: options.name as string | undefined,
    args: args.length === 0 ? NO_ARGS : [...args],
    executor: (options.executor as string | undefined) ?? 'default',
    jobstore: (options.jobstore as string | undefined) ?? 'default',
    ...checkPolicy(options, defaults),
    nextRunTime,
    replaceExisting:
      options.replaceExisting === undefined
        ? false
        : checkBoolean(options.replaceExisting, 'replaceExisting'),
  };
}

const CHANGE_KEYS = new Set([
  'name',
  'func',
  'args',
  'trigger',
  'executor',
  ...JOB_POLICY_NAMES,
  'nextRunTime',
]);

/** Applies `modifyJob` changes to a copy of the fields; throws before anything changes. */
export async function applyChanges(
  current: JobFields,
  changes: JobChanges,
  timezone: string,
): Promise<JobFields> {
  if (typeof changes !== 'object' || changes === null || Array.isArray(changes)) {
    throw new TypeError(`Expected changes to be an object, got ${describeValue(changes)}`);
  }
  const out: JobFields = { ...current, nextRunTime: current.nextRunTime };
  for (const [key, value] of Object.entries(changes)) {
    if (key === 'id') throw new TypeError('The id of a job cannot be changed');
    if (!CHANGE_KEYS.has(key)) {
      throw new TypeError(
        `Unknown job option ${JSON.stringify(key)} in changes${didYouMean(key, CHANGE_KEYS)}`,
      );
    }
    if (value === undefined) continue;
    if (isPolicyField(key)) {
      (out as unknown as Record<string, unknown>)[key] = JOB_POLICY[key].check(value, key);
      continue;
    }
    switch (key) {
      case 'name':
        if (typeof value !== 'string')
          throw new TypeError(`Expected name to be a string, got ${describeValue(value)}`);
        out.name = value;
        break;
      case 'func': {
        const resolved = await resolveFunc(value);
        out.func = resolved.func;
        out.taskRef = resolved.taskRef;
        break;
      }
      case 'args':
        if (!Array.isArray(value))
          throw new TypeError(`Expected args to be an array, got ${describeValue(value)}`);
        out.args = [...value];
        break;
      case 'trigger':
        if (!isTrigger(value))
          throw new TypeError(`Expected trigger to be a Trigger, got ${describeValue(value)}`);
        out.trigger = value;
        break;
      case 'executor':
        if (typeof value !== 'string' || value === '') {
          throw new TypeError(`Expected executor to be a non-empty string, got ${describeValue(value)}`);
        }
        out.executor = value;
        break;
      case 'nextRunTime':
        out.nextRunTime =
          value === null ? null : new Date(toEpochMs(value, getZone(timezone), 'nextRunTime'));
        break;
    }
  }
  return out;
}
