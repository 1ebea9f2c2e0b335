/**
 * Job: the data of one scheduled job, and methods that delegate to its scheduler.
 */
import type { DateInput } from './time/inputs.js';
import type { Trigger } from './triggers/base.js';

/** Any function a job may run; its arguments come from the job's `args`. */
export type JobFunction = (...args: never[]) => unknown;

/** What a job needs from its scheduler. */
export interface JobHost {
  /** Changes options of a job. */
  modifyJob(id: string, changes: JobChanges, jobstore?: string): Promise<Job>;
  /** Gives a job a new trigger. */
  rescheduleJob(
    id: string,
    trigger: string | Trigger,
    triggerOptions?: Record<string, unknown>,
    jobstore?: string,
  ): Promise<Job>;
  /** Pauses a job. */
  pauseJob(id: string, jobstore?: string): Promise<Job>;
  /** Resumes a paused job. */
  resumeJob(id: string, jobstore?: string): Promise<Job | null>;
  /** Removes a job. */
  removeJob(id: string, jobstore?: string): Promise<void>;
}

/** The fields of a job, as stored. */
export interface JobFields {
  /** Unique id within the scheduler. */
  id: string;
  /** Human name (default: the function's name). */
  name: string;
  /** The function to run. */
  func: JobFunction;
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
  /** Seconds after its fire time a run may still start; `null` = no limit. */
  misfireGraceTime: number | null;
  /** Run missed fire times once instead of once each. */
  coalesce: boolean;
  /** How many runs of this job may go at once. */
  maxInstances: number;
  /** Seconds a run may take before it is aborted; `null` = no limit. */
  timeout: number | null;
  /** The next time it fires; `null` = paused. */
  nextRunTime: Date | null;
}

/** Options that `modifyJob` may change (every job field but `id`). */
export type JobChanges = Partial<Omit<JobFields, 'id' | 'taskRef' | 'jobstore' | 'func' | 'nextRunTime'>> & {
  func?: JobFunction | string;
  nextRunTime?: DateInput | null;
};

/** One scheduled job. Get them from `addJob`, `getJob` and `getJobs`; do not construct them. */
export class Job implements JobFields {
  id: string;
  name: string;
  func: JobFunction;
  taskRef: string | null;
  args: unknown[];
  trigger: Trigger;
  executor: string;
  jobstore: string;
  misfireGraceTime: number | null;
  coalesce: boolean;
  maxInstances: number;
  timeout: number | null;
  // Epoch ms, not a Date: a Date takes over 100 bytes, and a scheduler may hold a million jobs.
  #nextRunMs: number | null;
  /** True while the job waits for the scheduler to start (it is in no store yet). */
  pending: boolean;
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

  /** The scheduler this job belongs to. */
  get host(): JobHost {
    return this.#host;
  }

  /** Changes options of this job (see `scheduler.modifyJob`). */
  modify(changes: JobChanges): Promise<Job> {
    return this.#host.modifyJob(this.id, changes, this.jobstore);
  }

  /** Gives this job a new trigger (see `scheduler.rescheduleJob`). */
  reschedule(trigger: string | Trigger, triggerOptions?: Record<string, unknown>): Promise<Job> {
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
    return new Job(this.#host, this, this.pending);
  }
}
