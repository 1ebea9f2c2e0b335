/**
 * The JobStore interface (SPEC section 7): where jobs live between runs.
 */
import type { Job, JobHost } from '../job.js';
import type { Logger } from '../logger.js';

/** What a job store needs from its scheduler. */
export interface StoreHost extends JobHost {
  /** The scheduler's logger. */
  readonly logger: Logger;
  /** The scheduler's id (hostname and pid by default). */
  readonly schedulerId: string;
  /**
   * Reports a stored job that cannot be restored (its task or trigger is unknown to this code):
   * it is logged and emitted as `job_error`; the store keeps it and tries again on the next start.
   */
  reportBrokenJob(jobId: string, jobstore: string, error: unknown): void;
  /** Asks the scheduler to look at its stores now (jobs changed elsewhere). */
  wakeup(): void;
}

/** Stores jobs and answers which are due. All methods may reject (a remote store may be down). */
export interface JobStore {
  /** Called by the scheduler when it starts (or when the store is added to a running one). */
  start(scheduler: StoreHost, alias: string): Promise<void>;
  /** Frees the store's resources (connections it opened itself). */
  shutdown(): Promise<void>;
  /** The job with this id, or `null`. */
  lookupJob(id: string): Promise<Job | null>;
  /** Jobs whose `nextRunTime` is at or before `now`, earliest first. */
  getDueJobs(now: Date): Promise<Job[]>;
  /** The earliest `nextRunTime` of all jobs (paused jobs have none), or `null`. */
  getNextRunTime(): Promise<Date | null>;
  /** Every job, by `nextRunTime`, paused jobs last. */
  getAllJobs(): Promise<Job[]>;
  /** Adds a job; rejects with `ConflictingIdError` if its id exists. */
  addJob(job: Job): Promise<void>;
  /** Replaces the stored job with this id; rejects with `JobLookupError` if there is none. */
  updateJob(job: Job): Promise<void>;
  /** Removes a job; rejects with `JobLookupError` if there is none. */
  removeJob(id: string): Promise<void>;
  /** Removes every job. */
  removeAllJobs(): Promise<void>;
  /**
   * Optional: stores the outcome of one processing pass at once (jobs with their new
   * `nextRunTime`, and ids of jobs whose trigger is done), e.g. in one transaction. Without it the
   * scheduler calls `updateJob` and `removeJob` for each job.
   */
  applyRunResults?(updated: Job[], removedIds: string[]): Promise<void>;
  /**
   * Persistent stores: checks that the job can be stored (task reference, arguments, trigger),
   * rejecting with `TaskLookupError` or `SerializationError`. Called by `addJob`/`modifyJob`
   * before anything changes, even while the scheduler is stopped.
   */
  validateJob?(job: Job): Promise<void>;
}
