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
 */
import { describeValue } from '../describe.js';
import { asyncDispose } from '../dispose.js';
import { ConflictingIdError, JobLookupError, SchedulerNotRunningError } from '../errors.js';
import type { Job } from '../job.js';
import { clock, type TimerHandle } from '../time/clock.js';
import type { StoreBackend } from './backend.js';
import type { AbandonedRun, AcquiredJob, JobRelease, JobStore, StoreHost } from './base.js';
import { decodeJob, encodeJob, type JobRow } from './state.js';

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
}

function checkPositiveSeconds(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`Expected ${name} to be a number of seconds above 0, got ${describeValue(value)}`);
  }
  return value;
}

/** Checks that `options` is an object with only `known` keys; returns it. */
export function checkStoreOptions<T extends object>(options: unknown, store: string, known: string[]): T {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`Expected ${store} options to be an object, got ${describeValue(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key) && key !== 'leaseTime' && key !== 'pollInterval') {
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

/** An add waiting for its batch. */
interface QueuedAdd {
  row: JobRow;
  resolve: () => void;
  reject: (error: unknown) => void;
}

// Most rows written in one batch: a larger burst is written as several.
const MAX_BATCH = 1_000;
// Wake-up hints are sent at most once per this many milliseconds.
const HINT_WINDOW_MS = 20;

/** The base of SqliteJobStore, PostgresJobStore and RedisJobStore. */
export abstract class PersistentJobStore implements JobStore {
  readonly #leaseMs: number;
  /** Longest sleep between looks at this store, in milliseconds. */
  readonly pollIntervalMs: number;
  #backend: StoreBackend | null = null;
  #host: StoreHost | null = null;
  #alias = 'default';
  #heartbeat: TimerHandle | null = null;
  // Restored jobs by id, reused while their stored state is unchanged.
  readonly #cache = new Map<string, Cached>();
  // Rows this process could not restore, by id with the state that failed: reported once.
  readonly #broken = new Map<string, string>();
  // Adds waiting for the next batch, whether a batch write is already asked for, and the
  // batches being written.
  #adds: QueuedAdd[] = [];
  #flushAsked = false;
  readonly #batches = new Set<Promise<void>>();
  // The open hint window's timer, and whether a change came in during it.
  #hintWindow: TimerHandle | null = null;
  #hintOwed = false;

  constructor(options: PersistentStoreOptions) {
    this.#leaseMs = checkPositiveSeconds(options.leaseTime, 'leaseTime', 30) * 1000;
    this.pollIntervalMs = checkPositiveSeconds(options.pollInterval, 'pollInterval', 1) * 1000;
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
    this.#cache.clear();
    if (backend.listen !== undefined) {
      try {
        await backend.listen(() => host.wakeup());
      } catch (error) {
        host.logger.warn(
          `Job store ${JSON.stringify(alias)}: wake-up hints unavailable, polling only`,
          error,
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
        this.#beat().finally(() => {
          if (this.#backend !== null) this.#armHeartbeat();
        });
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
          schedulerId: r.schedulerId,
        }));
        host.reportAbandonedRuns(this.#alias, runs);
        // Reported: only now are the claims gone (a death before this leaves them to report again).
        await backend.completeRuns(abandoned);
      }
    } catch (error) {
      host.logger.warn(`Job store ${JSON.stringify(this.#alias)}: heartbeat failed`, error);
    }
  }

  /** Restores a row, from the cache when its state is unchanged; `null` (reported) if broken. */
  async #restore(row: JobRow): Promise<Job | null> {
    const cached = this.#cache.get(row.id);
    if (cached !== undefined && cached.state === row.state) {
      const job = cached.job.clone();
      job.nextRunTime = row.nextRunTime === null ? null : new Date(row.nextRunTime);
      return job;
    }
    try {
      const job = await decodeJob(this.#scheduler, this.#alias, row);
      this.#cache.set(row.id, { state: row.state, job: job.clone() });
      this.#broken.delete(row.id);
      return job;
    } catch (error) {
      if (this.#broken.get(row.id) !== row.state) {
        this.#broken.set(row.id, row.state);
        this.#scheduler.reportBrokenJob(row.id, this.#alias, error);
      }
      return null;
    }
  }

  async #restoreAll(rows: JobRow[]): Promise<Job[]> {
    const jobs: Job[] = [];
    for (const row of rows) {
      const job = await this.#restore(row);
      if (job !== null) jobs.push(job);
    }
    return jobs;
  }

  /** The job with this id, or `null` (also for a stored job this code cannot restore). */
  async lookupJob(id: string): Promise<Job | null> {
    const row = await this.#db.get(id);
    return row === null ? null : this.#restore(row);
  }

  /** Jobs due at `now`, earliest first (without taking them). */
  async getDueJobs(now: Date): Promise<Job[]> {
    return this.#restoreAll(await this.#db.due(now.getTime()));
  }

  /** The earliest time a look at this store may find work. */
  async getNextRunTime(): Promise<Date | null> {
    const next = await this.#db.nextRunTime(clock.now());
    return next === null ? null : new Date(next);
  }

  /** Every job this code can restore, by next run time, paused jobs last. */
  async getAllJobs(): Promise<Job[]> {
    return this.#restoreAll(await this.#db.all());
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
      this.#adds.push({ row, resolve, reject });
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
        add.resolve();
      } else {
        add.reject(new ConflictingIdError(add.row.id));
      }
    });
    if (added) this.#changed();
  }

  /** Replaces a job; rejects with `JobLookupError` if there is none. */
  async updateJob(job: Job): Promise<void> {
    if (!(await this.#db.update(encodeJob(job)))) throw new JobLookupError(job.id);
    this.#changed();
  }

  /** Removes a job; rejects with `JobLookupError` if there is none. */
  async removeJob(id: string): Promise<void> {
    if (!(await this.#db.remove(id))) throw new JobLookupError(id);
    this.#cache.delete(id);
    this.#changed();
  }

  /** Removes every job. */
  async removeAllJobs(): Promise<void> {
    await this.#db.removeAll();
    this.#cache.clear();
    this.#changed();
  }

  /** Takes due jobs under this scheduler's lease. Rows this code cannot restore stay leased. */
  async acquireDueJobs(now: Date, limit: number): Promise<AcquiredJob[]> {
    // The lease runs from the moment of taking, not from `now` (the pass's due cutoff): a long
    // pass must not take jobs under leases that have already run out.
    const rows = await this.#db.acquire(
      this.#scheduler.schedulerId,
      now.getTime(),
      clock.now() + this.#leaseMs,
      limit,
    );
    const acquired: AcquiredJob[] = [];
    for (const row of rows) {
      const job = await this.#restore(row);
      if (job !== null) acquired.push({ job, token: row.token });
    }
    return acquired;
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
    const results = await this.#db.release(this.#scheduler.schedulerId, rows, clock.now() + this.#leaseMs);
    return releases.map((r, i) => {
      if (r.remove) this.#cache.delete(r.id);
      const flags = results[i];
      if (flags === null) return null;
      return flags.every(Boolean) ? r.runTimes : r.runTimes.filter((_, k) => flags[k]);
    });
  }

  /** Marks claimed runs as finished. */
  async completeRuns(runs: Array<{ jobId: string; runTime: Date }>): Promise<void> {
    if (runs.length === 0) return;
    await this.#db.completeRuns(runs.map((r) => ({ jobId: r.jobId, runTime: r.runTime.getTime() })));
  }
}
