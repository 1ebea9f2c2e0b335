/**
 * PersistentJobStore: the JobStore of every database-backed store, built on a `StoreBackend`.
 * It encodes jobs to readable JSON, restores them (reporting, never deleting, the ones this code
 * cannot restore), takes due jobs under leases with fencing tokens, claims each run time once,
 * keeps the claims of running jobs alive with a heartbeat, reports the runs of schedulers that
 * died, and wakes the scheduler when another process says jobs changed.
 *
 * Two things keep many small changes cheap. Concurrent adds are written in batches: each add is
 * queued, and the queue is written in one transaction once the burst of calls under way has
 * arrived (or when it holds `MAX_BATCH` rows). And wake-up hints are folded: at most one per
 * `HINT_WINDOW_MS`, the first at once, the changes after it announced together when the window
 * ends, so the last change is always announced.
 *
 * A call whose reply is lost (a timeout, a dropped connection) may or may not have been applied.
 * The store notes what such an acquire, release or take of retries may have left behind, and
 * before its next acquisition has the backend undo exactly that (see `#recover`): leases taken
 * back, run claims given up so they are reported as abandoned. The backends keep no such state.
 *
 * Over 400 lines because it is everything the three database stores share (encoding, the job
 * cache, leases, heartbeats, abandoned runs, retries, run now, hints, lost replies) over one
 * small backend interface, so that each backend stays a plain list of operations.
 */
import { randomBytes } from 'node:crypto';
import { checkSeconds, checkSecondsFromZero } from '../checks.js';
import { describeValue } from '../describe.js';
import { asyncDispose } from '../dispose.js';
import { ConflictingIdError, JobLookupError, JobPausedError, SchedulerNotRunningError } from '../errors.js';
import { Job } from '../job.js';
import { clock, type TimerHandle } from '../time/clock.js';
import {
  type AcquiredRow,
  type FinishedRunRow,
  isGivenBack,
  type ReleaseRow,
  type RunKey,
  type RunQueryRow,
  type RunRecordRow,
  type StoreBackend,
  type TakenRetry,
} from './backend.js';
import type { AbandonedRun, AcquiredJob, AcquiredRetry, JobRelease, JobStore, StoreHost } from './base.js';
import { decodeBrokenJob, decodeJob, encodeJob, type JobRow } from './state.js';

/** Options every persistent store takes. */
export interface PersistentStoreOptions {
  /**
   * Seconds a scheduler holds the jobs it takes, and the runs it claims without a heartbeat:
   * a scheduler that dies blocks them for at most this long. Default 30.
   */
  leaseTime?: number;
  /**
   * Most seconds between two looks at the store, so changes made by other processes are seen
   * even when no wake-up hint arrives. Default 1.
   */
  pollInterval?: number;
  /**
   * Seconds before their fire time that a scheduler claims runs (they then start on its own
   * timer, at their time): the round trips of claiming are over by then. 0 claims them when due.
   * At most half of `leaseTime`. Default 0.25 (half of `leaseTime` when that is less). A process
   * that dies in that time before a fire leaves the claimed run to be reported as abandoned, and
   * a change made in another process in that time applies from the next fire.
   */
  claimAhead?: number;
}

/** The options every persistent store takes, beside its own. */
const COMMON_OPTIONS: readonly string[] = ['leaseTime', 'pollInterval', 'claimAhead'];

/** Checks that `options` is an object with only `known` keys or common ones; returns it. */
export function checkStoreOptions<T extends object>(options: unknown, store: string, known: string[]): T {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`Expected ${store} options to be an object, got ${describeValue(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key) && !COMMON_OPTIONS.includes(key)) {
      throw new TypeError(`Unknown ${store} option ${JSON.stringify(key)}`);
    }
  }
  return options as T;
}

/** Checks a table name or key prefix: letters, digits and `_` (and `:` where `extra` allows). */
export function checkIdentifier(
  value: unknown,
  name: string,
  pattern = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/,
): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new TypeError(`Expected ${name} to match ${pattern}, got ${describeValue(value)}`);
  }
  return value;
}

interface Cached {
  state: string;
  job: Job;
}

/**
 * A job this process took but could not restore, and released at once. It is not taken again
 * while another process may run it: until its next run time has passed by a lease without the
 * job being run (its row unchanged), or until it can be restored here (its task appeared).
 */
interface Skipped {
  state: string;
  nextRunTime: number | null;
  /** When to read the row and see whether another process ran it. */
  recheckAt: number;
  /** When to try restoring it again. */
  retryAt: number;
}

/** An add waiting for its batch. */
interface QueuedAdd {
  row: JobRow;
  job: Job;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Most restored jobs a store keeps for reuse; the least recently used go first. */
export const JOB_CACHE_LIMIT = 10_000;
// Most rows written in one batch: a larger burst is written as several.
const MAX_BATCH = 1_000;
// Wake-up hints are sent at most once per this many milliseconds.
const HINT_WINDOW_MS = 20;
// History rows deleted per statement when pruning.
const PRUNE_BATCH = 1_000;

/** The base of SqliteJobStore, PostgresJobStore and RedisJobStore. */
export abstract class PersistentJobStore implements JobStore {
  readonly #leaseMs: number;
  /** Several processes may use one database: each pass claims what it runs. */
  readonly shared = true;
  /** Longest sleep between looks at this store, in milliseconds. */
  readonly pollIntervalMs: number;
  /** How long before their fire time runs are claimed, in milliseconds (`claimAhead`). */
  readonly claimAheadMs: number;
  #backend: StoreBackend | null = null;
  #host: StoreHost | null = null;
  #alias = 'default';
  #heartbeat: TimerHandle | null = null;
  /** The heartbeat running now, if any: shutdown waits for it before disconnecting. */
  #beating: Promise<void> | null = null;
  // Restored jobs by id, reused while their stored state is unchanged, least recently used first.
  // Other processes remove and replace jobs without telling: the cache is bounded by
  // JOB_CACHE_LIMIT, and a full read drops the ids it no longer finds.
  readonly #cache = new Map<string, Cached>();
  // Rows this process could not restore, by id with the state that failed: reported once.
  readonly #broken = new Map<string, string>();
  // Broken jobs this process released and does not take again for now.
  readonly #skipped = new Map<string, Skipped>();
  // Adds waiting for the next batch, whether a batch write is already asked for, and the
  // batches being written.
  #adds: QueuedAdd[] = [];
  #flushAsked = false;
  readonly #batches = new Set<Promise<void>>();
  // The open hint window's timer, and whether a change came in during it.
  #hintWindow: TimerHandle | null = null;
  #hintOwed = false;
  // What calls whose reply was lost may have left in the database (see `#recover`). Whether the
  // next acquire takes back jobs leased to this scheduler: true at start (an earlier process
  // under this scheduler id may have left leases) and after an acquire or release failed.
  #retakeOwn = true;
  // Jobs this store acquired and has not sent a release of, with their tokens: a pass that
  // failed in between left them leased, and the next acquire takes them back. A release under
  // way does not leave them (an acquire sent meanwhile, the next batch of a pass, must not take
  // them back); should it fail, every own lease is taken back (#retakeOwn).
  #leased = new Map<string, number>();
  // Failed acquires and releases so far: an acquire clears #retakeOwn only when none failed
  // while it was under way.
  #failures = 0;
  // Run claims a failed release may have made: nobody runs them.
  #doubtfulRuns: RunKey[] = [];
  // `callId`s of failed `takeRetries` calls: nobody runs the claims they may have made.
  #doubtfulTakes: string[] = [];
  // This store object's random token and its count of `takeRetries` calls, which make call ids.
  readonly #instance = randomBytes(8).toString('hex');
  #takeCount = 0;

  constructor(options: PersistentStoreOptions) {
    this.#leaseMs =
      (options.leaseTime === undefined ? 30 : checkSeconds(options.leaseTime, 'leaseTime')) * 1000;
    this.pollIntervalMs =
      (options.pollInterval === undefined ? 1 : checkSeconds(options.pollInterval, 'pollInterval')) * 1000;
    // By default 0.25 s, or half the lease when that is shorter.
    const ahead =
      options.claimAhead === undefined
        ? Math.min(0.25, this.#leaseMs / 2000)
        : checkSecondsFromZero(options.claimAhead, 'claimAhead');
    // Acquiring looks ahead too (see acquireDueJobs): a lease must outlast the look by far.
    if (ahead * 1000 > this.#leaseMs / 2) {
      throw new RangeError(
        `Expected claimAhead to be at most half of leaseTime (${this.#leaseMs / 2000} s), got ${ahead}`,
      );
    }
    this.claimAheadMs = ahead * 1000;
  }

  /** Makes the backend (loading the driver); called once per start. */
  protected abstract createBackend(host: StoreHost): Promise<StoreBackend>;

  /** Connects, migrates the schema, and starts the heartbeat and the wake-up hints. */
  async start(host: StoreHost, alias: string): Promise<void> {
    const backend = await this.createBackend(host);
    await backend.open();
    this.#backend = backend;
    this.#host = host;
    this.#alias = alias;
    this.#broken.clear();
    this.#skipped.clear();
    this.#cache.clear();
    this.#retakeOwn = true;
    this.#leased.clear();
    this.#doubtfulRuns = [];
    this.#doubtfulTakes = [];
    if (backend.listen !== undefined) {
      try {
        await backend.listen(() => host.wakeup());
      } catch (error) {
        host.logger.warn(
          { err: error, jobstore: alias },
          `Job store ${JSON.stringify(alias)}: wake-up hints unavailable, polling only`,
        );
      }
    }
    this.#armHeartbeat();
  }

  /** Writes the adds already made, sends the hint still owed, stops the heartbeat, disconnects. */
  async shutdown(): Promise<void> {
    // Adds that were accepted are written (or fail) before the connection goes.
    while (this.#adds.length > 0 || this.#batches.size > 0) {
      this.#flushAdds();
      await Promise.all([...this.#batches]);
    }
    // #beat never rejects (it logs); its queries finish before the connection goes, and the
    // timer it arms again as it ends is cleared just below.
    if (this.#beating !== null) await this.#beating;
    if (this.#heartbeat !== null) clock.clearTimeout(this.#heartbeat);
    this.#heartbeat = null;
    if (this.#hintWindow !== null) clock.clearTimeout(this.#hintWindow);
    this.#hintWindow = null;
    const owed = this.#hintOwed;
    this.#hintOwed = false;
    const backend = this.#backend;
    this.#backend = null;
    this.#cache.clear();
    if (owed) backend?.notify?.();
    await backend?.close();
  }

  /**
   * `await using store = ...`: shuts the store down (again, harmlessly, when its scheduler did
   * already).
   */
  async [asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  /** Tells other processes that jobs changed, folding the changes of one hint window. */
  #changed(): void {
    const backend = this.#backend;
    if (backend?.notify === undefined) return;
    if (this.#hintWindow !== null) {
      this.#hintOwed = true;
      return;
    }
    backend.notify();
    this.#openHintWindow();
  }

  #openHintWindow(): void {
    this.#hintWindow = clock.setTimeout(
      () => {
        this.#hintWindow = null;
        if (!this.#hintOwed) return;
        this.#hintOwed = false;
        const backend = this.#backend;
        if (backend?.notify === undefined) return;
        backend.notify();
        // Changes still coming in keep to one hint per window.
        this.#openHintWindow();
      },
      HINT_WINDOW_MS,
      true,
    );
  }

  get #db(): StoreBackend {
    if (this.#backend === null) throw new SchedulerNotRunningError();
    return this.#backend;
  }

  get #scheduler(): StoreHost {
    if (this.#host === null) throw new SchedulerNotRunningError();
    return this.#host;
  }

  #armHeartbeat(): void {
    this.#heartbeat = clock.setTimeout(
      () => {
        const beating = this.#beat().finally(() => {
          this.#beating = null;
          if (this.#backend !== null) this.#armHeartbeat();
        });
        this.#beating = beating;
      },
      this.#leaseMs / 3,
      true,
    );
  }

  /** Keeps this scheduler's run claims alive, and reports the claims of schedulers that died. */
  async #beat(): Promise<void> {
    const backend = this.#backend;
    const host = this.#host;
    if (backend === null || host === null) return;
    try {
      const now = clock.now();
      await backend.renewRuns(host.schedulerId, now + this.#leaseMs);
      const abandoned = await backend.takeAbandonedRuns(now, now + this.#leaseMs);
      if (abandoned.length > 0) {
        const runs: AbandonedRun[] = abandoned.map((r) => ({
          jobId: r.jobId,
          runTime: new Date(r.runTime),
          attempt: r.attempt,
          schedulerId: r.schedulerId,
        }));
        const finished = await host.reportAbandonedRuns(this.#alias, runs);
        // Reported: only now are the claims gone, with their history rows and retries (a death
        // before this leaves them to report again).
        await backend.completeRuns(finished);
      }
    } catch (error) {
      host.logger.warn(
        { err: error, jobstore: this.#alias },
        `Job store ${JSON.stringify(this.#alias)}: heartbeat failed`,
      );
    }
  }

  /**
   * Restores a row, from the cache when its state is unchanged. A row this code cannot restore is
   * reported (once per state) and given back marked `broken`, without a function.
   */
  async #restore(row: JobRow): Promise<Job> {
    const job = await this.#tryRestore(row);
    if (job instanceof Job) return job;
    return decodeBrokenJob(this.#scheduler, this.#alias, row, job.error);
  }

  /** Restores a row, or reports it (once per state) and gives back why it failed. */
  async #tryRestore(row: JobRow): Promise<Job | { error: unknown }> {
    const cached = this.#fromCache(row);
    if (cached !== null) return cached;
    try {
      const job = await decodeJob(this.#scheduler, this.#alias, row);
      this.#remember(row, job);
      this.#broken.delete(row.id);
      this.#skipped.delete(row.id);
      return job;
    } catch (error) {
      if (this.#broken.get(row.id) !== row.state) {
        this.#broken.set(row.id, row.state);
        this.#scheduler.reportBrokenJob(row.id, this.#alias, error);
      }
      return { error };
    }
  }

  /** The job of `row` when the cache holds its state (no await: a pass takes many at once). */
  #fromCache(row: JobRow): Job | null {
    const cached = this.#cache.get(row.id);
    if (cached === undefined || cached.state !== row.state) return null;
    this.#cache.delete(row.id);
    this.#cache.set(row.id, cached);
    const job = cached.job.clone();
    job.nextRunTime = row.nextRunTime === null ? null : new Date(row.nextRunTime);
    return job;
  }

  /**
   * Keeps a job restored from `row`, or added or updated as `row` by this process (which is then
   * its state in the store: the first pass that takes it need not restore it). A job of the
   * caller's is kept with arguments of its own (`detach`): the caller may change its objects.
   */
  #remember(row: JobRow, job: Job, detach = false): void {
    const kept = job.clone();
    if (detach) {
      try {
        kept.args = structuredClone(job.args);
      } catch {
        // Arguments the store encodes but structuredClone cannot copy: restored when first taken.
        this.#cache.delete(row.id);
        return;
      }
    }
    this.#cache.delete(row.id);
    this.#cache.set(row.id, { state: row.state, job: kept });
    if (this.#cache.size > JOB_CACHE_LIMIT) {
      this.#cache.delete(this.#cache.keys().next().value as string);
    }
  }

  async #restoreAll(rows: JobRow[]): Promise<Job[]> {
    const jobs: Job[] = [];
    for (const row of rows) jobs.push(await this.#restore(row));
    return jobs;
  }

  /** The job with this id (marked `broken` if this code cannot restore it), or `null`. */
  async lookupJob(id: string): Promise<Job | null> {
    const row = await this.#db.get(id);
    return row === null ? null : this.#restore(row);
  }

  /** Jobs due at `now` that this code can run, earliest first (without taking them). */
  async getDueJobs(now: Date): Promise<Job[]> {
    const jobs: Job[] = [];
    for (const row of await this.#db.due(now.getTime())) {
      const job = await this.#tryRestore(row);
      if (job instanceof Job) jobs.push(job);
    }
    return jobs;
  }

  /** The earliest time a look at this store may find work. */
  async getNextRunTime(): Promise<Date | null> {
    const now = clock.now();
    let next = await this.#db.nextRunTime(now);
    // What is due and free after a pass is a job this process skips: look again a poll later,
    // not at once (a job added meanwhile wakes the scheduler anyway).
    if (next !== null && next <= now && this.#skipped.size > 0) next = now + this.pollIntervalMs;
    return next === null ? null : new Date(next);
  }

  /** Every job, by next run time, paused jobs last; those this code cannot restore marked `broken`. */

  async getAllJobs(): Promise<Job[]> {
    const rows = await this.#db.all();
    // Jobs gone from the store (removed by any process) leave the cache and the broken list.
    const ids = new Set(rows.map((r) => r.id));
    for (const id of this.#cache.keys()) if (!ids.has(id)) this.#cache.delete(id);
    for (const id of this.#broken.keys()) if (!ids.has(id)) this.#broken.delete(id);
    return this.#restoreAll(rows);
  }

  /** How many restored jobs this store keeps for reuse (at most `JOB_CACHE_LIMIT`). */
  get cachedJobCount(): number {
    return this.#cache.size;
  }

  /** How many jobs the store holds (rows read, not restored). */
  async countJobs(): Promise<number> {
    return (await this.#db.all()).length;
  }

  /** Checks that the job can be stored: a task reference, storable arguments and trigger. */
  async validateJob(job: Job): Promise<void> {
    encodeJob(job);
  }

  /**
   * Adds a job; rejects with `ConflictingIdError` if its id exists. Adds made at the same time
   * are written together; each call still settles on its own job's outcome.
   */
  async addJob(job: Job): Promise<void> {
    const row = encodeJob(job);
    if (this.#backend === null) throw new SchedulerNotRunningError();
    return new Promise<void>((resolve, reject) => {
      this.#adds.push({ row, job, resolve, reject });
      if (this.#adds.length >= MAX_BATCH) {
        this.#flushAdds();
      } else if (!this.#flushAsked) {
        this.#flushAsked = true;
        // A tick callback queued here runs once the microtasks under way have run, so a burst
        // of adds (`Promise.all` over many addJob calls) is all queued by then; it is not a
        // timer, so it costs no wait and runs under fake timers too.
        process.nextTick(() => {
          this.#flushAsked = false;
          this.#flushAdds();
        });
      }
    });
  }

  /** Writes the queued adds as one batch. */
  #flushAdds(): void {
    if (this.#adds.length === 0) return;
    const adds = this.#adds;
    this.#adds = [];
    const batch = this.#writeBatch(adds).finally(() => this.#batches.delete(batch));
    this.#batches.add(batch);
  }

  /** Writes one batch and settles each add of it; never rejects. */
  async #writeBatch(adds: QueuedAdd[]): Promise<void> {
    let inserted: boolean[];
    try {
      inserted = await this.#db.insertMany(adds.map((a) => a.row));
    } catch (error) {
      for (const add of adds) add.reject(error);
      return;
    }
    let added = false;
    adds.forEach((add, i) => {
      if (inserted[i] === true) {
        added = true;
        this.#remember(add.row, add.job, true);
        add.resolve();
      } else {
        add.reject(new ConflictingIdError(add.row.id));
      }
    });
    if (added) this.#changed();
  }

  /** Replaces a job; rejects with `JobLookupError` if there is none. */
  async updateJob(job: Job): Promise<void> {
    const row = encodeJob(job);
    if (!(await this.#db.update(row))) throw new JobLookupError(job.id);
    this.#remember(row, job, true);
    // Changed: a job skipped as broken is looked at afresh.
    this.#skipped.delete(job.id);
    this.#changed();
  }

  /** Removes a job; rejects with `JobLookupError` if there is none. */
  async removeJob(id: string): Promise<void> {
    if (!(await this.#db.remove(id))) throw new JobLookupError(id);
    this.#cache.delete(id);
    this.#skipped.delete(id);
    this.#changed();
  }

  /** Removes every job. */
  async removeAllJobs(): Promise<void> {
    await this.#db.removeAll();
    this.#cache.clear();
    this.#skipped.clear();
    this.#changed();
  }

  /**
   * Takes due jobs under this scheduler's lease. A row this code cannot restore is released at
   * once (and other processes told), and not taken again for now (see `Skipped`).
   */
  async acquireDueJobs(now: Date, limit: number): Promise<AcquiredJob[]> {
    const owner = this.#scheduler.schedulerId;
    await this.#recover(owner);
    const skip = await this.#stillSkipped(clock.now());
    // The lease runs from the moment of taking, not from `now` (the pass's due cutoff): a long
    // pass must not take jobs under leases that have already run out.
    const rows = await this.#acquire(owner, now.getTime(), clock.now() + this.#leaseMs, limit, skip);
    const acquired: AcquiredJob[] = [];
    const giveBack: ReleaseRow[] = [];
    for (const row of rows) {
      const job = this.#fromCache(row) ?? (await this.#tryRestore(row));
      if (job instanceof Job) {
        acquired.push({ job, token: row.token });
        continue;
      }
      giveBack.push({
        id: row.id,
        token: row.token,
        nextRunTime: row.nextRunTime,
        remove: false,
        runTimes: [],
      });
      const at = clock.now();
      this.#skipped.set(row.id, {
        state: row.state,
        nextRunTime: row.nextRunTime,
        recheckAt: Math.max(at, row.nextRunTime ?? at) + this.#leaseMs,
        retryAt: at + this.pollIntervalMs,
      });
    }
    if (giveBack.length > 0) {
      await this.#release(owner, giveBack);
      this.#changed();
    }
    return acquired;
  }

  /**
   * Has the backend undo what calls whose reply was lost may have left behind, before the next
   * acquisition: the run claims of a failed release or take of retries are given up (nobody runs
   * them; reported as abandoned, they are tried again if their job says so). What is undone is
   * forgotten only once the backend confirms; a failure here fails the call, to try again.
   */
  async #recover(owner: string): Promise<void> {
    const runs = this.#doubtfulRuns;
    if (runs.length > 0) {
      await this.#db.giveUpClaims(owner, runs);
      // Only appended to meanwhile: what was given up is its beginning.
      this.#doubtfulRuns = this.#doubtfulRuns.slice(runs.length);
    }
    const takes = this.#doubtfulTakes;
    if (takes.length > 0) {
      await this.#db.giveUpTaken(owner, takes);
      this.#doubtfulTakes = this.#doubtfulTakes.slice(takes.length);
    }
  }

  /**
   * `acquire`, taking back this scheduler's own leases when some may be left over (see
   * `#retakeOwn` and `#leased`). A failed call may have been applied: the next one takes back.
   */
  async #acquire(
    owner: string,
    now: number,
    leaseUntil: number,
    limit: number,
    skip: string[],
  ): Promise<AcquiredRow[]> {
    const retakeOwn = this.#retakeOwn || this.#leased.size > 0;
    const failures = this.#failures;
    let rows: AcquiredRow[];
    try {
      rows = await this.#db.acquire(owner, now, leaseUntil, limit, skip, retakeOwn);
    } catch (error) {
      this.#retakeOwn = true;
      this.#failures++;
      throw error;
    }
    // Own leases this call did not take back (not due any more, beyond the limit) end in time.
    if (this.#failures === failures) this.#retakeOwn = false;
    this.#leased = new Map(rows.map((r) => [r.id, r.token]));
    return rows;
  }

  /**
   * `release`. A failed call may have been applied: its jobs may still be leased to this
   * scheduler (the next acquire takes them back), and the run claims it asked for may exist
   * with nobody to run them (given up before the next acquisition).
   */
  async #release(owner: string, rows: ReleaseRow[]): Promise<Array<boolean[] | null>> {
    for (const r of rows) if (this.#leased.get(r.id) === r.token) this.#leased.delete(r.id);
    let results: Array<boolean[] | null>;
    try {
      results = await this.#db.release(owner, rows, clock.now() + this.#leaseMs);
    } catch (error) {
      this.#retakeOwn = true;
      this.#failures++;
      for (const r of rows)
        for (const runTime of r.runTimes) this.#doubtfulRuns.push({ jobId: r.id, runTime });
      throw error;
    }
    return results;
  }

  /**
   * `takeRetries`, named by a call id. A failed call may have been applied: the claims it may
   * have made are given up before the next acquisition.
   */
  async #takeRetries(
    owner: string,
    now: number,
    claimUntil: number,
    limit: number,
    skip: string[],
  ): Promise<TakenRetry[]> {
    const callId = `${this.#instance}:${++this.#takeCount}`;
    try {
      return await this.#db.takeRetries(owner, now, claimUntil, limit, skip, callId);
    } catch (error) {
      this.#doubtfulTakes.push(callId);
      throw error;
    }
  }

  /** The ids of broken jobs not to take now; drops those that may be taken again. */
  async #stillSkipped(now: number): Promise<string[]> {
    const skip: string[] = [];
    for (const [id, entry] of this.#skipped) {
      if (now >= entry.retryAt) {
        // Its task may have appeared (registerTask, a deployed module).
        entry.retryAt = now + this.pollIntervalMs;
        const job = await this.#tryRestore({ id, nextRunTime: entry.nextRunTime, state: entry.state });
        if (job instanceof Job) continue;
      }
      if (now >= entry.recheckAt) {
        const row = await this.#db.get(id);
        if (row === null || row.state !== entry.state || row.nextRunTime === entry.nextRunTime) {
          // Gone, changed, or not run elsewhere since: nobody is kept from it by taking it.
          this.#skipped.delete(id);
          continue;
        }
        // Run elsewhere: keep leaving it to the others.
        entry.nextRunTime = row.nextRunTime;
        entry.recheckAt = Math.max(now, row.nextRunTime ?? now) + this.#leaseMs;
      }
      skip.push(id);
    }
    return skip;
  }

  /** Stores a pass's decisions and claims its run times, fenced by the acquisition tokens. */
  async releaseJobs(releases: JobRelease[]): Promise<Array<Date[] | null>> {
    if (releases.length === 0) return [];
    const rows = releases.map((r) => ({
      id: r.id,
      token: r.token,
      nextRunTime: r.remove || r.nextRunTime === null ? null : r.nextRunTime.getTime(),
      remove: r.remove,
      runTimes: r.runTimes.map((t) => t.getTime()),
    }));
    const results = await this.#release(this.#scheduler.schedulerId, rows);
    return releases.map((r, i) => {
      if (r.remove) this.#cache.delete(r.id);
      const flags = results[i];
      if (flags === null) return null;
      return flags.every(Boolean) ? r.runTimes : r.runTimes.filter((_, k) => flags[k]);
    });
  }

  /**
   * Marks claimed runs as finished, writing their history rows and retries with them (only for
   * claims still there: each attempt is written by one process).
   */
  async completeRuns(runs: FinishedRunRow[]): Promise<void> {
    if (runs.length === 0) return;
    for (const run of runs) {
      if (run.retry === undefined || run.job === undefined || run.retry.state !== undefined) continue;
      // The retry runs from this state when the job is gone (its trigger ended) by then.
      try {
        run.retry.state = encodeJob(run.job).state;
      } catch {
        run.retry.state = null;
      }
    }
    await this.#db.completeRuns(runs);
    if (runs.some((r) => r.retry !== undefined)) this.#changed();
  }

  /**
   * Takes due retries, each claimed for this scheduler (by exactly one scheduler). A retry of a
   * job this code cannot restore goes back to wait for a process that can, as a due job does.
   */
  async acquireRetries(now: Date, limit: number): Promise<AcquiredRetry[]> {
    const owner = this.#scheduler.schedulerId;
    await this.#recover(owner);
    const skip = await this.#stillSkipped(clock.now());
    const until = clock.now() + this.#leaseMs;
    const taken = await this.#takeRetries(owner, now.getTime(), until, limit, skip);
    const out: AcquiredRetry[] = [];
    const giveBack: FinishedRunRow[] = [];
    for (const t of taken) {
      const job = await this.#tryRestore(t.row);
      if (job instanceof Job) {
        out.push({ job, runTime: new Date(t.runTime), attempt: t.attempt, givenBack: isGivenBack(t) });
        continue;
      }
      // Reported as broken already. Its claim goes, so it is not reported as abandoned, and it
      // waits again, holding the state it was taken with.
      const at = clock.now();
      giveBack.push({
        jobId: t.row.id,
        runTime: t.runTime,
        attempt: t.attempt,
        retry: {
          jobId: t.row.id,
          runTime: t.runTime,
          attempt: t.attempt,
          // A first attempt keeps its due time, which says what it is (see `RetryRow`).
          dueAt: t.attempt === 1 ? t.dueAt : at,
          state: t.row.state,
        },
      });
      this.#skipped.set(t.row.id, {
        state: t.row.state,
        nextRunTime: t.row.nextRunTime,
        recheckAt: Math.max(at, t.row.nextRunTime ?? at) + this.#leaseMs,
        retryAt: at + this.pollIntervalMs,
      });
    }
    if (giveBack.length > 0) {
      await this.#db.completeRuns(giveBack);
      this.#changed();
    }
    return out;
  }

  /** Queues one run of job `id` outside its schedule, taken like a retry by one scheduler. */
  async queueRun(id: string, runTime: Date): Promise<boolean> {
    const at = runTime.getTime();
    // Due now, at or before its run time (see `RetryRow`).
    const dueAt = Math.min(at, clock.now());
    const result = await this.#db.queueRun({ jobId: id, runTime: at, attempt: 1, dueAt });
    if (result === 'no_job') throw new JobLookupError(id);
    if (result === 'paused') throw new JobPausedError(id);
    if (result === 'exists') return false;
    this.#changed();
    return true;
  }

  /** History rows, newest first. */
  async getRuns(query: RunQueryRow): Promise<RunRecordRow[]> {
    return this.#db.runs(query);
  }

  /** The newest history row of each of these jobs that has one: one query per 1,000 jobs. */
  async getLatestRuns(jobIds: readonly string[]): Promise<RunRecordRow[]> {
    const out: RunRecordRow[] = [];
    for (let i = 0; i < jobIds.length; i += MAX_BATCH) {
      out.push(...(await this.#db.latestRuns(jobIds.slice(i, i + MAX_BATCH))));
    }
    return out;
  }

  /** Deletes old history rows in batches of `PRUNE_BATCH`; resolves to how many went. */
  async pruneRuns(before: number, maxPerJob: number): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = await this.#db.pruneRuns(before, maxPerJob, PRUNE_BATCH);
      total += deleted;
      if (deleted < PRUNE_BATCH || this.#backend === null) return total;
    }
  }
}
