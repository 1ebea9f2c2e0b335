/** The scheduler started (APScheduler-compatible event codes, usable as bit masks). */
export const EVENT_SCHEDULER_STARTED = 1;
/** The scheduler shut down. */
export const EVENT_SCHEDULER_SHUTDOWN = 2;
/** The scheduler was paused. */
export const EVENT_SCHEDULER_PAUSED = 4;
/** The scheduler was resumed. */
export const EVENT_SCHEDULER_RESUMED = 8;
/** An executor was added. */
export const EVENT_EXECUTOR_ADDED = 16;
/** An executor was removed. */
export const EVENT_EXECUTOR_REMOVED = 32;
/** A job store was added. */
export const EVENT_JOBSTORE_ADDED = 64;
/** A job store was removed. */
export const EVENT_JOBSTORE_REMOVED = 128;
/** Every job of a store was removed. */
export const EVENT_ALL_JOBS_REMOVED = 256;
/** A job was added. */
export const EVENT_JOB_ADDED = 512;
/** A job was removed. */
export const EVENT_JOB_REMOVED = 1024;
/** A job was changed. */
export const EVENT_JOB_MODIFIED = 2048;
/** A run finished. */
export const EVENT_JOB_EXECUTED = 4096;
/** A run threw, rejected, timed out or was abandoned. */
export const EVENT_JOB_ERROR = 8192;
/** A run was later than its misfire grace time and did not run. */
export const EVENT_JOB_MISSED = 16384;
/** A job was handed to its executor. */
export const EVENT_JOB_SUBMITTED = 32768;
/** A run did not start: the job had maxInstances runs going. */
export const EVENT_JOB_MAX_INSTANCES = 65536;
/** A failed run will be tried again (job option `retry`). */
export const EVENT_JOB_RETRY = 131072;
/** The OR of every event code. */
export const EVENT_ALL = 262143;

/** Every event name, mapped to its code. */
export const EVENT_CODES = {
  scheduler_started: EVENT_SCHEDULER_STARTED,
  scheduler_shutdown: EVENT_SCHEDULER_SHUTDOWN,
  scheduler_paused: EVENT_SCHEDULER_PAUSED,
  scheduler_resumed: EVENT_SCHEDULER_RESUMED,
  executor_added: EVENT_EXECUTOR_ADDED,
  executor_removed: EVENT_EXECUTOR_REMOVED,
  jobstore_added: EVENT_JOBSTORE_ADDED,
  jobstore_removed: EVENT_JOBSTORE_REMOVED,
  all_jobs_removed: EVENT_ALL_JOBS_REMOVED,
  job_added: EVENT_JOB_ADDED,
  job_removed: EVENT_JOB_REMOVED,
  job_modified: EVENT_JOB_MODIFIED,
  job_executed: EVENT_JOB_EXECUTED,
  job_error: EVENT_JOB_ERROR,
  job_missed: EVENT_JOB_MISSED,
  job_submitted: EVENT_JOB_SUBMITTED,
  job_max_instances: EVENT_JOB_MAX_INSTANCES,
  job_retry: EVENT_JOB_RETRY,
} as const;

/** The name of an event. */
export type EventName = keyof typeof EVENT_CODES;

/** Fields every event has. */
export interface BaseEvent {
  /** The event's code (see `EVENT_*`). */
  code: number;
  /** The `schedulerId` of the scheduler that emitted it. */
  schedulerId: string;
}

/** A scheduler lifecycle event. */
export interface SchedulerEvent extends BaseEvent {
  /** The name of the event. */
  name: 'scheduler_started' | 'scheduler_shutdown' | 'scheduler_paused' | 'scheduler_resumed';
}

/** An executor or job store was added or removed, or a store's jobs were all removed. */
export interface AliasEvent extends BaseEvent {
  /** The name of the event. */
  name: 'executor_added' | 'executor_removed' | 'jobstore_added' | 'jobstore_removed' | 'all_jobs_removed';
  /** The alias of the executor or job store. */
  alias: string;
}

/** A job was added, removed or modified. */
export interface JobEvent extends BaseEvent {
  /** The name of the event. */
  name: 'job_added' | 'job_removed' | 'job_modified';
  /** The job's id. */
  jobId: string;
  /** The alias of the job's store. */
  jobstore: string;
}

/** A run of a job finished, failed or was missed. */
export interface JobExecutionEvent extends BaseEvent {
  /** The name of the event. */
  name: 'job_executed' | 'job_error' | 'job_missed';
  /** The job's id. */
  jobId: string;
  /** The alias of the job's store. */
  jobstore: string;
  /** The fire time this run was for. */
  scheduledRunTime: Date;
  /** What the job returned (resolved to), for `job_executed`. */
  retval?: unknown;
  /** What the job threw (rejected with), for `job_error`. */
  error?: unknown;
  /** 1 for the fire time itself, k + 1 for its k-th retry. */
  attempt?: number;
  /** When the run started (`job_executed`, and `job_error` of a run that started). */
  startedAt?: Date;
  /** When the run ended (`job_executed`, and `job_error` of a run that started). */
  finishedAt?: Date;
}

/** Runs of a job were submitted to an executor, or refused because of `maxInstances`. */
export interface JobSubmissionEvent extends BaseEvent {
  /** The name of the event. */
  name: 'job_submitted' | 'job_max_instances';
  /** The job's id. */
  jobId: string;
  /** The alias of the job's store. */
  jobstore: string;
  /** The fire times of the runs. */
  scheduledRunTimes: Date[];
  /** 1 for fire times, k + 1 for the k-th retry of one (then `scheduledRunTimes` has one). */
  attempt: number;
}

/** Every event, by name, with its literal `code` (so narrowing by code works as by name). */
export interface SchedulerEventMap {
  scheduler_started: SchedulerEvent & {
    name: 'scheduler_started';
    code: typeof EVENT_CODES.scheduler_started;
  };
  scheduler_shutdown: SchedulerEvent & {
    name: 'scheduler_shutdown';
    code: typeof EVENT_CODES.scheduler_shutdown;
  };
  scheduler_paused: SchedulerEvent & { name: 'scheduler_paused'; code: typeof EVENT_CODES.scheduler_paused };
  scheduler_resumed: SchedulerEvent & {
    name: 'scheduler_resumed';
    code: typeof EVENT_CODES.scheduler_resumed;
  };
  executor_added: AliasEvent & { name: 'executor_added'; code: typeof EVENT_CODES.executor_added };
  executor_removed: AliasEvent & { name: 'executor_removed'; code: typeof EVENT_CODES.executor_removed };
  jobstore_added: AliasEvent & { name: 'jobstore_added'; code: typeof EVENT_CODES.jobstore_added };
  jobstore_removed: AliasEvent & { name: 'jobstore_removed'; code: typeof EVENT_CODES.jobstore_removed };
  all_jobs_removed: AliasEvent & { name: 'all_jobs_removed'; code: typeof EVENT_CODES.all_jobs_removed };
  job_added: JobEvent & { name: 'job_added'; code: typeof EVENT_CODES.job_added };
  job_removed: JobEvent & { name: 'job_removed'; code: typeof EVENT_CODES.job_removed };
  job_modified: JobEvent & { name: 'job_modified'; code: typeof EVENT_CODES.job_modified };
  job_executed: JobExecutionEvent & {
    name: 'job_executed';
    retval: unknown;
    code: typeof EVENT_CODES.job_executed;
  };
  job_error: JobExecutionEvent & {
    name: 'job_error';
    error: unknown;
    code: typeof EVENT_CODES.job_error;
    /** True when the run will be tried again (a `job_retry` event says when). */
    willRetry: boolean;
  };
  job_missed: JobExecutionEvent & {
    name: 'job_missed';
    code: typeof EVENT_CODES.job_missed;
    /** How many consecutive fire times this event reports (a long backlog is one event). */
    missedCount: number;
    /** The first of them (also `scheduledRunTime`). */
    firstMissedTime: Date;
    /** The last of them. */
    lastMissedTime: Date;
  };
  job_submitted: JobSubmissionEvent & { name: 'job_submitted'; code: typeof EVENT_CODES.job_submitted };
  job_max_instances: JobSubmissionEvent & {
    name: 'job_max_instances';
    code: typeof EVENT_CODES.job_max_instances;
  };
  job_retry: BaseEvent & {
    name: 'job_retry';
    code: typeof EVENT_CODES.job_retry;
    jobId: string;
    jobstore: string;
    /** The fire time the run is for. */
    scheduledRunTime: Date;
    /** The attempt that will run next (2 for the first retry). */
    attempt: number;
    /** Why the attempt before it failed. */
    error: unknown;
    /** When the next attempt is due. */
    nextRunTime: Date;
  };
}

/** Any event. */
export type SchedulerEventAny = SchedulerEventMap[EventName];

/** What an emitter gives for event `N`: its fields but the name, code and scheduler id. */
export type EventPayload<N extends EventName> = Omit<SchedulerEventMap[N], 'name' | 'code' | 'schedulerId'>;

/**
 * Event `name` with its code (from `EVENT_CODES`, so name and code cannot disagree): a new object
 * with the payload's fields, then the name, code and scheduler id.
 */
export function makeEvent<N extends EventName>(
  name: N,
  schedulerId: string,
  payload: EventPayload<N>,
): SchedulerEventMap[N] {
  // The spread of a generic payload is not provably a SchedulerEventMap[N]; this is the one cast.
  return { ...payload, name, code: EVENT_CODES[name], schedulerId } as unknown as SchedulerEventMap[N];
}
