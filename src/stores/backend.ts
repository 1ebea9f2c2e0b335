/**
 * StoreBackend: the short interface each persistent store (SQLite, Postgres, Redis) implements.
 * `PersistentJobStore` builds the JobStore on top of it: encoding jobs, restoring them, leases,
 * heartbeats and wake-up hints. Times are epoch milliseconds; a `null` next run time is a paused
 * job.
 *
 * A job row carries, besides `JobRow`, a lease (`acquiredBy`, `acquiredUntil`) and a fencing
 * token that changes on every acquisition and every update. A run claim is a row keyed by
 * (job id, run time) with the scheduler that claimed it and when its claim expires.
 */
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

/** A claimed run. */
export interface RunClaim {
  jobId: string;
  runTime: number;
  schedulerId: string;
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
   * The earliest time at which `acquire` may find work: the earliest next run time of jobs no
   * other scheduler holds, or the end of another scheduler's lease. It may be earlier than that
   * (the scheduler then looks once more), never later.
   */
  nextRunTime(now: number): Promise<number | null>;
  /** Adds a job; resolves to false (changing nothing) when its id exists. */
  insert(row: JobRow): Promise<boolean>;
  /**
   * Adds jobs in one transaction; resolves to one flag per row, in order: false (that row
   * changing nothing) when its id exists or an earlier row of the same call has it.
   */
  insertMany(rows: JobRow[]): Promise<boolean[]>;
  /** Replaces a job, ends its lease and changes its token; false when there is no such id. */
  update(row: JobRow): Promise<boolean>;
  /** Removes a job (and its run claims); false when there is no such id. */
  remove(id: string): Promise<boolean>;
  /** Removes every job and run claim. */
  removeAll(): Promise<void>;
  /**
   * Atomically takes up to `limit` jobs due at `now` whose lease is free or expired, earliest
   * first: sets their lease to (`owner`, `leaseUntil`) and a new token. Jobs leased by `owner`
   * itself may be taken too, always or after one of its calls failed: a scheduler's passes over
   * one store never overlap, so such a lease is left by a pass that failed before releasing,
   * perhaps after the database applied the acquisition. Jobs whose id is in `skip` (jobs this
   * scheduler cannot restore, left to others) are not taken.
   */
  acquire(
    owner: string,
    now: number,
    leaseUntil: number,
    limit: number,
    skip?: readonly string[],
  ): Promise<AcquiredRow[]>;
  /**
   * Atomically, for each release whose job is still leased by `owner` with the same token: sets
   * the next run time (or removes the job), ends the lease, and inserts a run claim for each run
   * time not claimed already (expiring at `claimUntil`). Resolves to one entry per release:
   * `null` when it was not applied, else one flag per run time, true when this call claimed it
   * (a run time claimed already belongs to a run someone else started).
   */
  release(owner: string, releases: ReleaseRow[], claimUntil: number): Promise<Array<boolean[] | null>>;
  /** Deletes these run claims. */
  completeRuns(runs: Array<{ jobId: string; runTime: number }>): Promise<void>;
  /** Extends every run claim of `owner` to `until` (a heartbeat while its runs go on). */
  renewRuns(owner: string, until: number): Promise<void>;
  /**
   * Takes the run claims whose expiry is before `now` for reporting: extends them to `until`
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
