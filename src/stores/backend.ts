/**
 * StoreBackend: the short interface each persistent store (SQLite, Postgres, Redis) implements.
 * `PersistentJobStore` builds the JobStore on top of it: encoding jobs, restoring them, leases,
 * heartbeats and wake-up hints. Times are epoch milliseconds; a `null` next run time is a paused
 * job.
 *
 * A job row carries, besides `JobRow`, a lease (`acquiredBy`, `acquiredUntil`) and a fencing
 * token that changes on every acquisition and every update. A run claim is a row keyed by
 * (job id, run time) with the attempt it is (1 for a fire time, 2 and up for its retries), the
 * scheduler that claimed it and when its claim expires. Two attempts of one run time never hold
 * a claim at once: a retry waits in its own list until it is taken, and taking it makes the claim.
 *
 * Run history rows are kept per store; a claim's history row and its retry are written in the
 * same transaction that deletes the claim, and only when the claim was still there, so each
 * attempt is recorded (and tried again) by exactly one process.
 *
 * A call may fail after the database applied it (its reply lost). A backend keeps no memory of
 * that: `PersistentJobStore` notes what such a call may have left behind and, before its next
 * acquisition, asks for exactly that to be undone through `acquire`'s `retakeOwn`,
 * `giveUpClaims` and `giveUpTaken`, on every backend alike.
 */
import type { Job } from '../job.js';
import type { JobRow } from './state.js';

/** A row taken by `acquire`, with its new token. */
export interface AcquiredRow extends JobRow {
  token: number;
}

/** One job's outcome of a pass, as `release` applies it. */
export interface ReleaseRow {
  id: string;
  token: number;
  /** New next run time (`null` = paused); ignored when `remove`. */
  nextRunTime: number | null;
  remove: boolean;
  /** Run times to claim for the releasing scheduler. */
  runTimes: number[];
}

/** A run claim's key. */
export interface RunKey {
  jobId: string;
  runTime: number;
}

/** A claimed run. */
export interface RunClaim {
  jobId: string;
  runTime: number;
  /** 1 for the fire time itself, k + 1 for its k-th retry. */
  attempt: number;
  schedulerId: string;
}

/** The outcome of one run, as the run history keeps it. */
export type RunOutcomeName = 'success' | 'error' | 'timeout' | 'missed' | 'max_instances' | 'abandoned';

/** One history row. Times are epoch milliseconds. */
export interface RunRecordRow {
  jobId: string;
  jobName: string;
  scheduledRunTime: number;
  /** `null` when the run never started (missed, max_instances, abandoned). */
  startedAt: number | null;
  finishedAt: number;
  outcome: RunOutcomeName;
  /** JSON text of `{ name, message, stack }`, or `null`. */
  error: string | null;
  /** JSON text of the return value, or `null`. */
  retval: string | null;
  attempt: number;
  schedulerId: string;
}

/**
 * A retry waiting for its time: attempt `attempt` of the run (jobId, runTime), due at `dueAt`.
 * A first attempt is a run asked for with `runJob`, due at or before its run time, or a fire time
 * given back by a process that could not start it (`givenBackDueAt`), due just after it: the two
 * are told apart by `dueAt`, since only the second keeps its job's grace time.
 * `state` is the job's state JSON when the retry was made: a job whose trigger has ended (a date
 * job) is gone from the jobs table by then, and its retry still runs from this state.
 */
export interface RetryRow {
  jobId: string;
  runTime: number;
  attempt: number;
  dueAt: number;
  state?: string | null;
}

/** The `dueAt` of fire time `runTime` given back to the store: one millisecond after it. */
export function givenBackDueAt(runTime: number): number {
  return runTime + 1;
}

/** Whether a waiting run is a fire time given back (see `RetryRow`). */
export function isGivenBack(retry: { runTime: number; attempt: number; dueAt: number }): boolean {
  return retry.attempt === 1 && retry.dueAt === givenBackDueAt(retry.runTime);
}

/** A claimed run that is over, with what to write as its claim goes. */
export interface FinishedRunRow {
  jobId: string;
  runTime: number;
  /** The attempt of the claim: a claim of another attempt is left alone. */
  attempt: number;
  /** Its history row (absent when the history is off). */
  record?: RunRecordRow;
  /** Its next try (absent when it is not tried again). */
  retry?: RetryRow;
  /** The job that ran (the store encodes the retry's `state` from it); backends ignore it. */
  job?: Job;
}

/** A retry taken by `takeRetries`: it is now a run claim of the taker. */
export interface TakenRetry {
  row: JobRow;
  runTime: number;
  attempt: number;
  /** When it falls due (see `RetryRow`: a first attempt due 1 ms after its run time is a fire time given back). */
  dueAt: number;
}

/** What `queueRun` did. */
export type QueueRunResult = 'queued' | 'exists' | 'no_job' | 'paused';

/** Which history rows `runs` returns. */
export interface RunQueryRow {
  jobId?: string;
  /** Any of these outcomes (all when absent). */
  outcomes?: RunOutcomeName[];
  /** finishedAt >= since */
  since?: number;
  /** finishedAt <= until */
  until?: number;
  limit: number;
}

/** What a persistent store's database must do. Every method may reject (the server may be down). */
export interface StoreBackend {
  /** Connects and applies the schema's migrations that are not applied yet. */
  open(): Promise<void>;
  /** Disconnects (only what the backend opened itself). */
  close(): Promise<void>;
  /** One job, or `null`. */
  get(id: string): Promise<JobRow | null>;
  /** Every job by next run time, paused jobs last, ties by id. */
  all(): Promise<JobRow[]>;
  /** Jobs with a next run time at or before `now`, leased or not, by next run time then id. */
  due(now: number): Promise<JobRow[]>;
  /**
   * The earliest time at which `acquire` or `takeRetries` may find work: the earliest next run
   * time of jobs no other scheduler holds, the end of another scheduler's lease, or the earliest
   * `dueAt` of a waiting retry. It may be earlier than that (the scheduler then looks once more),
   * never later.
   */
  nextRunTime(now: number): Promise<number | null>;
  /** Adds a job; resolves to false (changing nothing) when its id exists. */
  insert(row: JobRow): Promise<boolean>;
  /**
   * Adds jobs in one transaction; resolves to one flag per row, in order: false (that row
   * changing nothing) when its id exists or an earlier row of the same call has it.
   */
  insertMany(rows: JobRow[]): Promise<boolean[]>;
  /**
   * Replaces a job, ends its lease and changes its token; false when there is no such id. When
   * the new row is paused (`nextRunTime` null), the job's waiting retries are deleted too.
   */
  update(row: JobRow): Promise<boolean>;
  /** Removes a job (with its run claims and waiting retries; its history stays); false when there is no such id. */
  remove(id: string): Promise<boolean>;
  /** Removes every job, run claim and waiting retry (the history stays). */
  removeAll(): Promise<void>;
  /**
   * Atomically takes up to `limit` jobs due at `now` whose lease is free or expired, earliest
   * first: sets their lease to (`owner`, `leaseUntil`) and a new token. A lease has expired when
   * its end is at or before `now` (`acquiredUntil <= now`): one ending exactly at `now` is over,
   * here and in `nextRunTime`, on every backend. With `retakeOwn`, jobs leased by `owner` itself
   * are taken too (however long their lease still runs); without it they are left until their
   * lease ends, like anyone's. The store asks for this when such leases may be left over: by a
   * pass that failed before releasing (perhaps after the database applied the acquisition), or
   * by an earlier process under the same scheduler id; a scheduler's passes over one store never
   * overlap, so its own leases are stale when it acquires. Jobs whose id is in `skip` (jobs this
   * scheduler cannot restore, left to others) are not taken.
   */
  acquire(
    owner: string,
    now: number,
    leaseUntil: number,
    limit: number,
    skip?: readonly string[],
    retakeOwn?: boolean,
  ): Promise<AcquiredRow[]>;
  /**
   * Atomically, for each release whose job is still leased by `owner` with the same token: sets
   * the next run time (or removes the job), ends the lease, and inserts a run claim for each run
   * time not claimed already (expiring at `claimUntil`). Resolves to one entry per release:
   * `null` when it was not applied, else one flag per run time, true when this call claimed it
   * (a run time claimed already belongs to a run someone else started).
   */
  release(owner: string, releases: ReleaseRow[], claimUntil: number): Promise<Array<boolean[] | null>>;
  /**
   * In one transaction, for each run: when a claim (jobId, runTime) of that `attempt` exists,
   * deletes it, inserts its history row (if given) and its retry (if given, unless its job is
   * there and paused; a job that is gone is one whose trigger ended, since removing a job
   * deletes its claims; an existing (jobId, runTime, attempt) retry is kept as is). A run whose
   * claim is gone (another process reported it abandoned, or the job was removed) writes nothing.
   */
  completeRuns(runs: FinishedRunRow[]): Promise<void>;
  /**
   * Atomically takes up to `limit` retries due at `now`, earliest `dueAt` first, whose job is
   * there and not paused (the row returned is the job's), or gone with the retry holding its
   * `state` (the row returned is `{ id, nextRunTime: null, state }`): each leaves the waiting
   * list and becomes a run claim of `owner` (with its attempt) expiring at `claimUntil`. Each
   * retry is taken by exactly one caller. A retry whose job is gone and that has no state is
   * deleted. Retries of jobs whose id is in `skip` (jobs this scheduler cannot restore, left to
   * others) are not taken. `callId` names this call (unique among the calls of every process),
   * for `giveUpTaken` should its reply be lost.
   */
  takeRetries(
    owner: string,
    now: number,
    claimUntil: number,
    limit: number,
    skip?: readonly string[],
    callId?: string,
  ): Promise<TakenRetry[]>;
  /**
   * Queues one run outside the job's schedule (`runJob`): a waiting retry row of attempt 1 due at
   * once, taken by `takeRetries` like any retry (so by exactly one caller). Atomically: `no_job`
   * when there is no such job, `paused` when it is paused, `exists` (nothing changes) when a run
   * of that job for that run time is claimed or waits, or it is the job's next run time (the
   * caller picks another run time: two runs never share one), else `queued`. The row takes the
   * job's stored state (`row.state` is ignored), so it still runs if the job's trigger ends first.
   */
  queueRun(row: RetryRow): Promise<QueueRunResult>;
  /** History rows, newest `finishedAt` first (ties: the later written first), at most `limit`. */
  runs(query: RunQueryRow): Promise<RunRecordRow[]>;
  /**
   * The newest history row of each of these jobs that has one (ties: the later written), in one
   * round trip, each by the index of its job's rows.
   */
  latestRuns(jobIds: readonly string[]): Promise<RunRecordRow[]>;
  /**
   * Deletes at most `batch` history rows that finished before `before`, or that are older than
   * the newest `maxPerJob` of their job; resolves to how many it deleted (the caller calls again
   * while that is `batch`). Served by an index.
   */
  pruneRuns(before: number, maxPerJob: number, batch: number): Promise<number>;
  /** Extends every run claim of `owner` to `until`, except those given up (a heartbeat while its runs go on). */
  renewRuns(owner: string, until: number): Promise<void>;
  /**
   * Gives up those of these run claims (keyed by job id and run time) that `owner` holds: claims
   * a `release` whose reply was lost may have made, for runs that never started. A claim given
   * up expires before any time (`renewRuns` leaves it alone), so the next `takeAbandonedRuns`
   * takes it and it is reported as abandoned. Claims that are not there, or are another
   * scheduler's, are left alone.
   */
  giveUpClaims(owner: string, runs: readonly RunKey[]): Promise<void>;
  /**
   * Gives up, as `giveUpClaims` does, the run claims of `owner` made by the `takeRetries` calls
   * named (their `callId`) whose reply was lost. Only a backend whose claims record the call
   * that made them can find them; one that cannot says so where it implements this.
   */
  giveUpTaken(owner: string, callIds: readonly string[]): Promise<void>;
  /**
   * Takes the run claims whose expiry is before `now` (`expiry < now`: a claim expiring exactly
   * at `now` is still held, on every backend) for reporting: extends them to `until`
   * (keeping the scheduler that claimed them) and returns them. Each comes back to one caller,
   * which reports it and then deletes it with `completeRuns`; if that caller dies in between, the
   * claim expires again and another reports it.
   */
  takeAbandonedRuns(now: number, until: number): Promise<RunClaim[]>;
  /** Optional wake-up hints: calls `onChange` when another process says jobs changed. */
  listen?(onChange: () => void): Promise<void>;
  /** Optional: tells other processes that jobs changed (best effort, never rejects). */
  notify?(): void;
}
