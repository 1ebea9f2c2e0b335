/**
 * How the ends of runs reach the stores: each instance that ended becomes rows (history row,
 * retry) through the `RunRecorder`, written in batches; runs abandoned by a scheduler that
 * stopped are reported as `job_error` (and `job_retry`) with their rows. A store without claims
 * (in this process) gets its rows a microtask later; a shared store gets them a turn of the event
 * loop later, at most COMPLETE_BATCH a call, and again after `jobstoreRetryInterval` when the
 * write fails, so no claim is left. Each shared store is written on its own, so one whose writes
 * hang or fail holds up no other.
 */
import { JobAbandonedError } from '../errors.js';
import type { EventName, EventPayload } from '../events.js';
import type { RunEnd } from '../executors/base.js';
import type { Job } from '../job.js';
import type { Logger } from '../logger.js';
import type { FinishedRunRow } from '../stores/backend.js';
import type { AbandonedRun, JobStore } from '../stores/base.js';
import { clock, type TimerHandle, yieldToEventLoop } from '../time/clock.js';
import type { RunRecorder } from './history.js';

// Most runs a shared store is given in one call: runs that ended while it was slow to answer go
// in calls of this size, so that a backlog never becomes one call that outlasts the store's query
// timeout (and is tried again, larger, forever) or holds a Redis server for long.
const COMPLETE_BATCH = 2500;
// Most runs of a shared store that may have ended without the store knowing yet (`unrecorded`):
// beyond it the run loop takes no new work from that store until it has caught up, so that a
// process outrunning its store neither grows this backlog without bound nor leaves a crash that
// many runs to report as abandoned.
export const UNRECORDED_LIMIT = 4 * COMPLETE_BATCH;

/** What the reports need from their scheduler. */
export interface RunReportsHost {
  readonly stores: ReadonlyMap<string, JobStore>;
  readonly recorder: RunRecorder;
  logger(): Logger;
  emit<N extends EventName>(name: N, payload: EventPayload<N>): void;
  /** A retry was written: the run loop may have a new due time. */
  wakeup(): void;
  /** A store's unrecorded runs fell below UNRECORDED_LIMIT: a pass held back by them may go on. */
  caughtUp(): void;
  /** Whether the scheduler is stopped (a failed write is then not tried again later). */
  stopped(): boolean;
  retryIntervalMs(): number;
}

/**
 * The ends of runs of one shared store on their way to it. Each store has its own writes and
 * retry timer: a store whose writes hang or fail holds up no other store's, and is tried again
 * when its own runs end or after `jobstoreRetryInterval`.
 */
interface StoreQueue {
  rows: FinishedRunRow[];
  // Its runs that ended and whose end it has not confirmed yet (queued or being written).
  unrecorded: number;
  flushing: Promise<void> | null;
  // Whether the last write failed (rows were left for the next try).
  failed: boolean;
  // The next try of a write that failed.
  retryTimer: TimerHandle | null;
}

/** The ends of runs, on their way to the stores. */
export class RunReports {
  // By store shared with other processes: its rows, written a turn of the event loop later.
  readonly #shared = new Map<JobStore, StoreQueue>();
  // Rows for stores without claims, written once the runs ending together have ended.
  readonly #local = new Map<JobStore, FinishedRunRow[]>();

  constructor(private readonly host: RunReportsHost) {}

  /** Runs of a shared store that ended and whose end it has not yet confirmed. */
  unrecorded(store: JobStore): number {
    return this.#shared.get(store)?.unrecorded ?? 0;
  }

  /** An instance submitted to an executor is over: its rows go to its store. */
  runFinished(job: Job, runTimes: Date[], attempt: number, outcomes: RunEnd[] | undefined): void {
    const store = this.host.stores.get(job.jobstore);
    if (store === undefined) {
      this.host
        .logger()
        .warn(
          { jobId: job.id, jobstore: job.jobstore },
          `Job "${job.id}" ended after its job store ${JSON.stringify(job.jobstore)} was removed: its end is not recorded there`,
        );
      return;
    }
    if (store.completeRuns === undefined) return;
    const rows = this.host.recorder.instanceEnded(job, runTimes, attempt, outcomes);
    if (store.shared === true) {
      this.#queueShared(store, rows);
      return;
    }
    // No claims to end: only history rows and retries are worth a write.
    if (!rows.some((r) => r.record !== undefined || r.retry !== undefined)) return;
    let batch = this.#local.get(store);
    if (batch === undefined) {
      batch = [];
      this.#local.set(store, batch);
      if (this.#local.size === 1) queueMicrotask(this.#writeLocal);
    }
    for (const row of rows) batch.push(row);
  }

  /**
   * Reports runs claimed by a scheduler that stopped before finishing them, as `job_error`
   * (and `job_retry` when the job retries abandoned runs); resolves to what their store writes
   * as their claims go.
   */
  async reportAbandoned(jobstore: string, runs: AbandonedRun[]): Promise<FinishedRunRow[]> {
    if (runs.length === 0) return [];
    // One log line for the batch (a dead scheduler may leave hundreds of claims, and a stack
    // made here says nothing about them); each run still gets its job_error event.
    const first = runs[0];
    const schedulers = [...new Set(runs.map((r) => r.schedulerId))];
    this.host
      .logger()
      .error(
        { jobstore, jobId: first.jobId, scheduledRunTime: first.runTime, runs: runs.length, schedulers },
        runs.length === 1
          ? new JobAbandonedError(first.jobId, first.schedulerId).message
          : `${runs.length} runs were abandoned by ${schedulers.join(', ')}, which stopped before finishing them (first: job "${first.jobId}" at ${first.runTime.toISOString()}); each is reported as job_error`,
      );
    const store = this.host.stores.get(jobstore);
    const jobs = new Map<string, Job | null>();
    const rows: FinishedRunRow[] = [];
    for (const run of runs) {
      const error = new JobAbandonedError(run.jobId, run.schedulerId);
      // The job's name and retry policy, when it is still there.
      if (!jobs.has(run.jobId)) {
        let job: Job | null = null;
        try {
          job = (await store?.lookupJob(run.jobId)) ?? null;
        } catch {}
        jobs.set(run.jobId, job);
      }
      const job = jobs.get(run.jobId) ?? null;
      const { row, retryAt } = this.host.recorder.unstarted(job, run.jobId, {
        runTime: run.runTime,
        attempt: run.attempt,
        outcome: 'abandoned',
        error,
        schedulerId: run.schedulerId,
      });
      rows.push(row);
      const scheduledRunTime = run.runTime;
      this.host.emit('job_error', {
        jobId: run.jobId,
        jobstore,
        scheduledRunTime,
        attempt: run.attempt,
        error,
        willRetry: retryAt !== null,
      });
      if (retryAt !== null) {
        this.host.emit('job_retry', {
          jobId: run.jobId,
          jobstore,
          scheduledRunTime,
          attempt: run.attempt + 1,
          error,
          nextRunTime: new Date(retryAt),
        });
      }
    }
    return rows;
  }

  /**
   * Resolves once every row queued so far is written (or its write failed): the last write of a
   * shutdown, which does not wait for a retry timer. Rows of a store that arrive during another
   * store's write (runs aborted meanwhile) are written too; a store whose write failed is not
   * tried again here.
   */
  async drain(): Promise<void> {
    const failed = new Set<StoreQueue>();
    for (;;) {
      const left = [...this.#shared].filter(
        ([, queue]) => queue.flushing !== null || (queue.rows.length > 0 && !failed.has(queue)),
      );
      if (left.length === 0) return;
      await Promise.all(
        left.map(async ([store, queue]) => {
          await this.#drainStore(store, queue);
          if (queue.failed) failed.add(queue);
        }),
      );
    }
  }

  async #drainStore(store: JobStore, queue: StoreQueue): Promise<void> {
    this.#clearRetry(queue);
    await queue.flushing;
    if (queue.rows.length > 0) await (queue.flushing ??= this.#flush(store, queue));
  }

  /**
   * The store `alias` was taken out of the scheduler (no run ends reach it any more): what is
   * queued for it is written once more (unless the scheduler is stopped, its stores closed), and
   * what that write fails to record is dropped, with an error (its claims run out, and a
   * scheduler on the store then reports those runs as abandoned).
   */
  async storeRemoved(store: JobStore, alias: string): Promise<void> {
    const queue = this.#shared.get(store);
    if (queue === undefined) return;
    // A stopped scheduler starts no write (its stores are closed, or about to be), but the one
    // under way ends first.
    if (this.host.stopped()) await queue.flushing;
    else await this.#drainStore(store, queue);
    this.#clearRetry(queue);
    if (this.#shared.get(store) === queue) this.#shared.delete(store);
    if (queue.rows.length > 0) {
      this.host
        .logger()
        .error(
          { jobstore: alias, runs: queue.rows.length },
          `The ends of ${queue.rows.length} run(s) were not recorded in the job store ${JSON.stringify(alias)}, which was removed; their claims stay until they run out, and then a scheduler on the store reports them as abandoned`,
        );
    }
  }

  readonly #writeLocal = (): void => {
    const batches = [...this.#local];
    this.#local.clear();
    for (const [store, rows] of batches) {
      (store.completeRuns as NonNullable<JobStore['completeRuns']>).call(store, rows).then(
        () => {
          if (rows.some((r) => r.retry !== undefined)) this.host.wakeup();
        },
        (error: unknown) =>
          this.host
            .logger()
            .error(
              { err: error, runs: rows.length },
              'A job store failed to record the end of runs in its history',
            ),
      );
    }
  };

  #queueShared(store: JobStore, rows: FinishedRunRow[]): void {
    let queue = this.#shared.get(store);
    if (queue === undefined) {
      queue = { rows: [], unrecorded: 0, flushing: null, failed: false, retryTimer: null };
      this.#shared.set(store, queue);
    }
    for (const row of rows) queue.rows.push(row);
    queue.unrecorded += rows.length;
    // After a failed write, new rows of the store try it again at once (as does the retry timer):
    // a store that failed once is not left behind for a whole retry interval.
    const q = queue;
    q.flushing ??= yieldToEventLoop().then(() => this.#flush(store, q));
  }

  /**
   * Starts writing the runs queued for shared stores unless a write is under way: at `start()`,
   * for the rows a shutdown's last write failed to write (no retry is armed once stopped).
   */
  writeQueued(): void {
    for (const [store, queue] of this.#shared) {
      if (queue.rows.length > 0) queue.flushing ??= this.#flush(store, queue);
    }
  }

  #clearRetry(queue: StoreQueue): void {
    if (queue.retryTimer === null) return;
    clock.clearTimeout(queue.retryTimer);
    queue.retryTimer = null;
  }

  /**
   * Writes the finished runs queued for `store`, at most COMPLETE_BATCH a call; a failed write
   * is tried again with the store's next rows, or after `jobstoreRetryInterval`. Callers set `queue.flushing` to the promise
   * this returns, which clears it when done: it waits a microtask first, so that it never clears
   * it before the caller has set it (with nothing queued, or a store that throws at once).
   */
  async #flush(store: JobStore, queue: StoreQueue): Promise<void> {
    await null;
    let failed = false;
    try {
      while (queue.rows.length > 0 && !failed) {
        const runs = queue.rows;
        queue.rows = [];
        for (let start = 0; start < runs.length; start += COMPLETE_BATCH) {
          const part = runs.length <= COMPLETE_BATCH ? runs : runs.slice(start, start + COMPLETE_BATCH);
          try {
            await store.completeRuns?.(part);
          } catch (error) {
            failed = true;
            // This part and those after it wait for the next try, before what came
            // meanwhile.
            queue.rows = runs.slice(start).concat(queue.rows);
            this.host
              .logger()
              .warn(
                { err: error },
                this.host.stopped()
                  ? 'Could not mark finished runs in their job store; they are written when the scheduler starts again'
                  : 'Could not mark finished runs in their job store; trying again',
              );
            break;
          }
          const before = queue.unrecorded;
          queue.unrecorded = before - part.length;
          if (before >= UNRECORDED_LIMIT && queue.unrecorded < UNRECORDED_LIMIT) this.host.caughtUp();
          // A retry written is a new due time this scheduler may not know of yet.
          if (part.some((r) => r.retry !== undefined)) this.host.wakeup();
        }
      }
    } finally {
      queue.flushing = null;
      queue.failed = failed;
    }
    if (failed) {
      if (!this.host.stopped() && queue.retryTimer === null) {
        queue.retryTimer = clock.setTimeout(
          () => {
            queue.retryTimer = null;
            queue.flushing ??= this.#flush(store, queue);
          },
          this.host.retryIntervalMs(),
          true,
        );
      }
    } else if (queue.rows.length === 0 && this.#shared.get(store) === queue) {
      this.#clearRetry(queue);
      this.#shared.delete(store);
    }
  }
}
