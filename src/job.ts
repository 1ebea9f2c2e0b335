/**
 * Job: the data of one scheduled job, and methods that delegate to its scheduler.
 */
import type { JobPolicy } from './job-fields.js';
import type { RetryOptions, RetryPolicy } from './retry.js';
import type { DateInput } from './time/inputs.js';
import type { Trigger } from './triggers/base.js';
import type { TriggerAlias, TriggerOptionsByAlias } from './triggers/options.js';
import { checkCount } from './triggers/preview.js';
import { triggerFromJSON } from './triggers/registry.js';

/** Any function a job may run; its arguments come from the job's `args`. */
export type JobFunction = (...args: never[]) => unknown;

/** What a job needs from its scheduler. */
export interface JobHost {
  /** Changes options of a job. */
  modifyJob<F extends JobFunction | string = JobFunction | string>(
    id: string,
    changes: JobChanges<F>,
    jobstore?: string,
  ): Promise<Job>;
  /** Gives a job a new trigger. */
  rescheduleJob<K extends TriggerAlias | Trigger>(
    id: string,
    trigger: K,
    triggerOptions?: RescheduleOptions<K>,
    jobstore?: string,
  ): Promise<Job>;
  /** Pauses a job. */
  pauseJob(id: string, jobstore?: string): Promise<Job>;
  /** Resumes a paused job. */
  resumeJob(id: string, jobstore?: string): Promise<Job | null>;
  /** Removes a job. */
  removeJob(id: string, jobstore?: string): Promise<void>;
}

/** The fields of a job, as stored (its run policy is declared in `job-fields.ts`). */
export interface JobFields extends JobPolicy {
  /** Unique id within the scheduler. */
  id: string;
  /** Human name (default: the function's name). */
  name: string;
  /** The function to run; `undefined` only on a job marked `broken` (its task is unknown here). */
  func: JobFunction | undefined;
  /** The task reference naming `func` (`registerTask` name or `'module#export'`), if it has one. */
  taskRef: string | null;
  /** Positional arguments passed to `func`. */
  args: unknown[];
  /** When the job fires. */
  trigger: Trigger;
  /** Alias of the executor that runs it. */
  executor: string;
  /** Alias of the store that holds it. */
  jobstore: string;
  /** The next time it fires; `null` = paused. */
  nextRunTime: Date | null;
}

/**
 * Options that `modifyJob` may change (every job field but `id`); `args` is checked against the
 * parameters of `func` when the changes give a function.
 */
export type JobChanges<F extends JobFunction | string = JobFunction | string> = Partial<
  Omit<JobFields, 'id' | 'taskRef' | 'jobstore' | 'func' | 'nextRunTime' | 'args' | 'retry'>
> & {
  func?: F;
  retry?: RetryOptions | null;
  nextRunTime?: DateInput | null;
  args?: [F] extends [JobFunction] ? Parameters<F> : unknown[];
};

/** The trigger options of `rescheduleJob`: those of the alias, none for a Trigger instance. */
export type RescheduleOptions<K> = K extends TriggerAlias ? TriggerOptionsByAlias[K] : Record<string, never>;

/** One scheduled job. Get them from `addJob`, `getJob` and `getJobs`; do not construct them. */
export class Job implements JobFields {
  id: string;
  name: string;
  func: JobFunction | undefined;
  taskRef: string | null;
  args: unknown[];
  trigger: Trigger;
  executor: string;
  jobstore: string;
  // The run policy (`JobPolicy`): declared here for the class's type, set from `fields`.
  misfireGraceTime: number | null;
  coalesce: boolean;
  maxInstances: number;
  timeout: number | null;
  retry: RetryPolicy | null;
  // Epoch ms, not a Date: a Date takes over 100 bytes, and a scheduler may hold a million jobs.
  #nextRunMs: number | null;
  /** True while the job waits for the scheduler to start (it is in no store yet). */
  pending: boolean;
  /**
   * Why this process cannot restore this stored job (its task or trigger is unknown here, or its
   * state is corrupt), or `null`. Such a job is listed but never run here; it can be modified,
   * paused or removed.
   */
  broken: string | null = null;
  readonly #host: JobHost;

  constructor(host: JobHost, fields: JobFields, pending = false) {
    this.#host = host;
    this.id = fields.id;
    this.name = fields.name;
    this.func = fields.func;
    this.taskRef = fields.taskRef;
    this.args = fields.args;
    this.trigger = fields.trigger;
    this.executor = fields.executor;
    this.jobstore = fields.jobstore;
    this.misfireGraceTime = fields.misfireGraceTime;
    this.coalesce = fields.coalesce;
    this.maxInstances = fields.maxInstances;
    this.timeout = fields.timeout;
    this.retry = fields.retry;
    this.#nextRunMs = fields.nextRunTime === null ? null : fields.nextRunTime.getTime();
    this.pending = pending;
  }

  /** The next time it fires; `null` = paused. */
  get nextRunTime(): Date | null {
    return this.#nextRunMs === null ? null : new Date(this.#nextRunMs);
  }

  set nextRunTime(value: Date | null) {
    this.#nextRunMs = value === null ? null : value.getTime();
  }

  /** `nextRunTime` in epoch milliseconds (no Date made). */
  get nextRunMs(): number | null {
    return this.#nextRunMs;
  }

  /**
   * The job's next `count` run times, starting at `nextRunTime` (none while paused), fewer when
   * the trigger ends. Computed on a copy of the trigger: the job does not change.
   */
  getNextRunTimes(count: number): Date[] {
    const n = checkCount(count);
    if (this.#nextRunMs === null || n === 0) return [];
    const trigger = triggerFromJSON(this.trigger.toJSON());
    const out = [new Date(this.#nextRunMs)];
    while (out.length < n) {
      const previous = out[out.length - 1];
      const next = trigger.getNextFireTime(previous, previous);
      if (next === null) break;
      out.push(next);
    }
    return out;
  }

  /** The scheduler this job belongs to. */
  get host(): JobHost {
    return this.#host;
  }

  /** Changes options of this job (see `scheduler.modifyJob`). */
  modify<F extends JobFunction | string = JobFunction | string>(changes: JobChanges<F>): Promise<Job> {
    return this.#host.modifyJob(this.id, changes, this.jobstore);
  }

  /** Gives this job a new trigger (see `scheduler.rescheduleJob`). */
  reschedule<K extends TriggerAlias | Trigger>(
    trigger: K,
    triggerOptions?: RescheduleOptions<K>,
  ): Promise<Job> {
    return this.#host.rescheduleJob(this.id, trigger, triggerOptions, this.jobstore);
  }

  /** Pauses this job. */
  pause(): Promise<Job> {
    return this.#host.pauseJob(this.id, this.jobstore);
  }

  /** Resumes this job; resolves to `null` if it had no fire time left and was removed. */
  resume(): Promise<Job | null> {
    return this.#host.resumeJob(this.id, this.jobstore);
  }

  /** Removes this job from its store. */
  remove(): Promise<void> {
    return this.#host.removeJob(this.id, this.jobstore);
  }

  /** `name (trigger: ..., next run at: ...)`, as APScheduler prints jobs. */
  toString(): string {
    const next = this.pending
      ? 'pending'
      : this.nextRunTime === null
        ? 'paused'
        : `next run at: ${this.nextRunTime.toISOString()}`;
    return `${this.name} (trigger: ${this.trigger.toString()}, ${next})`;
  }

  /** A copy with the same host, for stores that must not share objects with callers. */
  clone(): Job {
    const copy = new Job(this.#host, this, this.pending);
    copy.broken = this.broken;
    return copy;
  }
}
