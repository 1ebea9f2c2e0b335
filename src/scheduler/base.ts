/**
 * The scheduler: lifecycle, job stores and executors, events, and the job API. The run loop is
 * in `run-loop.ts`, the stores and executors in `plugins.ts`, the jobs added before `start()` in
 * `pending.ts`, the bodies of the job API in `job-api.ts`, stopping executors and stores in
 * `shutdown.ts`.
 *
 * Over 400 lines because this is the whole public surface of `Scheduler`: some 45 members, each
 * with its doc comment, most of them a line or two that delegate. What stays here is what owns
 * the scheduler's state (start, shutdown, pause, resume) and the event plumbing.
 */
import { asyncDispose } from '../dispose.js';
import { SchedulerAlreadyRunningError, SchedulerNotRunningError, TaskLookupError } from '../errors.js';
import {
  EVENT_ALL,
  EVENT_CODES,
  EVENT_JOB_ERROR,
  EVENT_JOB_MISSED,
  type EventName,
  type EventPayload,
  type SchedulerEventAny,
} from '../events.js';
import type { Executor, ExecutorHost, RunEnd } from '../executors/base.js';
import type { Job, JobChanges, JobFunction, RescheduleOptions } from '../job.js';
import type { Logger } from '../logger.js';
import type { JobRun, RunQuery } from '../runs.js';
import type { FinishedRunRow } from '../stores/backend.js';
import type { AbandonedRun, JobStore, StoreHost } from '../stores/base.js';
import { isModuleRef, resolveTask } from '../tasks.js';
import { RunTelemetry } from '../telemetry.js';
import { clock } from '../time/clock.js';
import type { Trigger } from '../triggers/base.js';
import type { TriggerAlias, TriggerOptionsByAlias } from '../triggers/options.js';
import { EventHub, type EventListener, eventOf, type MaskListener } from './event-hub.js';
import {
  checkJobIds,
  checkRunQuery,
  HistoryPruner,
  RunRecorder,
  readLatestRuns,
  readRuns,
} from './history.js';
import { JobApi } from './job-api.js';
import { resolveTrigger, workerOnlyTask } from './jobs.js';
import {
  type AddJobRest,
  applyOptions,
  checkShutdownOptions,
  defaultSettings,
  type JobOptions,
  type SchedulerOptions,
  type SchedulerSettings,
  type ShutdownOptions,
} from './options.js';
import { PendingJobs } from './pending.js';
import { Plugins } from './plugins.js';
import { RunLoop } from './run-loop.js';
import { RunReports } from './run-reports.js';
import { shutdownStores, stopExecutors } from './shutdown.js';

/** The scheduler is stopped. */
export const STATE_STOPPED = 0;
/** The scheduler is running. */
export const STATE_RUNNING = 1;
/** The scheduler is started but does not run jobs. */
export const STATE_PAUSED = 2;

/** A scheduler state. */
export type SchedulerState = typeof STATE_STOPPED | typeof STATE_RUNNING | typeof STATE_PAUSED;

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
  readonly #plugins = new Plugins(this, () => this.running);
  readonly #pending = new PendingJobs();
  readonly #jobs = new JobApi({
    scheduler: this,
    plugins: this.#plugins,
    pending: this.#pending,
    settings: () => this.#settings,
    isStopped: () => this.#state === STATE_STOPPED,
    isRunning: () => this.#state === STATE_RUNNING,
    emit: (name, payload) => this.#emit(name, payload),
    heldRuns: {
      cancelHeld: (alias, jobId, claimsGoWithWrite, write) =>
        this.#loop.cancelHeld(alias, jobId, claimsGoWithWrite, write),
      jobChanged: (alias, job) => this.#loop.jobChanged(alias, job),
      storeCleared: (alias) => this.#loop.storeCleared(alias),
    },
  });
  readonly #recorder = new RunRecorder(
    () => this.schedulerId,
    () => this.#settings.runHistory,
  );
  readonly #pruner = new HistoryPruner(
    this.#plugins.stores,
    () => this.#settings.runHistory,
    (error, alias) =>
      this.logger.warn(
        { err: error, jobstore: alias },
        `Job store ${JSON.stringify(alias)}: pruning the run history failed; trying again later`,
      ),
  );
  readonly #reports = new RunReports({
    stores: this.#plugins.stores,
    recorder: this.#recorder,
    logger: () => this.logger,
    emit: (name, payload) => this.#emit(name, payload),
    wakeup: () => this.#loop.wakeup(),
    caughtUp: () => this.#loop.roomMade(),
    stopped: () => this.#state === STATE_STOPPED,
    retryIntervalMs: () => this.#settings.jobstoreRetryIntervalMs,
  });
  readonly #events = new EventHub(() => this.logger);
  readonly #loop: RunLoop;
  #telemetry: RunTelemetry | null = null;
  readonly #telemetryListener: MaskListener = (event) => {
    if (event.name === 'job_missed') this.#telemetry?.runMissed(event.jobstore);
    else if (event.name === 'job_error') this.#telemetry?.jobError(event.jobstore, event.error);
  };

  constructor(options: SchedulerOptions = {}) {
    this.#loop = new RunLoop({
      host: this,
      stores: this.#plugins.stores,
      executors: this.#plugins.executors,
      mutexFor: (alias) => this.#plugins.mutexFor(alias),
      unstartedRuns: (job, runs) => runs.map((run) => this.#recorder.unstarted(job, job.id, run).row),
      recordsRuns: () => this.recordsRuns,
      unrecordedRuns: (store) => this.#reports.unrecorded(store),
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
    this.#plugins.configure(options);
    this.#settings = settings;
  }

  // ---- lifecycle ----

  /** Starts the scheduler (paused if asked): stores and executors start, pending jobs are added. */
  async start(options: { paused?: boolean } = {}): Promise<void> {
    if (this.#state !== STATE_STOPPED) throw new SchedulerAlreadyRunningError();
    if (this.#settings.telemetry !== null && this.#telemetry === null) {
      this.#telemetry = await RunTelemetry.create(this.#settings.telemetry, {
        schedulerId: this.schedulerId,
        stores: this.#plugins.stores,
      });
      this.#telemetry.open();
      this.#events.addMaskListener(this.#telemetryListener, EVENT_JOB_MISSED | EVENT_JOB_ERROR);
    }
    // A store or executor that fails to start fails start(); those started before it are shut
    // down again, so a program that retries start() leaks no connection.
    const startedExecutors: Executor[] = [];
    const startedStores: JobStore[] = [];
    try {
      for (const [alias, executor] of this.#plugins.executors) {
        await executor.start(this, alias);
        startedExecutors.push(executor);
      }
      for (const [alias, store] of this.#plugins.stores) {
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
    const pending = this.#pending.takeAll();
    const now = clock.now();
    for (const [i, entry] of pending.entries()) {
      entry.job.pending = false;
      try {
        await this.#jobs.realAddJob(entry.job, entry.replaceExisting, entry.explicitNextRunTime, now);
      } catch (error) {
        // As APScheduler 3 raises it from start(): stopped again, with the jobs not added still
        // pending, so the program can fix the job and start again.
        this.#pending.putBack(pending.slice(i));
        await this.#undoStart();
        throw error;
      }
    }
    // The loop starts first, so a scheduler_started listener that shuts down also stops it, and
    // a logger that throws cannot leave the scheduler running without its loop.
    this.#loop.start();
    // Ends of runs whose last write failed at the shutdown before are written now.
    this.#reports.writeQueued();
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
    await Promise.allSettled([...this.#plugins.executors.values()].map((e) => e.shutdown(false)));
    await shutdownStores(this.#plugins.stores, () => this.logger);
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
    const executors = [...this.#plugins.executors.values()];
    const cutShort = await stopExecutors(executors, wait, timeoutMs, signal, () => this.logger);
    await this.#reports.drain();
    await shutdownStores(this.#plugins.stores, () => this.logger);
    this.#closeTelemetry();
    this.logger.info({ schedulerId: this.schedulerId }, 'Scheduler has been shut down');
    this.#emit('scheduler_shutdown', {});
    return cutShort;
  }

  /** `await using scheduler = ...`: shuts the scheduler down (waiting for jobs) if it runs. */
  async [asyncDispose](): Promise<void> {
    if (this.running) await this.shutdown();
  }

  /** Aborts every running job through its signal and drops queued runs (a forced shutdown). */
  protected abortRunningJobs(): Promise<void> {
    return Promise.allSettled([...this.#plugins.executors.values()].map((e) => e.shutdown(false))).then(
      () => {},
    );
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
  addJobstore(store: JobStore, alias = 'default'): Promise<void> {
    return this.#plugins.addStore(store, alias, () => {
      this.#emit('jobstore_added', { alias });
      if (this.running) this.wakeup();
    });
  }

  /** Removes a job store (shutting it down). */
  async removeJobstore(alias: string, shutdown = true): Promise<void> {
    this.#plugins.lookupStore(alias);
    const started = this.running;
    // Its runs claimed ahead of their time go back to it first, for whichever scheduler is there;
    // once it is out, the ends of runs it has not recorded yet are written.
    await this.#loop.storeRemoved(alias);
    return this.#plugins.removeStore(
      alias,
      shutdown,
      () => this.#emit('jobstore_removed', { alias }),
      (store) => this.#reports.storeRemoved(store, alias),
      started,
    );
  }

  /** Adds an executor (started at once when the scheduler runs). */
  addExecutor(executor: Executor, alias = 'default'): Promise<void> {
    return this.#plugins.addExecutor(executor, alias, () => this.#emit('executor_added', { alias }));
  }

  /** Removes an executor (shutting it down, waiting for its running jobs). */
  removeExecutor(alias: string, shutdown = true): Promise<void> {
    return this.#plugins.removeExecutor(alias, shutdown, () => this.#emit('executor_removed', { alias }));
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
    this.#events.dispatch(eventOf(name, this.schedulerId, payload));
  }

  /** Resolves a stored job's task reference (see `StoreHost.restoreTask`). */
  async restoreTask(ref: string, executor: string): Promise<JobFunction> {
    try {
      return await resolveTask(ref, this.#settings.taskPolicy);
    } catch (error) {
      const target = this.#plugins.executors.get(executor);
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
        ? [...this.#plugins.stores]
        : [[jobstore, this.#plugins.lookupStore(jobstore)] as [string, JobStore]];
    return readRuns(stores, row);
  }

  /**
   * The newest run of each of these jobs (of one store, or of each store), newest first; a job
   * with no run in the history is absent. One query per store (per 1,000 jobs), where `getRuns`
   * with a `jobId` would take one per job.
   */
  async getLatestRuns(jobIds: readonly string[], jobstore?: string): Promise<JobRun[]> {
    const ids = checkJobIds(jobIds);
    const stores =
      jobstore === undefined
        ? [...this.#plugins.stores]
        : [[jobstore, this.#plugins.lookupStore(jobstore)] as [string, JobStore]];
    return readLatestRuns(stores, ids);
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

  // ---- jobs (the bodies are in job-api.ts) ----

  /**
   * Adds a job: `func` is a function or a task reference; `trigger` a trigger alias (whose
   * options are merged into the job options), a Trigger instance, or none (run once, now).
   */
  addJob<F extends JobFunction | string, T extends TriggerAlias | Trigger | undefined = undefined>(
    func: F,
    ...rest: AddJobRest<F, T>
  ): Promise<Job>;
  addJob(func: unknown, trigger?: unknown, options?: unknown): Promise<Job> {
    return this.#jobs.addJob(func, trigger, options);
  }

  /** Decorator-style `addJob`: `scheduledJob('cron', { hour: 9 })(fn)` adds `fn` and returns it. */
  scheduledJob<K extends TriggerAlias>(
    trigger: K | Trigger,
    options?: TriggerOptionsByAlias[K] & JobOptions,
  ): <F extends JobFunction>(func: F) => F {
    return this.#jobs.scheduledJob(trigger, options);
  }

  /** Changes options of a job (any but `id`). */
  modifyJob<F extends JobFunction | string = JobFunction | string>(
    id: string,
    changes: JobChanges<F>,
    jobstore?: string,
  ): Promise<Job> {
    return this.#jobs.modifyJob(id, changes, jobstore);
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
  resumeJob(id: string, jobstore?: string): Promise<Job | null> {
    return this.#jobs.resumeJob(id, jobstore);
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
  runJob(id: string, jobstore?: string): Promise<Date> {
    return this.#jobs.runJob(id, jobstore);
  }

  /** Removes a job. */
  removeJob(id: string, jobstore?: string): Promise<void> {
    return this.#jobs.removeJob(id, jobstore);
  }

  /** Removes every job (of one store, or of all). */
  removeAllJobs(jobstore?: string): Promise<void> {
    return this.#jobs.removeAllJobs(jobstore);
  }

  /** The job with this id, or `null`. */
  getJob(id: string, jobstore?: string): Promise<Job | null> {
    return this.#jobs.getJob(id, jobstore);
  }

  /**
   * Jobs (of one store, or of all), by next run time; pending jobs whose first run time is not
   * known yet after those, paused jobs last. `pending`: only pending (true) or only stored (false).
   */
  getJobs(jobstore?: string, pending?: boolean): Promise<Job[]> {
    return this.#jobs.getJobs(jobstore, pending);
  }

  /** Prints a table of jobs (id, name, trigger, next run) per store. */
  printJobs(jobstore?: string, out: { write(text: string): unknown } = process.stdout): Promise<void> {
    return this.#jobs.printJobs(jobstore, out);
  }
}
