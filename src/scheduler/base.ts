/**
 * The scheduler: lifecycle, job stores and executors, events, and the job API. The run loop is
 * in `run-loop.ts`.
 */
import { describeValue } from '../describe.js';
import { asyncDispose } from '../dispose.js';
import {
  ConflictingIdError,
  JobLookupError,
  SchedulerAlreadyRunningError,
  SchedulerNotRunningError,
  TaskLookupError,
} from '../errors.js';
import {
  EVENT_ALL,
  EVENT_CODES,
  EVENT_JOB_ERROR,
  EVENT_JOB_MISSED,
  type EventName,
  type EventPayload,
  makeEvent,
  type SchedulerEventAny,
} from '../events.js';
import type { Executor, ExecutorHost, RunEnd } from '../executors/base.js';
import { PromisePoolExecutor } from '../executors/promise-pool.js';
import { Job, type JobChanges, type JobFunction, type RescheduleOptions } from '../job.js';
import type { Logger } from '../logger.js';
import type { JobRun, RunQuery } from '../runs.js';
import type { FinishedRunRow } from '../stores/backend.js';
import type { AbandonedRun, JobStore, StoreHost } from '../stores/base.js';
import { MemoryJobStore } from '../stores/memory.js';
import { UnrestorableTrigger } from '../stores/state.js';
import { isModuleRef, resolveTask } from '../tasks.js';
import { RunTelemetry } from '../telemetry.js';
import { atDeadline, clock } from '../time/clock.js';
import type { Trigger } from '../triggers/base.js';
import type { TriggerAlias, TriggerOptionsByAlias } from '../triggers/options.js';
import { EventHub, type EventListener, type MaskListener } from './event-hub.js';
import { checkRunQuery, HistoryPruner, RunRecorder, readRuns } from './history.js';
import {
  applyChanges,
  checkJobOptions,
  resolveFunc,
  resolveTrigger,
  splitOptions,
  workerOnlyTask,
} from './jobs.js';
import { Mutex } from './mutex.js';
import {
  type AddJobRest,
  applyOptions,
  checkAlias,
  checkPlugin,
  checkShutdownOptions,
  defaultSettings,
  type JobOptions,
  type SchedulerOptions,
  type SchedulerSettings,
  type ShutdownOptions,
} from './options.js';
import { formatJobTable } from './print.js';
import { RunLoop } from './run-loop.js';
import { RunReports } from './run-reports.js';

/** The scheduler is stopped. */
export const STATE_STOPPED = 0;
/** The scheduler is running. */
export const STATE_RUNNING = 1;
/** The scheduler is started but does not run jobs. */
export const STATE_PAUSED = 2;

/** A scheduler state. */
export type SchedulerState = typeof STATE_STOPPED | typeof STATE_RUNNING | typeof STATE_PAUSED;

/** A job built from `addJob`'s arguments, before the store and executor have checked it. */
interface PreparedJob {
  job: Job;
  checked: ReturnType<typeof checkJobOptions>;
  store: JobStore;
  /** For a run-once-now job: its trigger made afresh, so "now" is when the checks are done. */
  runNow: (() => Trigger) | null;
}

interface PendingJob {
  job: Job;
  explicitNextRunTime: boolean;
  replaceExisting: boolean;
}

/** A job with a retry policy needs a store that keeps retries (every built-in store does). */
function checkRetriesKept(store: JobStore, alias: string, retry: unknown): void {
  if (retry === null || (store.acquireRetries !== undefined && store.completeRuns !== undefined)) return;
  throw new TypeError(
    `Job store ${JSON.stringify(alias)} cannot keep retries (it has no acquireRetries and completeRuns): set retry: null for its jobs, or use a store that keeps them`,
  );
}

/** `logger` with each method made safe: a throw is reported as a process warning, once. */
function guardLogger(logger: Logger): Logger {
  let warned = false;
  const guard =
    (level: keyof Logger) =>
    (...args: unknown[]): void => {
      try {
        logger[level](...args);
      } catch (error) {
        if (warned) return;
        warned = true;
        process.emitWarning(`tickwork: the scheduler's logger threw: ${String(error)}`);
      }
    };
  return { debug: guard('debug'), info: guard('info'), warn: guard('warn'), error: guard('error') };
}

/** What every scheduler shares. Use `BackgroundScheduler` or `BlockingScheduler`. */
export abstract class Scheduler implements StoreHost, ExecutorHost {
  #settings: SchedulerSettings = defaultSettings();
  #state: SchedulerState = STATE_STOPPED;
  readonly #stores = new Map<string, JobStore>();
  readonly #executors = new Map<string, Executor>();
  #pending: PendingJob[] = [];
  // The run time of the last `runJob` (epoch ms): the next one is later.
  #lastRunNow = 0;
  readonly #recorder = new RunRecorder(
    () => this.schedulerId,
    () => this.#settings.runHistory,
  );
  readonly #pruner = new HistoryPruner(
    this.#stores,
    () => this.#settings.runHistory,
    (error, alias) =>
      this.logger.warn(
        { err: error, jobstore: alias },
        `Job store ${JSON.stringify(alias)}: pruning the run history failed; trying again later`,
      ),
  );
  readonly #reports = new RunReports({
    stores: this.#stores,
    recorder: this.#recorder,
    logger: () => this.logger,
    emit: (name, payload) => this.#emit(name, payload),
    wakeup: () => this.#loop.wakeup(),
    stopped: () => this.#state === STATE_STOPPED,
    retryIntervalMs: () => this.#settings.jobstoreRetryIntervalMs,
  });
  readonly #events = new EventHub(() => this.logger);
  readonly #mutexes = new Map<string, Mutex>();
  readonly #loop: RunLoop;
  #telemetry: RunTelemetry | null = null;
  readonly #telemetryListener: MaskListener = (event) => {
    if (event.name === 'job_missed') this.#telemetry?.runMissed(event.jobstore);
    else if (event.name === 'job_error') this.#telemetry?.jobError(event.jobstore, event.error);
  };

  constructor(options: SchedulerOptions = {}) {
    this.#loop = new RunLoop({
      host: this,
      stores: this.#stores,
      executors: this.#executors,
      mutexFor: (alias) => this.#mutexFor(alias),
      unstartedRuns: (job, runs) => runs.map((run) => this.#recorder.unstarted(job, job.id, run).row),
      recordsRuns: () => this.recordsRuns,
      afterPass: () => this.#pruner.maybePrune(),
      settings: () => this.#settings,
      isRunning: () => this.#state === STATE_RUNNING,
      daemon: () => this.timersUnref(),
    });
    this.configure(options);
  }

  /** Whether this scheduler's timers let the process exit. */
  protected timersUnref(): boolean {
    return false;
  }

  /** The `daemon` option. */
  protected get daemon(): boolean {
    return this.#settings.daemon;
  }

  /**
   * The scheduler's logger, guarded: a logger method that throws is reported once as a process
   * warning and otherwise ignored, so logging never breaks the scheduler's own work.
   */
  get logger(): Logger {
    const given = this.#settings.logger;
    if (this.#guarded?.given !== given) this.#guarded = { given, logger: guardLogger(given) };
    return this.#guarded.logger;
  }

  #guarded: { given: Logger; logger: Logger } | null = null;

  /** This scheduler's id in events and shared stores. */
  get schedulerId(): string {
    return this.#settings.schedulerId;
  }

  /** The IANA zone of triggers and date inputs without an offset. */
  get timezone(): string {
    return this.#settings.timezone;
  }

  /** `STATE_STOPPED`, `STATE_RUNNING` or `STATE_PAUSED`. */
  get state(): SchedulerState {
    return this.#state;
  }

  /** Spans and metrics of this scheduler's runs while it runs with `telemetry` on, else `null`. */
  get telemetry(): RunTelemetry | null {
    return this.#telemetry;
  }

  /** True unless stopped. */
  get running(): boolean {
    return this.#state !== STATE_STOPPED;
  }

  /** Changes options while stopped. */
  configure(options: SchedulerOptions = {}): void {
    if (this.#state !== STATE_STOPPED) throw new SchedulerAlreadyRunningError();
    const settings = applyOptions(this.#settings, options);
    const stores =
      options.jobstores ?? (this.#stores.size === 0 ? { default: new MemoryJobStore() } : undefined);
    const executors =
      options.executors ??
      (this.#executors.size === 0 ? { default: new PromisePoolExecutor({ maxWorkers: 10 }) } : undefined);
    for (const [kind, plugins] of [
      ['jobstore', stores],
      ['executor', executors],
    ] as const) {
      if (plugins === undefined) continue;
      if (typeof plugins !== 'object' || plugins === null) {
        throw new TypeError(
          `Expected ${kind}s to be an object of alias to ${kind}, got ${describeValue(plugins)}`,
        );
      }
      for (const [alias, plugin] of Object.entries(plugins)) checkPlugin(plugin, kind, alias);
    }
    this.#settings = settings;
    if (stores !== undefined) {
      for (const [alias, store] of Object.entries(stores)) this.#stores.set(alias, store);
      if (!this.#stores.has('default')) this.#stores.set('default', new MemoryJobStore());
    }
    if (executors !== undefined) {
      for (const [alias, executor] of Object.entries(executors)) this.#executors.set(alias, executor);
      if (!this.#executors.has('default'))
        this.#executors.set('default', new PromisePoolExecutor({ maxWorkers: 10 }));
    }
  }

  // ---- lifecycle ----

  /** Starts the scheduler (paused if asked): stores and executors start, pending jobs are added. */
  async start(options: { paused?: boolean } = {}): Promise<void> {
    if (this.#state !== STATE_STOPPED) throw new SchedulerAlreadyRunningError();
    if (this.#settings.telemetry !== null && this.#telemetry === null) {
      this.#telemetry = await RunTelemetry.create(this.#settings.telemetry, {
        schedulerId: this.schedulerId,
        stores: this.#stores,
      });
      this.#telemetry.open();
      this.#events.addMaskListener(this.#telemetryListener, EVENT_JOB_MISSED | EVENT_JOB_ERROR);
    }
    // A store or executor that fails to start fails start(); those started before it are shut
    // down again, so a program that retries start() leaks no connection.
    const startedExecutors: Executor[] = [];
    const startedStores: JobStore[] = [];
    try {
      for (const [alias, executor] of this.#executors) {
        await executor.start(this, alias);
        startedExecutors.push(executor);
      }
      for (const [alias, store] of this.#stores) {
        await store.start(this, alias);
        startedStores.push(store);
      }
    } catch (error) {
      await Promise.allSettled([
        ...startedExecutors.map((e) => e.shutdown(false)),
        ...startedStores.map((s) => s.shutdown()),
      ]);
      this.#closeTelemetry();
      throw error;
    }
    this.#state = options.paused === true ? STATE_PAUSED : STATE_RUNNING;
    const pending = this.#pending;
    this.#pending = [];
    const now = clock.now();
    for (const [i, entry] of pending.entries()) {
      entry.job.pending = false;
      try {
        await this.#realAddJob(entry.job, entry.replaceExisting, entry.explicitNextRunTime, now);
      } catch (error) {
        // As APScheduler 3 raises it from start(): stopped again, with the jobs not added still
        // pending, so the program can fix the job and start again.
        for (const rest of pending.slice(i)) rest.job.pending = true;
        this.#pending = pending.slice(i).concat(this.#pending);
        await this.#undoStart();
        throw error;
      }
    }
    // The loop starts first, so a scheduler_started listener that shuts down also stops it, and
    // a logger that throws cannot leave the scheduler running without its loop.
    this.#loop.start();
    this.logger.info({ schedulerId: this.schedulerId }, 'Scheduler started');
    this.#emit('scheduler_started', {});
  }

  /** Ends the telemetry `start()` opened, if any. */
  #closeTelemetry(): void {
    if (this.#telemetry === null) return;
    this.#telemetry.close();
    this.#events.removeMaskListener(this.#telemetryListener);
    this.#telemetry = null;
  }

  /** Closes what `start()` opened before it failed, leaving the scheduler stopped. */
  async #undoStart(): Promise<void> {
    this.#state = STATE_STOPPED;
    this.#closeTelemetry();
    await Promise.allSettled([...this.#executors.values()].map((e) => e.shutdown(false)));
    for (const [alias, store] of this.#stores) {
      try {
        await store.shutdown();
      } catch (error) {
        this.logger.error(
          { err: error, jobstore: alias },
          `Job store ${JSON.stringify(alias)} failed to shut down`,
        );
      }
    }
  }

  /**
   * Stops the scheduler. With `wait` (default), running jobs are waited for: at most `timeout`
   * seconds, or until `signal` aborts; then the runs still going are aborted through their job
   * signal and queued ones are dropped. Resolves to the number of runs so cut short.
   */
  async shutdown(options: ShutdownOptions = {}): Promise<number> {
    const { wait, timeoutMs, signal } = checkShutdownOptions(options);
    if (this.#state === STATE_STOPPED) throw new SchedulerNotRunningError();
    this.#state = STATE_STOPPED;
    await this.#loop.stop();
    await this.#pruner.idle();
    const cutShort = await this.#stopExecutors(wait, timeoutMs, signal);
    await this.#reports.drain();
    for (const [alias, store] of this.#stores) {
      try {
        await store.shutdown();
      } catch (error) {
        this.logger.error(
          { err: error, jobstore: alias },
          `Job store ${JSON.stringify(alias)} failed to shut down`,
        );
      }
    }
    this.#closeTelemetry();
    this.logger.info({ schedulerId: this.schedulerId }, 'Scheduler has been shut down');
    this.#emit('scheduler_shutdown', {});
    return cutShort;
  }

  /** Shuts the executors down, waiting as asked; resolves to the number of runs cut short. */
  async #stopExecutors(wait: boolean, timeoutMs: number | null, signal: AbortSignal | null): Promise<number> {
    const executors = [...this.#executors.values()];
    const abortAll = async (): Promise<number> => {
      const counts = await Promise.all(executors.map((e) => e.shutdown(false)));
      return counts.reduce<number>((sum, n) => sum + (typeof n === 'number' ? n : 0), 0);
    };
    if (!wait || signal?.aborted === true) return abortAll();
    const done = Promise.all(executors.map((e) => e.shutdown(true))).then(() => false);
    if (timeoutMs === null && signal === null) {
      await done;
      return 0;
    }
    let expire: (why: string) => void = () => {};
    const expired = new Promise<string>((resolve) => {
      expire = resolve;
    });
    const cancel =
      timeoutMs === null
        ? null
        : atDeadline(clock.now() + timeoutMs, () => expire(`timeout of ${timeoutMs / 1000} s`));
    const onAbort = () => expire('signal aborted');
    signal?.addEventListener('abort', onAbort, { once: true });
    let why: string | boolean;
    try {
      why = await Promise.race([done, expired]);
    } finally {
      cancel?.();
      signal?.removeEventListener('abort', onAbort);
    }
    if (why === false) return 0; // every run finished in time
    const cutShort = await abortAll();
    this.logger.warn(`Shutdown stopped waiting for running jobs (${why}): ${cutShort} run(s) cut short`);
    return cutShort;
  }

  /** `await using scheduler = ...`: shuts the scheduler down (waiting for jobs) if it runs. */
  async [asyncDispose](): Promise<void> {
    if (this.running) await this.shutdown();
  }

  /** Aborts every running job through its signal and drops queued runs (a forced shutdown). */
  protected abortRunningJobs(): Promise<void> {
    return Promise.allSettled([...this.#executors.values()].map((e) => e.shutdown(false))).then(() => {});
  }

  /** Stops running jobs until `resume()`. */
  pause(): void {
    if (this.#state === STATE_STOPPED) throw new SchedulerNotRunningError();
    if (this.#state === STATE_RUNNING) {
      this.#state = STATE_PAUSED;
      this.#emit('scheduler_paused', {});
    }
  }

  /** Runs jobs again after `pause()`. */
  resume(): void {
    if (this.#state === STATE_STOPPED) throw new SchedulerNotRunningError();
    if (this.#state === STATE_PAUSED) {
      this.#state = STATE_RUNNING;
      this.#emit('scheduler_resumed', {});
      this.wakeup();
    }
  }

  /** Looks at the stores now (many calls in a row make one pass). */
  wakeup(): void {
    this.#loop.wakeup();
  }

  // ---- stores and executors ----

  /** Adds a job store (started at once when the scheduler runs). */
  async addJobstore(store: JobStore, alias = 'default'): Promise<void> {
    checkAlias(alias, 'alias');
    checkPlugin(store, 'jobstore', alias);
    if (this.#stores.has(alias) && !(alias === 'default' && this.#isUntouchedDefaultStore())) {
      throw new TypeError(`This scheduler already has a job store by the alias of ${JSON.stringify(alias)}`);
    }
    if (this.running) await store.start(this, alias);
    this.#stores.set(alias, store);
    this.#emit('jobstore_added', { alias });
    if (this.running) this.wakeup();
  }

  #isUntouchedDefaultStore(): boolean {
    const store = this.#stores.get('default');
    return store instanceof MemoryJobStore && store.size === 0 && !this.running;
  }

  /** Removes a job store (shutting it down). */
  async removeJobstore(alias: string, shutdown = true): Promise<void> {
    const store = this.#lookupStore(alias);
    this.#stores.delete(alias);
    if (shutdown && this.running) await store.shutdown();
    this.#emit('jobstore_removed', { alias });
  }

  /** Adds an executor (started at once when the scheduler runs). */
  async addExecutor(executor: Executor, alias = 'default'): Promise<void> {
    checkAlias(alias, 'alias');
    checkPlugin(executor, 'executor', alias);
    if (this.#executors.has(alias) && !(alias === 'default' && !this.running)) {
      throw new TypeError(`This scheduler already has an executor by the alias of ${JSON.stringify(alias)}`);
    }
    if (this.running) await executor.start(this, alias);
    this.#executors.set(alias, executor);
    this.#emit('executor_added', { alias });
  }

  /** Removes an executor (shutting it down, waiting for its running jobs). */
  async removeExecutor(alias: string, shutdown = true): Promise<void> {
    const executor = this.#executors.get(alias);
    if (executor === undefined) {
      throw new TypeError(
        `No executor by the alias of ${JSON.stringify(alias)} (have ${[...this.#executors.keys()].join(', ')})`,
      );
    }
    this.#executors.delete(alias);
    if (shutdown && this.running) await executor.shutdown(true);
    this.#emit('executor_removed', { alias });
  }

  /** The lock of one store's jobs (passes and job API calls take turns on it). */
  #mutexFor(alias: string): Mutex {
    let mutex = this.#mutexes.get(alias);
    if (mutex === undefined) {
      mutex = new Mutex();
      this.#mutexes.set(alias, mutex);
    }
    return mutex;
  }

  #lookupStore(alias: unknown): JobStore {
    const store = typeof alias === 'string' ? this.#stores.get(alias) : undefined;
    if (store === undefined) {
      throw new TypeError(
        `Expected jobstore to be one of ${[...this.#stores.keys()].map((a) => JSON.stringify(a)).join(', ')}, got ${describeValue(alias)}`,
      );
    }
    return store;
  }

  #checkExecutor(alias: string): void {
    if (!this.#executors.has(alias)) {
      throw new TypeError(
        `Expected executor to be one of ${[...this.#executors.keys()].map((a) => JSON.stringify(a)).join(', ')}, got ${describeValue(alias)}`,
      );
    }
  }

  // ---- events ----

  /** Listens to one event by name. */
  on<K extends EventName>(name: K, listener: EventListener<K>): this {
    this.#events.on(name, listener);
    return this;
  }

  /** Listens to the next event of this name only. */
  once<K extends EventName>(name: K, listener: EventListener<K>): this {
    this.#events.once(name, listener);
    return this;
  }

  /** Stops listening. */
  off<K extends EventName>(name: K, listener: EventListener<K>): this {
    this.#events.off(name, listener);
    return this;
  }

  /** APScheduler's listener: `callback` gets every event whose code is in `mask`. */
  addListener(callback: MaskListener, mask: number = EVENT_ALL): void {
    this.#events.addMaskListener(callback, mask);
  }

  /** Removes a listener added with `addListener`. */
  removeListener(callback: MaskListener): void {
    this.#events.removeMaskListener(callback);
  }

  /** Delivers an event to the listeners (used by executors and stores). */
  dispatchEvent(event: SchedulerEventAny): void {
    this.#events.dispatch(event);
  }

  /** True when some listener would receive an event with this code. */
  wantsEvent(code: number): boolean {
    return this.#events.wants(code);
  }

  #emit<N extends EventName>(name: N, payload: EventPayload<N>): void {
    if (!this.#events.wants(EVENT_CODES[name])) return;
    this.#events.dispatch(makeEvent(name, this.schedulerId, payload));
  }

  /** Resolves a stored job's task reference (see `StoreHost.restoreTask`). */
  async restoreTask(ref: string, executor: string): Promise<JobFunction> {
    try {
      return await resolveTask(ref, this.#settings.taskPolicy);
    } catch (error) {
      const target = this.#executors.get(executor);
      if (error instanceof TaskLookupError && target?.resolvesTaskNames === true && !isModuleRef(ref)) {
        return workerOnlyTask(ref);
      }
      throw error;
    }
  }

  /** True when the run history is on: executors then report how each run ended. */
  get recordsRuns(): boolean {
    return this.#settings.runHistory !== null;
  }

  /**
   * Reports runs claimed by a scheduler that stopped before finishing them, as `job_error`
   * (and `job_retry` when the job retries abandoned runs); resolves to what their store writes
   * as their claims go.
   */
  reportAbandonedRuns(jobstore: string, runs: AbandonedRun[]): Promise<FinishedRunRow[]> {
    return this.#reports.reportAbandoned(jobstore, runs);
  }

  /**
   * Called by executors when a submitted instance is over: finishes its run claims, with each
   * run's history row and retry.
   */
  runFinished(job: Job, runTimes: Date[], attempt = 1, outcomes?: RunEnd[]): void {
    this.#loop.runFinished();
    this.#reports.runFinished(job, runTimes, attempt, outcomes);
  }

  /** The run history, newest first (see `RunQuery`). */
  async getRuns(query?: RunQuery): Promise<JobRun[]> {
    const { row, jobstore } = checkRunQuery(query, this.timezone);
    const stores =
      jobstore === undefined
        ? [...this.#stores]
        : [[jobstore, this.#lookupStore(jobstore)] as [string, JobStore]];
    return readRuns(stores, row);
  }

  /** Reports a stored job that cannot be restored: logged and emitted as `job_error`. */
  reportBrokenJob(jobId: string, jobstore: string, error: unknown): void {
    this.logger.error(
      { err: error, jobId, jobstore },
      `Job ${JSON.stringify(jobId)} in job store ${JSON.stringify(jobstore)} cannot be restored`,
    );
    this.#emit('job_error', {
      jobId,
      jobstore,
      scheduledRunTime: new Date(clock.now()),
      error,
      willRetry: false,
    });
  }

  // ---- jobs ----

  /**
   * Adds a job: `func` is a function or a task reference; `trigger` a trigger alias (whose
   * options are merged into the job options), a Trigger instance, or none (run once, now).
   */
  addJob<F extends JobFunction | string, T extends TriggerAlias | Trigger | undefined = undefined>(
    func: F,
    ...rest: AddJobRest<F, T>
  ): Promise<Job>;
  async addJob(func: unknown, trigger?: unknown, options?: unknown): Promise<Job> {
    const prepared = this.#prepareJob(func, trigger, options);
    return this.#addPreparedJob(prepared instanceof Promise ? await prepared : prepared);
  }

  /** Checks what can be checked without a store and builds the job (at once for a function). */
  #prepareJob(func: unknown, trigger: unknown, options: unknown): PreparedJob | Promise<PreparedJob> {
    const [jobOptions, triggerOptions] = splitOptions(options);
    const checked = checkJobOptions(jobOptions, this.#settings.jobDefaults, this.timezone);
    const resolvedTrigger = resolveTrigger(trigger, triggerOptions, this.timezone);
    const store = this.#lookupStore(checked.jobstore);
    checkRetriesKept(store, checked.jobstore, checked.retry);
    this.#checkExecutor(checked.executor);
    const target = this.#executors.get(checked.executor) as Executor;
    const resolved =
      typeof func === 'string' && target.resolvesTaskNames === true && !isModuleRef(func)
        ? { func: workerOnlyTask(func), taskRef: func }
        : resolveFunc(func, this.#settings.taskPolicy);
    const runNow =
      (trigger === undefined || trigger === null || trigger === 'date') &&
      triggerOptions.runDate === undefined
        ? () => resolveTrigger(trigger, triggerOptions, this.timezone)
        : null;
    const build = ({ func: fn, taskRef }: { func: JobFunction; taskRef: string | null }): PreparedJob => ({
      checked,
      store,
      runNow,
      job: new Job(this, {
        id: checked.id,
        name: checked.name ?? (fn.name || (taskRef ?? 'anonymous')),
        func: fn,
        taskRef,
        args: checked.args,
        trigger: resolvedTrigger,
        executor: checked.executor,
        jobstore: checked.jobstore,
        misfireGraceTime: checked.misfireGraceTime,
        coalesce: checked.coalesce,
        maxInstances: checked.maxInstances,
        timeout: checked.timeout,
        retry: checked.retry,
        nextRunTime: checked.nextRunTime ?? null,
      }),
    });
    return resolved instanceof Promise ? resolved.then(build) : build(resolved);
  }

  /** The rest of `addJob`: the store's and executor's checks, then the add (or the pending list). */
  async #addPreparedJob({ job, checked, store, runNow }: PreparedJob): Promise<Job> {
    if (store.validateJob !== undefined) await store.validateJob(job);
    const validated = this.#executors.get(checked.executor)?.validateJob?.(job);
    if (validated instanceof Promise) {
      await validated;
      // The check took a while (a worker thread resolved the task): "now" is now.
      if (runNow !== null) job.trigger = runNow();
    }
    const explicit = checked.nextRunTime !== undefined;
    if (this.#state === STATE_STOPPED) {
      const clash = this.#pending.findIndex((p) => p.job.id === job.id);
      if (clash >= 0) {
        if (!checked.replaceExisting) throw new ConflictingIdError(job.id);
        this.#pending.splice(clash, 1);
      }
      job.pending = true;
      this.#pending.push({ job, explicitNextRunTime: explicit, replaceExisting: checked.replaceExisting });
      this.logger.info(
        { jobId: job.id },
        'Adding job tentatively -- it will be properly scheduled when the scheduler starts',
      );
      return job;
    }
    await this.#realAddJob(job, checked.replaceExisting, explicit, clock.now());
    return job;
  }

  async #realAddJob(
    job: Job,
    replaceExisting: boolean,
    explicitNextRunTime: boolean,
    now: number,
  ): Promise<void> {
    if (!explicitNextRunTime) job.nextRunTime = job.trigger.getNextFireTime(null, new Date(now));
    const store = this.#lookupStore(job.jobstore);
    const mutex = this.#mutexFor(job.jobstore);
    const shared = store.shared === true;
    // A store that adds without I/O, with nobody else on it: add at once, no lock.
    if (store.addJobNow !== undefined && store.updateJobNow !== undefined && mutex.idle) {
      try {
        store.addJobNow(job);
      } catch (error) {
        if (!(error instanceof ConflictingIdError) || !replaceExisting) throw error;
        store.updateJobNow(job);
      }
    } else if (shared && !replaceExisting) {
      // A shared store fences every pass with tokens, and other processes write to it without
      // this lock anyway, so a plain add need not wait for this scheduler's pass or other adds
      // (which the store can then write in one batch). Add-then-update still takes the lock.
      await store.addJob(job);
    } else {
      await mutex.run(async () => {
        try {
          await store.addJob(job);
        } catch (error) {
          if (!(error instanceof ConflictingIdError) || !replaceExisting) throw error;
          await store.updateJob(job);
        }
      });
    }
    this.#emit('job_added', { jobId: job.id, jobstore: job.jobstore });
    if (this.#state === STATE_RUNNING) this.wakeup();
  }

  /** Decorator-style `addJob`: `scheduledJob('cron', { hour: 9 })(fn)` adds `fn` and returns it. */
  scheduledJob<K extends TriggerAlias>(
    trigger: K | Trigger,
    options?: TriggerOptionsByAlias[K] & JobOptions,
  ): <F extends JobFunction>(func: F) => F {
    return (func) => {
      // Bad options throw here, at the call; only the store's answer comes later.
      const prepared = this.#prepareJob(func, trigger, options);
      Promise.resolve(prepared)
        .then((p) => this.#addPreparedJob(p))
        .catch((error: unknown) => {
          const { id, jobstore } = prepared instanceof Promise ? { id: null, jobstore: null } : prepared.job;
          this.logger.error({ err: error, jobId: id }, 'scheduledJob could not add its job');
          if (id !== null && jobstore !== null) {
            this.#emit('job_error', {
              jobId: id,
              jobstore,
              scheduledRunTime: new Date(clock.now()),
              error,
              willRetry: false,
            });
          }
        });
      return func;
    };
  }

  /** Finds a job (pending or stored) and its store alias; throws `JobLookupError`. */
  async #findJob(
    id: unknown,
    jobstore?: string,
  ): Promise<{ job: Job; alias: string; pending: PendingJob | null }> {
    if (typeof id !== 'string')
      throw new TypeError(`Expected job id to be a string, got ${describeValue(id)}`);
    if (jobstore !== undefined) this.#lookupStore(jobstore);
    for (const entry of this.#pending) {
      if (entry.job.id === id && (jobstore === undefined || entry.job.jobstore === jobstore)) {
        return { job: entry.job, alias: entry.job.jobstore, pending: entry };
      }
    }
    // While stopped, only pending jobs are known (as in APScheduler): stores are not open.
    for (const [alias, store] of this.#state === STATE_STOPPED ? [] : this.#stores) {
      if (jobstore !== undefined && alias !== jobstore) continue;
      const job = await store.lookupJob(id);
      if (job !== null) return { job, alias, pending: null };
    }
    throw new JobLookupError(id, jobstore);
  }

  /** Changes options of a job (any but `id`). */
  async modifyJob<F extends JobFunction | string = JobFunction | string>(
    id: string,
    changes: JobChanges<F>,
    jobstore?: string,
  ): Promise<Job> {
    const { job, alias, pending } = await this.#findJob(id, jobstore);
    const fields = await applyChanges(job, changes, this.timezone);
    this.#checkExecutor(fields.executor);
    const modified = new Job(this, fields, job.pending);
    // Still unrunnable here unless its function was replaced.
    if (changes.func === undefined) modified.broken = job.broken;
    const store = this.#lookupStore(alias);
    checkRetriesKept(store, alias, modified.retry);
    await store.validateJob?.(modified);
    // The executor's own checks, for the job as changed (a new executor, function or args).
    await this.#executors.get(modified.executor)?.validateJob?.(modified);
    if (pending !== null) {
      pending.job = modified;
      if (changes.nextRunTime !== undefined) pending.explicitNextRunTime = true;
    } else {
      await this.#mutexFor(alias).run(() => store.updateJob(modified));
    }
    this.#emit('job_modified', { jobId: id, jobstore: alias });
    if (this.#state === STATE_RUNNING) this.wakeup();
    return modified;
  }

  /** Gives a job a new trigger and computes its next run time from it. */
  async rescheduleJob<K extends TriggerAlias | Trigger>(
    id: string,
    trigger: K,
    triggerOptions?: RescheduleOptions<K>,
    jobstore?: string,
  ): Promise<Job> {
    const resolved = resolveTrigger(
      trigger,
      (triggerOptions ?? {}) as Record<string, unknown>,
      this.timezone,
    );
    const nextRunTime = resolved.getNextFireTime(null, new Date(clock.now()));
    return this.modifyJob(id, { trigger: resolved, nextRunTime }, jobstore);
  }

  /** Pauses a job (it keeps its place; `resumeJob` computes a new run time). */
  async pauseJob(id: string, jobstore?: string): Promise<Job> {
    return this.modifyJob(id, { nextRunTime: null }, jobstore);
  }

  /** Resumes a paused job; removes it (and resolves to `null`) if its trigger is done. */
  async resumeJob(id: string, jobstore?: string): Promise<Job | null> {
    const { job, alias } = await this.#findJob(id, jobstore);
    if (job.trigger instanceof UnrestorableTrigger) {
      // Its trigger is unknown here: "no fire time left" would remove a job that has some.
      throw new TypeError(`Job ${JSON.stringify(id)} cannot be resumed here: ${job.broken}`);
    }
    const next = job.trigger.getNextFireTime(null, new Date(clock.now()));
    if (next === null) {
      await this.removeJob(id, alias);
      return null;
    }
    return this.modifyJob(id, { nextRunTime: next }, alias);
  }

  /**
   * Runs a job once now, outside its schedule: through its executor and the usual events, with
   * `scheduledRunTime` = now and attempt 1. It counts for `maxInstances` and may be retried like
   * any run; the job's next run time does not move. The run is queued in the job's store and
   * taken like a retry, so on a shared store exactly one process runs it (one that can restore
   * the job's task). Resolves to the run's scheduled run time once it is queued; this scheduler
   * looks for it at once (a paused scheduler runs it when resumed, unless another process has).
   * Rejects with `JobLookupError` for an unknown job and `JobPausedError` for a paused one.
   */
  async runJob(id: string, jobstore?: string): Promise<Date> {
    if (typeof id !== 'string') throw new TypeError(`Expected id to be a string, got ${describeValue(id)}`);
    if (this.#state === STATE_STOPPED) throw new SchedulerNotRunningError();
    const { alias } = await this.#findJob(id, jobstore);
    const store = this.#lookupStore(alias);
    if (store.queueRun === undefined || store.acquireRetries === undefined) {
      throw new TypeError(
        `Job store ${JSON.stringify(alias)} cannot run a job outside its schedule: it has no queueRun or acquireRetries method`,
      );
    }
    // Each run asked for here has a run time of its own, also when asked for in one millisecond.
    let at = Math.max(clock.now(), this.#lastRunNow + 1);
    while (!(await store.queueRun(id, new Date(at)))) at++;
    this.#lastRunNow = at;
    this.logger.info(
      { jobId: id, jobstore: alias, scheduledRunTime: new Date(at) },
      `Queued a run of job ${JSON.stringify(id)} now`,
    );
    if (this.#state === STATE_RUNNING) this.wakeup();
    return new Date(at);
  }

  /** Removes a job. */
  async removeJob(id: string, jobstore?: string): Promise<void> {
    const { alias, pending } = await this.#findJob(id, jobstore);
    if (pending !== null) this.#pending = this.#pending.filter((p) => p !== pending);
    else await this.#mutexFor(alias).run(() => this.#lookupStore(alias).removeJob(id));
    this.logger.info({ jobId: id, jobstore: alias }, `Removed job ${JSON.stringify(id)}`);
    this.#emit('job_removed', { jobId: id, jobstore: alias });
  }

  /** Removes every job (of one store, or of all). */
  async removeAllJobs(jobstore?: string): Promise<void> {
    if (jobstore !== undefined) this.#lookupStore(jobstore);
    this.#pending = this.#pending.filter((p) => jobstore !== undefined && p.job.jobstore !== jobstore);
    for (const [alias, store] of this.#state === STATE_STOPPED ? [] : this.#stores) {
      if (jobstore !== undefined && alias !== jobstore) continue;
      await this.#mutexFor(alias).run(() => store.removeAllJobs());
      this.#emit('all_jobs_removed', { alias });
    }
  }

  /** The job with this id, or `null`. */
  async getJob(id: string, jobstore?: string): Promise<Job | null> {
    try {
      return (await this.#findJob(id, jobstore)).job;
    } catch (error) {
      if (error instanceof JobLookupError) return null;
      throw error;
    }
  }

  /**
   * Jobs (of one store, or of all), by next run time; pending jobs whose first run time is not
   * known yet after those, paused jobs last. `pending`: only pending (true) or only stored (false).
   */
  async getJobs(jobstore?: string, pending?: boolean): Promise<Job[]> {
    if (jobstore !== undefined) this.#lookupStore(jobstore);
    const jobs: Job[] = [];
    if (pending !== false) {
      for (const p of this.#pending)
        if (jobstore === undefined || p.job.jobstore === jobstore) jobs.push(p.job);
    }
    if (pending !== true && this.#state !== STATE_STOPPED) {
      for (const [alias, store] of this.#stores) {
        if (jobstore === undefined || alias === jobstore) jobs.push(...(await store.getAllJobs()));
      }
    }
    const rank = (job: Job): number => {
      const explicit = this.#pending.find((p) => p.job === job)?.explicitNextRunTime ?? true;
      if (job.pending && !explicit) return Number.MAX_VALUE;
      return job.nextRunMs ?? Number.POSITIVE_INFINITY;
    };
    const ranks = new Map(jobs.map((j) => [j, rank(j)]));
    return jobs.sort((a, b) => (ranks.get(a) as number) - (ranks.get(b) as number) || 0);
  }

  /** Prints a table of jobs (id, name, trigger, next run) per store. */
  async printJobs(jobstore?: string, out: { write(text: string): unknown } = process.stdout): Promise<void> {
    const aliases = jobstore === undefined ? [...this.#stores.keys()] : [jobstore];
    const sections: Array<{ title: string; jobs: Job[] }> = [];
    if (this.#state === STATE_STOPPED)
      sections.push({ title: 'Pending jobs', jobs: await this.getJobs(jobstore, true) });
    for (const alias of aliases) {
      sections.push({ title: `Jobstore ${alias}`, jobs: await this.getJobs(alias, false) });
    }
    out.write(formatJobTable(sections, this.timezone));
  }
}
