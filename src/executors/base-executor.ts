/**
 * BaseExecutor: what every executor shares: `maxInstances` counting, the misfire check when a
 * run starts, timeouts and aborts, a concurrency limit with a FIFO queue, and reporting results
 * as events. Subclasses say how one run is carried out (`runJob`).
 */
import { asyncDispose } from '../dispose.js';
import { JobTimeoutError, MaxInstancesReachedError } from '../errors.js';
import { EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED } from '../events.js';
import type { Job } from '../job.js';
import { afterDuration, clock } from '../time/clock.js';
import type { Executor, ExecutorHost } from './base.js';
import { getJobContext } from './context.js';
import type { JobContext } from './worker-context.js';

const noop = (): void => {};

/** Why a run was aborted by `shutdown({ wait: false })`. */
export class ShutdownAbortError extends Error {
  constructor() {
    super('The executor shut down without waiting for this run');
    this.name = 'AbortError';
  }
}

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
  // Queued runs, flat: job, runTimes, job, runTimes, ...
  readonly #queue: Array<Job | Date[]> = [];
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
      for (let i = this.#queueHead; i < this.#queue.length; i += 2) {
        const runTimes = this.#queue[i + 1] as Date[];
        cutShort += runTimes.length;
        this.#release(this.#queue[i] as Job, runTimes);
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
    const queued = (this.#queue.length - this.#queueHead) / 2;
    let turns = 0;
    if (withinMs > 0 && this.#meanRunMs !== null) {
      turns =
        this.#meanRunMs === 0 ? Number.POSITIVE_INFINITY : Math.floor((slots * withinMs) / this.#meanRunMs);
    }
    return Math.max(0, slots - this.#active - queued + turns);
  }

  /** Runs in progress or queued, per job id (for `maxInstances`). */
  instancesOf(jobId: string): number {
    return this.#instances.get(jobId) ?? 0;
  }

  /** Runs `job` once per run time, in one instance; throws when `maxInstances` is reached. */
  submitJob(job: Job, runTimes: Date[]): void {
    const instances = this.#instances.get(job.id) ?? 0;
    if (instances >= job.maxInstances) throw new MaxInstancesReachedError(job.id, job.maxInstances);
    this.#instances.set(job.id, instances + 1);
    // Runs start on a microtask: the scheduler reports job_submitted first, and user code never
    // runs inside its processing pass.
    this.#queue.push(job, runTimes);
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

  #launch(job: Job, runTimes: Date[]): void {
    this.#active++;
    const started = clock.now();
    const pending = this.#runInstance(job, runTimes);
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
        queue[this.#queueHead] = queue[this.#queueHead + 1] = undefined as unknown as Job;
        this.#queueHead += 2;
        this.#launch(job, runTimes);
      }
      if (this.#queueHead >= queue.length) {
        queue.length = 0;
        this.#queueHead = 0;
      } else if (this.#queueHead > 4096 && this.#queueHead * 2 > queue.length) {
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
  #release(job: Job, runTimes: Date[]): void {
    const left = (this.#instances.get(job.id) ?? 1) - 1;
    if (left === 0) this.#instances.delete(job.id);
    else this.#instances.set(job.id, left);
    this.host?.runFinished?.(job, runTimes);
  }

  #isMissed(job: Job, runTime: Date): boolean {
    const grace = job.misfireGraceTime;
    if (grace === null || clock.now() - runTime.getTime() <= grace * 1000) return false;
    this.#emit(EVENT_JOB_MISSED, 'job_missed', job, runTime);
    this.host?.logger.warn(
      { jobId: job.id, scheduledRunTime: runTime },
      `Run time of job "${job.id}" was missed by more than ${grace} s`,
    );
    return true;
  }

  /** One instance: `null` when it finished synchronously, else a promise of its end. */
  #runInstance(job: Job, runTimes: Date[]): Promise<void> | null {
    if (runTimes.length !== 1 || job.timeout !== null) return this.#runInstanceSlow(job, runTimes);
    // The common case, without async frames: one run time, no timeout.
    const runTime = runTimes[0];
    if (this.#isMissed(job, runTime)) {
      this.#release(job, runTimes);
      return null;
    }
    const run = new RunContext(job.id, runTime);
    this.#running.add(run);
    let result: unknown;
    try {
      result = this.#invoke(job, runTime, run);
    } catch (error) {
      this.#settle(job, runTime, run, false, error);
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
      this.#settle(job, runTime, run, false, error);
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
        (value) => this.#settle(job, runTime, run, true, value),
        (error: unknown) => this.#settle(job, runTime, run, false, error),
      ) as Promise<void>;
    }
    this.#settle(job, runTime, run, true, result);
    return null;
  }

  #settle(job: Job, runTime: Date, run: RunContext, ok: boolean, value: unknown): void {
    this.#running.delete(run);
    this.#release(job, [runTime]);
    if (ok) {
      this.#emit(EVENT_JOB_EXECUTED, 'job_executed', job, runTime, value);
    } else {
      this.host?.logger.error(
        { err: value, jobId: job.id, scheduledRunTime: runTime },
        `Job "${job.id}" raised an error`,
      );
      this.#emit(EVENT_JOB_ERROR, 'job_error', job, runTime, undefined, value);
    }
  }

  async #runInstanceSlow(job: Job, runTimes: Date[]): Promise<void> {
    try {
      for (const runTime of runTimes) {
        if (this.#isMissed(job, runTime)) continue;
        await this.#runOnce(job, runTime);
      }
    } catch (error) {
      // Only a bug in reporting gets here; keep the executor going.
      this.host?.logger.error({ err: error, jobId: job.id }, 'Executor failed while reporting a run');
    } finally {
      this.#release(job, runTimes);
    }
  }

  async #runOnce(job: Job, runTime: Date): Promise<void> {
    const run = new RunContext(job.id, runTime);
    this.#running.add(run);
    let cancelTimeout: (() => void) | null = null;
    // With a timeout: the run's own end, which the instance waits for even after its timeout is
    // reported, so it keeps its maxInstances slot (and shutdown waits) while its code still runs.
    let ended: Promise<unknown> | null = null;
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
      const retval = await result;
      this.#emit(EVENT_JOB_EXECUTED, 'job_executed', job, runTime, retval);
    } catch (error) {
      this.host?.logger.error(
        { err: error, jobId: job.id, scheduledRunTime: runTime },
        `Job "${job.id}" raised an error`,
      );
      this.#emit(EVENT_JOB_ERROR, 'job_error', job, runTime, undefined, error);
    } finally {
      (cancelTimeout as (() => void) | null)?.();
      await ended;
      this.#running.delete(run);
    }
  }

  #emit(
    code: number,
    name: 'job_executed' | 'job_error' | 'job_missed',
    job: Job,
    scheduledRunTime: Date,
    retval?: unknown,
    error?: unknown,
  ): void {
    const host = this.host;
    if (host === null || !host.wantsEvent(code)) return;
    const event = {
      code,
      name,
      schedulerId: host.schedulerId,
      jobId: job.id,
      jobstore: job.jobstore,
      scheduledRunTime,
      retval,
      error,
    };
    if (name !== 'job_executed') delete event.retval;
    if (name !== 'job_error') delete event.error;
    if (name === 'job_missed') {
      Object.assign(event, {
        missedCount: 1,
        firstMissedTime: scheduledRunTime,
        lastMissedTime: scheduledRunTime,
      });
    }
    host.dispatchEvent(event as never);
  }
}
