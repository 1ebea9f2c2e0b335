/**
 * A job's state as persistent stores keep it: readable JSON holding everything but the function
 * itself (named by its task reference) and the next run time (a column of its own, so stores can
 * index it).
 */
import { SerializationError, TaskLookupError } from '../errors.js';
import { Job, type JobFields } from '../job.js';
import { type JobPolicy, policyDefaults, policyOf, readStoredPolicy } from '../job-fields.js';
import type { RetryPolicy } from '../retry.js';
import { decodeArgs, encodeArgs, type Json } from '../serialization.js';
import type { Trigger, TriggerJSON } from '../triggers/base.js';
import { triggerFromJSON } from '../triggers/registry.js';
import type { StoreHost } from './base.js';

/** The current layout of the state JSON. */
export const STATE_VERSION = 1;

/** The JSON a persistent store keeps for a job. */
export interface JobState extends Omit<JobPolicy, 'retry'> {
  version: number;
  id: string;
  name: string;
  task: string;
  args: Json[];
  trigger: TriggerJSON;
  executor: string;
  /** Absent in states written before retries existed: read as `null`. */
  retry?: RetryPolicy | null;
}

/** A stored job: its id, next run time (epoch ms, `null` = paused) and state JSON. */
export interface JobRow {
  id: string;
  nextRunTime: number | null;
  state: string;
}

/**
 * Encodes a job for a persistent store. Throws `TaskLookupError` for a job whose function has no
 * task reference, and `SerializationError` naming the path of anything else that cannot be stored.
 */
export function encodeJob(job: Job): JobRow {
  // A lone surrogate is not text: SQLite and Redis would rewrite it, and the job lose its id.
  if (/\p{Cs}/u.test(job.id)) {
    throw new SerializationError(
      'id',
      `it has a lone UTF-16 surrogate, which is not well-formed Unicode: ${JSON.stringify(job.id)}`,
    );
  }
  if (job.taskRef === null) {
    throw new TaskLookupError(
      job.func?.name || '<anonymous>',
      `job ${JSON.stringify(job.id)} goes to job store ${JSON.stringify(job.jobstore)}, which keeps task references, not functions: register the function with registerTask(name, fn) or pass "module-specifier#exportName"`,
    );
  }
  const trigger = job.trigger.toJSON();
  let text: string;
  try {
    text = JSON.stringify(trigger);
  } catch (error) {
    throw new SerializationError('trigger', `its toJSON() is not JSON: ${String(error)}`);
  }
  try {
    triggerFromJSON(JSON.parse(text));
  } catch (error) {
    throw new SerializationError(
      'trigger',
      `it cannot be restored from its JSON: ${(error as Error).message}`,
    );
  }
  const state: JobState = {
    version: STATE_VERSION,
    id: job.id,
    name: job.name,
    task: job.taskRef,
    args: encodeArgs(job.args),
    trigger,
    executor: job.executor,
    ...policyOf(job),
  };
  return {
    id: job.id,
    nextRunTime: job.nextRunMs,
    state: JSON.stringify(state),
  };
}

function field<T>(state: Record<string, unknown>, key: string, check: (v: unknown) => boolean): T {
  const value = state[key];
  if (!check(value)) throw new TypeError(`Stored job state has a bad ${key}: ${JSON.stringify(value)}`);
  return value as T;
}

const isString = (v: unknown) => typeof v === 'string';

/**
 * Restores a stored job. Rejects (with the reason) when the state is corrupt, or its task or
 * trigger is unknown to this code; the caller reports it and keeps the row.
 */
export async function decodeJob(host: StoreHost, alias: string, row: JobRow): Promise<Job> {
  const state = parseState(row);
  const task = field<string>(state, 'task', isString);
  const executor = field<string>(state, 'executor', isString);
  const args = field<Json[]>(state, 'args', Array.isArray);
  const trigger = triggerFromJSON(state.trigger);
  const func = await host.restoreTask(task, executor);
  return new Job(host, fieldsOf(state, row, alias, func, task, executor, decodeArgs(args), trigger));
}

/**
 * A stand-in for a stored trigger this code cannot restore: never fires, and gives back the
 * stored JSON unchanged, so a broken job can still be listed and removed.
 */
export class UnrestorableTrigger implements Trigger {
  constructor(private readonly stored: unknown) {}
  getNextFireTime(): Date | null {
    return null;
  }
  toJSON(): TriggerJSON {
    return this.stored as TriggerJSON;
  }
  toString(): string {
    return `unrestorable[${JSON.stringify(this.stored) ?? 'undefined'}]`;
  }
}

/**
 * A stored job this code cannot restore, as far as it can be read, marked `broken` with `reason`
 * and without a function. When only its task is unknown here, every other field is the stored one.
 */
export function decodeBrokenJob(host: StoreHost, alias: string, row: JobRow, reason: unknown): Job {
  let job: Job;
  try {
    const state = parseState(row);
    const task = field<string>(state, 'task', isString);
    const executor = field<string>(state, 'executor', isString);
    const args = field<Json[]>(state, 'args', Array.isArray);
    job = new Job(
      host,
      fieldsOf(
        state,
        row,
        alias,
        undefined,
        task,
        executor,
        decodeArgsOrRaw(args),
        triggerFromJSON(state.trigger),
      ),
    );
  } catch {
    // Corrupt beyond its task: what can be read, with stand-ins for the rest.
    let state: Record<string, unknown> = {};
    try {
      state = parseState(row);
    } catch {}
    const text = (key: string, fallback: string) =>
      isString(state[key]) ? (state[key] as string) : fallback;
    job = new Job(host, {
      id: row.id,
      name: text('name', row.id),
      func: undefined,
      taskRef: isString(state.task) ? (state.task as string) : null,
      args: Array.isArray(state.args) ? state.args : [],
      trigger: new UnrestorableTrigger(state.trigger),
      executor: text('executor', 'default'),
      jobstore: alias,
      ...policyDefaults(),
      // It never runs here: no grace time to show.
      misfireGraceTime: null,
      nextRunTime: row.nextRunTime === null ? null : new Date(row.nextRunTime),
    });
  }
  job.broken = reason instanceof Error ? reason.message : String(reason);
  return job;
}

function decodeArgsOrRaw(args: Json[]): unknown[] {
  try {
    return decodeArgs(args);
  } catch {
    return args;
  }
}

function fieldsOf(
  state: Record<string, unknown>,
  row: JobRow,
  alias: string,
  func: JobFields['func'],
  task: string,
  executor: string,
  args: unknown[],
  trigger: Trigger,
): JobFields {
  return {
    id: row.id,
    name: field<string>(state, 'name', isString),
    func,
    taskRef: task,
    args,
    trigger,
    executor,
    jobstore: alias,
    ...readStoredPolicy(state),
    nextRunTime: row.nextRunTime === null ? null : new Date(row.nextRunTime),
  };
}

function parseState(row: JobRow): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(row.state);
  } catch (error) {
    throw new TypeError(`Stored job state is not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new TypeError(`Stored job state is not a JSON object: ${row.state.slice(0, 100)}`);
  }
  const state = parsed as Record<string, unknown>;
  if (state.version !== STATE_VERSION) {
    throw new TypeError(
      `Stored job state has version ${JSON.stringify(state.version)}, expected ${STATE_VERSION}`,
    );
  }
  return state;
}
