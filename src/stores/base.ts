/**
 * The JobStore interface (SPEC section 7): where jobs live between runs.
 */
import type { Job, JobFunction, JobHost } from '../job.js';
import type { Logger } from '../logger.js';
import type { FinishedRunRow, RunQueryRow, RunRecordRow } from './backend.js';

/** A retry taken by `acquireRetries`: one more run of `job` for `runTime`, numbered `attempt`. */
export interface AcquiredRetry {
  job: Job;
  runTime: Date;
  attempt: number;
  /**
   * A fire time that a process gave back because it could not start it: unlike a run asked for
   * with `runJob` (also attempt 1), its job's `misfireGraceTime` applies from `runTime`.
   */
  givenBack?: boolean;
}

/** A job taken by `acquireDueJobs`, with the fencing token of that acquisition. */
export interface AcquiredJob {
  job: Job;
  /** Changes with every acquisition and every update: a release with an old token is ignored. */
  token: number;
}

/** What a processing pass decided for one acquired job. */
export interface JobRelease {
  id: string;
  /** The token `acquireDueJobs` gave. */
  token: number;
  /** The next run time (`null` = paused), unless `remove`. */
  nextRunTime: Date | null;
  /** The trigger is done: remove the job. */
  remove: boolean;
  /** The run times this scheduler will run: each is claimed once, for exactly one scheduler. */
  runTimes: Date[];
}

/** A run that a scheduler claimed and did not finish before its lease ran out. */
export interface AbandonedRun {
  jobId: string;
  runTime: Date;
  /** The attempt it was (1 for the fire time itself). */
  attempt: number;
  /** The scheduler that claimed it. */
  schedulerId: string;
}

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
  /**
   * Resolves the task reference of a stored job: a registered name, a module reference, or (for
   * an executor that resolves names itself) a name only its workers know.
   */
  restoreTask(ref: string, executor: string): Promise<JobFunction>;
  /**
   * Reports runs whose scheduler stopped before finishing them: emitted as `job_error`. Resolves
   * to what the store writes as each claim goes (its history row, and its retry when the job
   * retries abandoned runs), in the order given.
   */
  reportAbandonedRuns(jobstore: string, runs: AbandonedRun[]): Promise<FinishedRunRow[]>;
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
  /** Optional: how many jobs the store holds, without restoring them (telemetry's job gauge). */
  countJobs?(): Promise<number>;
  /** Adds a job; rejects with `ConflictingIdError` if its id exists. */
  addJob(job: Job): Promise<void>;
  /**
   * Optional, for stores that hold jobs in this process: `addJob` done at once (throwing instead
   * of rejecting). The scheduler calls it when no pass or other call holds the store, so adding
   * many jobs costs no promise each. A subclass that changes `addJob` changes this too.
   */
  addJobNow?(job: Job): void;
  /** Optional, with `addJobNow`: `updateJob` done at once (for `replaceExisting`). */
  updateJobNow?(job: Job): void;
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
  /**
   * Takes up to `limit` due jobs (earliest first) under a lease, for one pass of the run loop,
   * which hands them back with `releaseJobs`. Every store of this package implements both; a
   * store without them is driven through `getDueJobs` and `applyRunResults` (or `updateJob` and
   * `removeJob`) instead, on the same pass. On a `shared` store the lease keeps other schedulers
   * off the job, and expires after the store's lease time (so a scheduler that dies blocks nobody
   * for long); on a local one it lasts until the release.
   */
  acquireDueJobs?(now: Date, limit: number): Promise<AcquiredJob[]>;
  /**
   * Stores the decisions of one pass and ends the leases, all at once. A release whose token is
   * no longer current (the job was changed or taken by another scheduler meanwhile) is ignored.
   * Resolves to one entry per release: `null` when it was ignored, else the run times claimed for
   * this scheduler, which must then run them (and only those: a run time claimed already belongs
   * to a run another scheduler started).
   */
  releaseJobs?(releases: JobRelease[]): Promise<Array<Date[] | null>>;
  /**
   * Marks runs as finished, writing each one's history row and retry (if given) with it. On a
   * shared store only runs whose claim of that attempt is still there write anything (another
   * scheduler may have reported it abandoned), so each attempt is written once.
   */
  completeRuns?(runs: FinishedRunRow[]): Promise<void>;
  /**
   * Takes up to `limit` retries due at `now` (earliest first) whose job is still there and not
   * paused; on a shared store each is claimed for this scheduler, and taken by exactly one.
   */
  acquireRetries?(now: Date, limit: number): Promise<AcquiredRetry[]>;
  /**
   * Optional: queues one run of job `id` for `runTime` outside its schedule (`runJob`), due at
   * once (`runTime` may be a moment ahead, to tell two runs asked for together apart). It is
   * taken by `acquireRetries` as attempt 1 of that run time; on a shared store by exactly one
   * scheduler. Rejects with `JobLookupError` when there is no such job and `JobPausedError` when
   * it is paused; resolves to false (queuing nothing) when a run of that job for that time is
   * going, waits, or is its next fire (the caller then tries a later run time).
   */
  queueRun?(id: string, runTime: Date): Promise<boolean>;
  /** History rows, newest first. */
  getRuns?(query: RunQueryRow): Promise<RunRecordRow[]>;
  /**
   * Optional: the newest history row of each of these jobs that has one, in one query (without
   * it the scheduler asks `getRuns` job by job).
   */
  getLatestRuns?(jobIds: readonly string[]): Promise<RunRecordRow[]>;
  /**
   * Deletes history rows finished before `before` (epoch ms) or older than the newest
   * `maxPerJob` of their job, in batches; resolves to how many it deleted.
   */
  pruneRuns?(before: number, maxPerJob: number): Promise<number>;
  /**
   * True when several schedulers (in other processes) may use the store at once. The scheduler
   * then takes only what its executors can start soon (leaving the rest to the others), ends
   * every run it claimed with `completeRuns`, and looks at the store every `pollIntervalMs`.
   */
  readonly shared?: boolean;
  /**
   * The longest the scheduler may sleep between looks at this store, in milliseconds: other
   * processes may change its jobs without a wake-up reaching this one.
   */
  readonly pollIntervalMs?: number;
  /**
   * Shared stores: how long before their fire time the scheduler claims runs, in milliseconds
   * (it then starts each on its own timer at its time), so that the round trips of claiming are
   * over when the time comes. `acquireDueJobs` is then asked for jobs due by that much later.
   * 0 or absent: runs are claimed when due.
   */
  readonly claimAheadMs?: number;
}
