/**
 * BaseExecutor: what every executor shares: `maxInstances` counting, the misfire check when a
 * run starts, timeouts and aborts, a concurrency limit with a FIFO queue, and reporting results
 * as events. Subclasses say how one run is carried out (`runJob`).
 *
 * Over 400 lines because the hot path of a run (submit, start, settle, release, report) is kept
 * in one class with private fields, so that the common case (one run time, no timeout) runs
 * without extra frames or allocations; splitting it would put that path behind public methods.
 */
import { asyncDispose } from '../dispose.js';
import { JobTimeoutError, MaxInstancesReachedError, ShutdownAbortError } from '../errors.js';
import { EVENT_CODES } from '../events.js';
import type { Job } from '../job.js';
import { nextTryAt } from '../retry.js';
import { eventOf } from '../scheduler/event-hub.js';
import { isPastGrace } from '../scheduler/run-rules.js';
import { afterDuration, clock } from '../time/clock.js';
import type { Executor, ExecutorHost, RunEnd } from './base.js';
import { getJobContext } from './context.js';
import type { JobContext } from './worker-context.js';

const noop = (): void => {};

/**
 * One run's context (`getJobContext()`). Its AbortController is made on demand: most runs never
 * look at their signal.
 */
export class RunContext implements JobContext {
  #controller: AbortController | null = null;
  #reason: unknown = undefined;
  #aborted = false;
  #onAbort: ((reason: unknown) => void) | null = null;

  constructor(
    readonly jobId: string,
    readonly scheduledRunTime: Date,
    readonly attempt = 1,
  ) {}

  get signal(): AbortSignal {
    if (this.#controller === null) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Whether this run was aborted already (timeout or shutdown). */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** Why the run was aborted (`undefined` while it is not). */
  get abortReason(): unknown {
    return this.#reason;
  }

  /**
   * Calls `listener` once if the run is aborted (telemetry ends its span then), without making
   * the signal; `null` removes it. One listener at a time.
   */
  onAbort(listener: ((reason: unknown) => void) | null): void {
    this.#onAbort = listener;
  }

  /** Aborts the run's signal with `reason` (the first reason wins). */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    const listener = this.#onAbort;
    this.#onAbort = null;
    listener?.(reason);
  }
}

/** The base of every executor; subclasses implement `runJob`. */
export abstract class BaseExecutor implements Executor {
  /** The scheduler this executor reports to, once started. */
  protected host: ExecutorHost | null = null;
  /** The executor's alias in its scheduler. */
  protected alias = 'default';
  /** Most runs at once (the rest wait in a FIFO queue); `Infinity` when the subclass queues. */
  protected concurrency = Number.POSITIVE_INFINITY;
  readonly #instances = new Map<string, number>();
  // Queued runs, flat: job, runTimes, attempt, job, runTimes, attempt, ...
  readonly #queue: Array<Job | Date[] | number> = [];
  #queueHead = 0;
  #active = 0;
  // Moving mean of how long an instance took, in ms (null before the first one ended).
  #meanRunMs: number | null = null;
  #draining = false;
  readonly #running = new Set<RunContext>();
  // Waiters for the end of every run but the ones `exclude` counts (the caller's own run).
  #idle: Array<{ resolve: () => void; exclude: number }> = [];

  /** Called by the scheduler when it starts. */
  async start(host: ExecutorHost, alias: string): Promise<void> {
    this.host = host;
    this.alias = alias;
  }

  /**
   * Waits for running and queued runs (`wait`), or aborts them; resolves to the number of runs
   * cut short (running ones aborted plus queued ones dropped; 0 when waiting).
   */
  async shutdown(wait = true): Promise<number> {
    if (!wait) {
      const reason = new ShutdownAbortError();
      let cutShort = 0;
      for (const run of this.#running) {
        if (run.aborted) continue;
        run.abort(reason);
        cutShort++;
      }
      // Queued runs never start.
      for (let i = this.#queueHead; i < this.#queue.length; i += 3) {
        const runTimes = this.#queue[i + 1] as Date[];
        cutShort += runTimes.length;
        this.#release(this.#queue[i] as Job, runTimes, this.#queue[i + 2] as number, undefined);
      }
      this.#queue.length = 0;
      this.#queueHead = 0;
      return cutShort;
    }
    // Called from inside one of this executor's runs (a job shutting its scheduler down): that
    // run cannot end before this returns, so it is not waited for.
    const caller = getJobContext();
    const exclude = caller instanceof RunContext && this.#running.has(caller) ? 1 : 0;
    if (this.#active <= exclude && this.#queueHead >= this.#queue.length) return 0;
    await new Promise<void>((resolve) => this.#idle.push({ resolve, exclude }));
    return 0;
  }

  /** `await using executor = ...`: waits for its runs, as `shutdown()`. */
  async [asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  /** Most runs this executor runs at once (`freeSlots` counts from it); `concurrency` by default. */
  protected get slots(): number {
    return this.concurrency;
  }

  /**
   * How many more runs could start within `withinMs` ms: free slots now, plus each slot's turns
   * in that time at the mean duration of recent instances, less the runs waiting in the queue.
   * Never below 0; `Infinity` when the executor has no limit or its runs take no time.
   */
  freeSlots(withinMs = 0): number {
    const slots = this.slots;
    if (slots === Number.POSITIVE_INFINITY) return slots;
    const queued = (this.#queue.length - this.#queueHead) / 3;
    let turns = 0;
    if (withinMs > 0 && this.#meanRunMs !== null) {
      turns =
        this.#meanRunMs === 0 ? Number.POSITIVE_INFINITY : Math.floor((slots * withinMs) / this.#meanRunMs);
    }
    return Math.max(0, slots - this.#active - queued + turns);
  }

  /** The mean duration of recent instances in ms (a moving mean), `null` before the first ends. */
  meanRunMs(): number | null {
    return this.#meanRunMs;
  }

  /** Runs in progress or queued, per job id (for `maxInstances`). */
  instancesOf(jobId: string): number {
    return this.#instances.get(jobId) ?? 0;
  }

  /** Runs `job` once per run time, in one instance; throws when `maxInstances` is reached. */
  submitJob(job: Job, runTimes: Date[], attempt = 1): void {
    const instances = this.#instances.get(job.id) ?? 0;
    if (instances >= job.maxInstances) throw new MaxInstancesReachedError(job.id, job.maxInstances);
    this.#instances.set(job.id, instances + 1);
    // Runs start on a microtask: the scheduler reports job_submitted first, and user code never
    // runs inside its processing pass.
    this.#queue.push(job, runTimes, attempt);
    if (!this.#drainQueued) {
      this.#drainQueued = true;
      queueMicrotask(this.#drainSoon);
    }
  }

  #drainQueued = false;
  readonly #drainSoon = (): void => {
    this.#drainQueued = false;
    this.#drain();
  };

  /**
   * Carries out one run of `job` for `runTime`: returns (or resolves to) what the job returned,
   * throws (or rejects with) what it threw. `context.signal` aborts on timeout and on
   * `shutdown({ wait: false })`.
   */
  protected abstract runJob(job: Job, runTime: Date, context: RunContext): unknown;

  /** `runJob`, inside a span when telemetry is on. */
  #invoke(job: Job, runTime: Date, run: RunContext): unknown {
    const telemetry = this.host?.telemetry;
    if (telemetry === null || telemetry === undefined) return this.runJob(job, runTime, run);
    return telemetry.traceRun(job, runTime, run, () => this.runJob(job, runTime, run));
  }

  readonly #finished = (): void => {
    this.#active--;
    this.#drain();
  };

  #launch(job: Job, runTimes: Date[], attempt: number): void {
    this.#active++;
    const started = clock.now();
    const pending = this.#runInstance(job, runTimes, attempt);
    if (pending === null) {
      this.#observe(clock.now() - started);
      this.#finished();
    } else {
      pending.then(() => {
        this.#observe(clock.now() - started);
        this.#finished();
      });
    }
  }

  /** Folds one instance's duration into the moving mean. */
  #observe(ms: number): void {
    const mean = this.#meanRunMs;
    this.#meanRunMs = mean === null ? ms : mean + (ms - mean) / 8;
  }

  /** Starts queued runs while there is room (a loop, since runs may finish synchronously). */
  #drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    try {
      const queue = this.#queue;
      while (this.#queueHead < queue.length && this.#active < this.concurrency) {
        const job = queue[this.#queueHead] as Job;
        const runTimes = queue[this.#queueHead + 1] as Date[];
        const attempt = queue[this.#queueHead + 2] as number;
        queue[this.#queueHead] = queue[this.#queueHead + 1] = queue[this.#queueHead + 2] = 0;
        this.#queueHead += 3;
        this.#launch(job, runTimes, attempt);
      }
      if (this.#queueHead >= queue.length) {
        queue.length = 0;
        this.#queueHead = 0;
      } else if (this.#queueHead > 6144 && this.#queueHead * 2 > queue.length) {
        queue.splice(0, this.#queueHead);
        this.#queueHead = 0;
      }
    } finally {
      this.#draining = false;
    }
    if (this.#idle.length > 0 && this.#queueHead >= this.#queue.length) {
      const done = this.#idle.filter((w) => this.#active <= w.exclude);
      if (done.length > 0) {
        this.#idle = this.#idle.filter((w) => this.#active > w.exclude);
        for (const waiter of done) waiter.resolve();
      }
    }
  }

  /** One instance is over: frees its place under `maxInstances` and tells the scheduler. */
  #release(job: Job, runTimes: Date[], attempt: number, outcomes: RunEnd[] | undefined): void {
    const left = (this.#instances.get(job.id) ?? 1) - 1;
    if (left === 0) this.#instances.delete(job.id);
    else this.#instances.set(job.id, left);
    this.host?.runFinished?.(job, runTimes, attempt, outcomes);
  }

  /**
   * Whether a run starts too late to run (a retry never is: its fire time is past by design);
   * reports it when so, and adds its outcome to `outcomes`.
   */
  #isMissed(job: Job, runTime: Date, attempt: number, outcomes: RunEnd[] | undefined): boolean {
    if (attempt > 1 || !isPastGrace(job, runTime.getTime(), clock.now())) return false;
    this.#emitMissed(job, runTime, attempt);
    this.host?.logger.warn(
      { jobId: job.id, scheduledRunTime: runTime },
      `Run time of job "${job.id}" was missed by more than ${job.misfireGraceTime} s`,
    );
    outcomes?.push({ runTime, outcome: 'missed', startedAt: null, finishedAt: clock.now(), retryAt: null });
    return true;
  }

  /**
   * Adds the outcome of a run that ended to `outcomes` (when the scheduler records runs);
   * returns when it is tried again (epoch ms), or `null`.
   */
  #outcome(
    job: Job,
    runTime: Date,
    attempt: number,
    startedAt: number,
    finishedAt: number,
    ok: boolean,
    value: unknown,
    outcomes: RunEnd[] | undefined,
  ): number | null {
    if (ok) {
      outcomes?.push({ runTime, outcome: 'success', startedAt, finishedAt, retval: value, retryAt: null });
      return null;
    }
    const outcome = value instanceof JobTimeoutError ? 'timeout' : 'error';
    const retryAt = job.retry === null ? null : nextTryAt(job.retry, attempt, outcome, finishedAt);
    outcomes?.push({ runTime, outcome, startedAt, finishedAt, error: value, retryAt });
    return retryAt;
  }

  /** A run's events: `job_executed`, or `job_error` (with `willRetry`) and then `job_retry`. */
  #report(
    job: Job,
    runTime: Date,
    attempt: number,
    startedAt: number,
    finishedAt: number,
    ok: boolean,
    value: unknown,
    retryAt: number | null,
  ): void {
    if (ok) {
      this.#emitEnded('job_executed', job, runTime, attempt, startedAt, finishedAt, value, null);
      return;
    }
    this.host?.logger.error(
      { err: value, jobId: job.id, scheduledRunTime: runTime, attempt },
      retryAt === null
        ? `Job "${job.id}" raised an error`
        : `Job "${job.id}" raised an error (attempt ${attempt}); trying again at ${new Date(retryAt).toISOString()}`,
    );
    this.#emitEnded('job_error', job, runTime, attempt, startedAt, finishedAt, value, retryAt);
    if (retryAt !== null) {
      const host = this.host;
      if (host?.wantsEvent(EVENT_CODES.job_retry)) {
        host.dispatchEvent(
          eventOf('job_retry', host.schedulerId, {
            jobId: job.id,
            jobstore: job.jobstore,
            scheduledRunTime: runTime,
            attempt: attempt + 1,
            error: value,
            nextRunTime: new Date(retryAt),
          }),
        );
      }
    }
  }

  /** One instance: `null` when it finished synchronously, else a promise of its end. */
  #runInstance(job: Job, runTimes: Date[], attempt: number): Promise<void> | null {
    if (runTimes.length !== 1 || job.timeout !== null) return this.#runInstanceSlow(job, runTimes, attempt);
    // The common case, without async frames: one run time, no timeout.
    const runTime = runTimes[0];
    const outcomes = this.host?.recordsRuns === true || job.retry !== null ? [] : undefined;
    if (this.#isMissed(job, runTime, attempt, outcomes)) {
      this.#release(job, runTimes, attempt, outcomes);
      return null;
    }
    const run = new RunContext(job.id, runTime, attempt);
    this.#running.add(run);
    const startedAt = clock.now();
    let result: unknown;
    try {
      result = this.#invoke(job, runTime, run);
    } catch (error) {
      this.#settle(job, runTime, attempt, startedAt, run, false, error, outcomes);
      return null;
    }
    // A returned value is the job's, however hostile: a `then` getter that throws, a `then` that
    // throws or returns nothing, a revoked proxy. Each ends as job_executed or job_error.
    let thenable: boolean;
    try {
      thenable =
        result !== null &&
        (typeof result === 'object' || typeof result === 'function') &&
        typeof (result as Promise<unknown>).then === 'function';
    } catch (error) {
      this.#settle(job, runTime, attempt, startedAt, run, false, error, outcomes);
      return null;
    }
    if (thenable) {
      let adopted: Promise<unknown>;
      try {
        adopted = Promise.resolve(result);
      } catch (error) {
        adopted = Promise.reject(error);
      }
      // The native `then`: a promise may carry a `then` of its own.
      return Promise.prototype.then.call(
        adopted,
        (value) => this.#settle(job, runTime, attempt, startedAt, run, true, value, outcomes),
        (error: unknown) => this.#settle(job, runTime, attempt, startedAt, run, false, error, outcomes),
      ) as Promise<void>;
    }
    this.#settle(job, runTime, attempt, startedAt, run, true, result, outcomes);
    return null;
  }

  #settle(
    job: Job,
    runTime: Date,
    attempt: number,
    startedAt: number,
    run: RunContext,
    ok: boolean,
    value: unknown,
    outcomes: RunEnd[] | undefined,
  ): void {
    this.#running.delete(run);
    // The outcome goes with the instance's end (the scheduler writes its history row and retry
    // with the completion of its claim); the events come once its slot is free.
    const finishedAt = clock.now();
    const retryAt = this.#outcome(job, runTime, attempt, startedAt, finishedAt, ok, value, outcomes);
    this.#release(job, [runTime], attempt, outcomes);
    this.#report(job, runTime, attempt, startedAt, finishedAt, ok, value, retryAt);
  }

  async #runInstanceSlow(job: Job, runTimes: Date[], attempt: number): Promise<void> {
    const outcomes = this.host?.recordsRuns === true || job.retry !== null ? [] : undefined;
    try {
      for (const runTime of runTimes) {
        if (this.#isMissed(job, runTime, attempt, outcomes)) continue;
        await this.#runOnce(job, runTime, attempt, outcomes);
      }
    } catch (error) {
      // Only a bug in reporting gets here; keep the executor going.
      this.host?.logger.error({ err: error, jobId: job.id }, 'Executor failed while reporting a run');
    } finally {
      this.#release(job, runTimes, attempt, outcomes);
    }
  }

  async #runOnce(job: Job, runTime: Date, attempt: number, outcomes: RunEnd[] | undefined): Promise<void> {
    const run = new RunContext(job.id, runTime, attempt);
    this.#running.add(run);
    let cancelTimeout: (() => void) | null = null;
    // With a timeout: the run's own end, which the instance waits for even after its timeout is
    // reported, so it keeps its maxInstances slot (and shutdown waits) while its code still runs.
    let ended: Promise<unknown> | null = null;
    const startedAt = clock.now();
    try {
      let result: Promise<unknown>;
      try {
        result = Promise.resolve(this.#invoke(job, runTime, run));
      } catch (error) {
        result = Promise.reject(error);
      }
      if (job.timeout !== null) {
        ended = result.then(noop, noop);
        const timeout = job.timeout;
        result = Promise.race([
          result,
          new Promise<never>((_, reject) => {
            cancelTimeout = afterDuration(
              timeout * 1000,
              () => {
                const error = new JobTimeoutError(job.id, timeout);
                run.abort(error);
                reject(error);
              },
              true,
            );
          }),
        ]);
      }
      let ok = true;
      let value: unknown;
      try {
        value = await result;
      } catch (error) {
        ok = false;
        value = error;
      }
      const finishedAt = clock.now();
      const retryAt = this.#outcome(job, runTime, attempt, startedAt, finishedAt, ok, value, outcomes);
      this.#report(job, runTime, attempt, startedAt, finishedAt, ok, value, retryAt);
    } finally {
      (cancelTimeout as (() => void) | null)?.();
      await ended;
      this.#running.delete(run);
    }
  }

  #emitMissed(job: Job, scheduledRunTime: Date, attempt: number): void {
    const host = this.host;
    if (host === null || !host.wantsEvent(EVENT_CODES.job_missed)) return;
    host.dispatchEvent(
      eventOf('job_missed', host.schedulerId, {
        jobId: job.id,
        jobstore: job.jobstore,
        scheduledRunTime,
        attempt,
        missedCount: 1,
        firstMissedTime: scheduledRunTime,
        lastMissedTime: scheduledRunTime,
      }),
    );
  }

  /** `job_executed` or `job_error`. */
  #emitEnded(
    name: 'job_executed' | 'job_error',
    job: Job,
    scheduledRunTime: Date,
    attempt: number,
    startedAt: number,
    finishedAt: number,
    value: unknown,
    retryAt: number | null,
  ): void {
    const host = this.host;
    if (host === null || !host.wantsEvent(EVENT_CODES[name])) return;
    const { id: jobId, jobstore } = job;
    const event =
      name === 'job_executed'
        ? eventOf(name, host.schedulerId, { jobId, jobstore, scheduledRunTime, attempt, retval: value })
        : eventOf(name, host.schedulerId, {
            jobId,
            jobstore,
            scheduledRunTime,
            attempt,
            error: value,
            willRetry: retryAt !== null,
          });
    // After the name, code and scheduler id, where these events have always had them.
    event.startedAt = new Date(startedAt);
    event.finishedAt = new Date(finishedAt);
    host.dispatchEvent(event);
  }
}
