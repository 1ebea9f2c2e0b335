/**
 * The bodies of the scheduler's job API (`addJob`, `modifyJob`, `runJob`, `getJobs`, ...): the
 * public methods of `Scheduler`, with their doc comments, call these.
 */

import { describeValue } from '../describe.js';
import { ConflictingIdError, JobLookupError, SchedulerNotRunningError } from '../errors.js';
import type { EventName, EventPayload } from '../events.js';
import type { Executor } from '../executors/base.js';
import { Job, type JobChanges, type JobFunction } from '../job.js';
import { policyOf } from '../job-fields.js';
import type { JobStore } from '../stores/base.js';
import { UnrestorableTrigger } from '../stores/state.js';
import { isModuleRef } from '../tasks.js';
import { clock } from '../time/clock.js';
import type { Trigger } from '../triggers/base.js';
import type { Scheduler } from './base.js';
import {
  applyChanges,
  checkJobOptions,
  resolveFunc,
  resolveTrigger,
  splitOptions,
  workerOnlyTask,
} from './jobs.js';
import type { SchedulerSettings } from './options.js';
import type { PendingJob, PendingJobs } from './pending.js';
import type { Plugins } from './plugins.js';
import { formatJobTable } from './print.js';
import type { RunLoop } from './run-loop.js';

/** What the job API needs from its scheduler. */
export interface JobApiContext {
  /**
   * The scheduler: the host of the jobs built here, and the one whose public methods
   * (`logger`, `timezone`, `wakeup`, `modifyJob`, ...) the job API calls as the scheduler does.
   */
  scheduler: Scheduler;
  plugins: Plugins;
  pending: PendingJobs;
  settings(): SchedulerSettings;
  /** Whether the state is `STATE_STOPPED`. */
  isStopped(): boolean;
  /** Whether the state is `STATE_RUNNING`. */
  isRunning(): boolean;
  emit<N extends EventName>(name: N, payload: EventPayload<N>): void;
  /** The run loop's runs claimed ahead of their time, which job changes reach. */
  heldRuns: Pick<RunLoop, 'cancelHeld' | 'jobChanged' | 'storeCleared'>;
}

/** A job built from `addJob`'s arguments, before the store and executor have checked it. */
interface PreparedJob {
  job: Job;
  checked: ReturnType<typeof checkJobOptions>;
  store: JobStore;
  /** For a run-once-now job: its trigger made afresh, so "now" is when the checks are done. */
  runNow: (() => Trigger) | null;
}

/** A job with a retry policy needs a store that keeps retries (every built-in store does). */
function checkRetriesKept(store: JobStore, alias: string, retry: unknown): void {
  if (retry === null || (store.acquireRetries !== undefined && store.completeRuns !== undefined)) return;
  throw new TypeError(
    `Job store ${JSON.stringify(alias)} cannot keep retries (it has no acquireRetries and completeRuns): set retry: null for its jobs, or use a store that keeps them`,
  );
}

/** One scheduler's job API. */
export class JobApi {
  readonly #ctx: JobApiContext;
  // The run time of the last `runJob` (epoch ms): the next one is later.
  #lastRunNow = 0;

  constructor(ctx: JobApiContext) {
    this.#ctx = ctx;
  }

  /** `addJob`. */
  async addJob(func: unknown, trigger?: unknown, options?: unknown): Promise<Job> {
    const prepared = this.#prepareJob(func, trigger, options);
    return this.#addPreparedJob(prepared instanceof Promise ? await prepared : prepared);
  }

  /** Checks what can be checked without a store and builds the job (at once for a function). */
  #prepareJob(func: unknown, trigger: unknown, options: unknown): PreparedJob | Promise<PreparedJob> {
    const { scheduler, plugins } = this.#ctx;
    const settings = this.#ctx.settings();
    const [jobOptions, triggerOptions] = splitOptions(options);
    const checked = checkJobOptions(jobOptions, settings.jobDefaults, scheduler.timezone);
    const resolvedTrigger = resolveTrigger(trigger, triggerOptions, scheduler.timezone);
    const store = plugins.lookupStore(checked.jobstore);
    checkRetriesKept(store, checked.jobstore, checked.retry);
    plugins.checkExecutor(checked.executor);
    const target = plugins.executors.get(checked.executor) as Executor;
    const resolved =
      typeof func === 'string' && target.resolvesTaskNames === true && !isModuleRef(func)
        ? { func: workerOnlyTask(func), taskRef: func }
        : resolveFunc(func, settings.taskPolicy);
    const runNow =
      (trigger === undefined || trigger === null || trigger === 'date') &&
      triggerOptions.runDate === undefined
        ? () => resolveTrigger(trigger, triggerOptions, scheduler.timezone)
        : null;
    const build = ({ func: fn, taskRef }: { func: JobFunction; taskRef: string | null }): PreparedJob => ({
      checked,
      store,
      runNow,
      job: new Job(scheduler, {
        id: checked.id,
        name: checked.name ?? (fn.name || (taskRef ?? 'anonymous')),
        func: fn,
        taskRef,
        args: checked.args,
        trigger: resolvedTrigger,
        executor: checked.executor,
        jobstore: checked.jobstore,
        ...policyOf(checked),
        nextRunTime: checked.nextRunTime ?? null,
      }),
    });
    return resolved instanceof Promise ? resolved.then(build) : build(resolved);
  }

  /** The rest of `addJob`: the store's and executor's checks, then the add (or the pending list). */
  async #addPreparedJob({ job, checked, store, runNow }: PreparedJob): Promise<Job> {
    if (store.validateJob !== undefined) await store.validateJob(job);
    const validated = this.#ctx.plugins.executors.get(checked.executor)?.validateJob?.(job);
    if (validated instanceof Promise) {
      await validated;
      // The check took a while (a worker thread resolved the task): "now" is now.
      if (runNow !== null) job.trigger = runNow();
    }
    const explicit = checked.nextRunTime !== undefined;
    if (this.#ctx.isStopped()) {
      this.#ctx.pending.add(job, explicit, checked.replaceExisting);
      this.#ctx.scheduler.logger.info(
        { jobId: job.id },
        'Adding job tentatively -- it will be properly scheduled when the scheduler starts',
      );
      return job;
    }
    await this.realAddJob(job, checked.replaceExisting, explicit, clock.now());
    return job;
  }

  /** Adds a job to its store (a pending one too, from `start()`), emitting `job_added`. */
  async realAddJob(
    job: Job,
    replaceExisting: boolean,
    explicitNextRunTime: boolean,
    now: number,
  ): Promise<void> {
    if (!explicitNextRunTime) job.nextRunTime = job.trigger.getNextFireTime(null, new Date(now));
    const store = this.#ctx.plugins.lookupStore(job.jobstore);
    const mutex = this.#ctx.plugins.mutexFor(job.jobstore);
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
    this.#ctx.emit('job_added', { jobId: job.id, jobstore: job.jobstore });
    if (this.#ctx.isRunning()) this.#ctx.scheduler.wakeup();
  }

  /** `scheduledJob`'s decorator. */
  scheduledJob(trigger: unknown, options: unknown): <F extends JobFunction>(func: F) => F {
    return (func) => {
      // Bad options throw here, at the call; only the store's answer comes later.
      const prepared = this.#prepareJob(func, trigger, options);
      Promise.resolve(prepared)
        .then((p) => this.#addPreparedJob(p))
        .catch((error: unknown) => {
          const { id, jobstore } = prepared instanceof Promise ? { id: null, jobstore: null } : prepared.job;
          this.#ctx.scheduler.logger.error({ err: error, jobId: id }, 'scheduledJob could not add its job');
          if (id !== null && jobstore !== null) {
            this.#ctx.emit('job_error', {
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
  async findJob(
    id: unknown,
    jobstore?: string,
  ): Promise<{ job: Job; alias: string; pending: PendingJob | null }> {
    if (typeof id !== 'string')
      throw new TypeError(`Expected job id to be a string, got ${describeValue(id)}`);
    if (jobstore !== undefined) this.#ctx.plugins.lookupStore(jobstore);
    const entry = this.#ctx.pending.find(id, jobstore);
    if (entry !== null) return { job: entry.job, alias: entry.job.jobstore, pending: entry };
    // While stopped, only pending jobs are known (as in APScheduler): stores are not open.
    for (const [alias, store] of this.#ctx.isStopped() ? [] : this.#ctx.plugins.stores) {
      if (jobstore !== undefined && alias !== jobstore) continue;
      const job = await store.lookupJob(id);
      if (job !== null) return { job, alias, pending: null };
    }
    throw new JobLookupError(id, jobstore);
  }

  /** `modifyJob`. */
  async modifyJob(id: string, changes: JobChanges, jobstore?: string): Promise<Job> {
    const { scheduler, plugins } = this.#ctx;
    const { job, alias, pending } = await this.findJob(id, jobstore);
    const fields = await applyChanges(job, changes, scheduler.timezone);
    plugins.checkExecutor(fields.executor);
    const modified = new Job(scheduler, fields, job.pending);
    // Still unrunnable here unless its function was replaced.
    if (changes.func === undefined) modified.broken = job.broken;
    const store = plugins.lookupStore(alias);
    checkRetriesKept(store, alias, modified.retry);
    await store.validateJob?.(modified);
    // The executor's own checks, for the job as changed (a new executor, function or args).
    await plugins.executors.get(modified.executor)?.validateJob?.(modified);
    if (pending !== null) {
      this.#ctx.pending.replace(pending, modified, changes.nextRunTime !== undefined);
    } else {
      // A new next run time (pause, resume, reschedule) cancels the runs claimed ahead for the
      // old one; other changes reach them (they run the job as changed).
      if (changes.nextRunTime !== undefined) {
        await plugins
          .mutexFor(alias)
          .run(() => this.#ctx.heldRuns.cancelHeld(alias, id, false, () => store.updateJob(modified)));
      } else {
        await plugins.mutexFor(alias).run(() => store.updateJob(modified));
        this.#ctx.heldRuns.jobChanged(alias, modified.clone());
      }
    }
    this.#ctx.emit('job_modified', { jobId: id, jobstore: alias });
    if (this.#ctx.isRunning()) scheduler.wakeup();
    return modified;
  }

  /** `resumeJob`. */
  async resumeJob(id: string, jobstore?: string): Promise<Job | null> {
    const { job, alias } = await this.findJob(id, jobstore);
    if (job.trigger instanceof UnrestorableTrigger) {
      // Its trigger is unknown here: "no fire time left" would remove a job that has some.
      throw new TypeError(`Job ${JSON.stringify(id)} cannot be resumed here: ${job.broken}`);
    }
    const next = job.trigger.getNextFireTime(null, new Date(clock.now()));
    if (next === null) {
      await this.#ctx.scheduler.removeJob(id, alias);
      return null;
    }
    return this.#ctx.scheduler.modifyJob(id, { nextRunTime: next }, alias);
  }

  /** `runJob`. */
  async runJob(id: string, jobstore?: string): Promise<Date> {
    if (typeof id !== 'string') throw new TypeError(`Expected id to be a string, got ${describeValue(id)}`);
    if (this.#ctx.isStopped()) throw new SchedulerNotRunningError();
    const { alias } = await this.findJob(id, jobstore);
    const store = this.#ctx.plugins.lookupStore(alias);
    if (store.queueRun === undefined || store.acquireRetries === undefined) {
      throw new TypeError(
        `Job store ${JSON.stringify(alias)} cannot run a job outside its schedule: it has no queueRun or acquireRetries method`,
      );
    }
    // Each run asked for here has a run time of its own, also when asked for in one millisecond.
    let at = Math.max(clock.now(), this.#lastRunNow + 1);
    while (!(await store.queueRun(id, new Date(at)))) at++;
    this.#lastRunNow = at;
    this.#ctx.scheduler.logger.info(
      { jobId: id, jobstore: alias, scheduledRunTime: new Date(at) },
      `Queued a run of job ${JSON.stringify(id)} now`,
    );
    if (this.#ctx.isRunning()) this.#ctx.scheduler.wakeup();
    return new Date(at);
  }

  /** `removeJob`. */
  async removeJob(id: string, jobstore?: string): Promise<void> {
    const { plugins } = this.#ctx;
    const { alias, pending } = await this.findJob(id, jobstore);
    if (pending !== null) this.#ctx.pending.remove(pending);
    else {
      const store = plugins.lookupStore(alias);
      await plugins
        .mutexFor(alias)
        .run(() => this.#ctx.heldRuns.cancelHeld(alias, id, true, () => store.removeJob(id)));
    }
    this.#ctx.scheduler.logger.info({ jobId: id, jobstore: alias }, `Removed job ${JSON.stringify(id)}`);
    this.#ctx.emit('job_removed', { jobId: id, jobstore: alias });
  }

  /** `removeAllJobs`. */
  async removeAllJobs(jobstore?: string): Promise<void> {
    const { plugins } = this.#ctx;
    if (jobstore !== undefined) plugins.lookupStore(jobstore);
    this.#ctx.pending.removeAll(jobstore);
    for (const [alias, store] of this.#ctx.isStopped() ? [] : plugins.stores) {
      if (jobstore !== undefined && alias !== jobstore) continue;
      await plugins.mutexFor(alias).run(() => {
        this.#ctx.heldRuns.storeCleared(alias);
        return store.removeAllJobs();
      });
      this.#ctx.emit('all_jobs_removed', { alias });
    }
  }

  /** `getJob`. */
  async getJob(id: string, jobstore?: string): Promise<Job | null> {
    try {
      return (await this.findJob(id, jobstore)).job;
    } catch (error) {
      if (error instanceof JobLookupError) return null;
      throw error;
    }
  }

  /** `getJobs`. */
  async getJobs(jobstore?: string, pending?: boolean): Promise<Job[]> {
    const { plugins } = this.#ctx;
    if (jobstore !== undefined) plugins.lookupStore(jobstore);
    const jobs: Job[] = [];
    if (pending !== false) jobs.push(...this.#ctx.pending.jobs(jobstore));
    if (pending !== true && !this.#ctx.isStopped()) {
      for (const [alias, store] of plugins.stores) {
        if (jobstore === undefined || alias === jobstore) jobs.push(...(await store.getAllJobs()));
      }
    }
    const ranks = new Map(jobs.map((j) => [j, this.#ctx.pending.rank(j)]));
    return jobs.sort((a, b) => (ranks.get(a) as number) - (ranks.get(b) as number) || 0);
  }

  /** `printJobs`. */
  async printJobs(jobstore: string | undefined, out: { write(text: string): unknown }): Promise<void> {
    const { scheduler } = this.#ctx;
    const aliases = jobstore === undefined ? [...this.#ctx.plugins.stores.keys()] : [jobstore];
    const sections: Array<{ title: string; jobs: Job[] }> = [];
    if (this.#ctx.isStopped())
      sections.push({ title: 'Pending jobs', jobs: await scheduler.getJobs(jobstore, true) });
    for (const alias of aliases) {
      sections.push({ title: `Jobstore ${alias}`, jobs: await scheduler.getJobs(alias, false) });
    }
    out.write(formatJobTable(sections, scheduler.timezone));
  }
}
