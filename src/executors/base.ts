/**
 * The Executor interface (SPEC section 8): runs jobs and reports back as events.
 */
import type { SchedulerEventAny } from '../events.js';
import type { Job } from '../job.js';
import type { Logger } from '../logger.js';
import type { RunTelemetry } from '../telemetry.js';

/** What an executor needs from its scheduler. */
export interface ExecutorHost {
  /** The scheduler's logger. */
  readonly logger: Logger;
  /** The scheduler's id (hostname and pid by default). */
  readonly schedulerId: string;
  /** Emits an event to the scheduler's listeners (listeners that throw are logged). */
  dispatchEvent(event: SchedulerEventAny): void;
  /** Spans and metrics of runs, or `null` when telemetry is off (executors then skip it). */
  readonly telemetry?: RunTelemetry | null;
  /** True when some listener would receive an event with this code (lets hot paths skip building it). */
  wantsEvent(code: number): boolean;
  /**
   * True when the scheduler keeps a run history or the job may be retried: executors then pass
   * `outcomes` to `runFinished`.
   */
  readonly recordsRuns?: boolean;
  /**
   * Optional: called once a submitted instance is over (its runs finished, failed, were missed or
   * never started), so a shared store can mark the claimed runs as done. `attempt` is the one
   * `submitJob` was given; `outcomes` has one entry per run that ended (runs dropped unstarted at
   * shutdown have none).
   */
  runFinished?(job: Job, runTimes: Date[], attempt?: number, outcomes?: RunEnd[]): void;
}

/** How one run ended, as an executor reports it to `runFinished`. Times are epoch ms. */
export interface RunEnd {
  runTime: Date;
  outcome: 'success' | 'error' | 'timeout' | 'missed';
  /** `null` when the run never started (missed). */
  startedAt: number | null;
  finishedAt: number;
  error?: unknown;
  retval?: unknown;
  /** When the next attempt is due (epoch ms), or `null` when the run is not tried again. */
  retryAt: number | null;
}

/** Runs jobs. */
export interface Executor {
  /** Called by the scheduler when it starts (or when the executor is added to a running one). */
  start(scheduler: ExecutorHost, alias: string): Promise<void>;
  /**
   * Stops taking jobs; with `wait`, resolves once running jobs are done, else aborts them (a call
   * without `wait` may come while one with `wait` is still waiting). May resolve to the number of
   * runs it cut short (aborted, or queued and never started), which `Scheduler.shutdown` adds up.
   */
  shutdown(wait?: boolean): Promise<unknown>;
  /**
   * Runs `job` once for each of `runTimes` (already coalesced); `attempt` is 1 for fire times,
   * k + 1 for a k-th retry (then `runTimes` has one entry). Throws `MaxInstancesReachedError`
   * when the job has `maxInstances` runs going; runs whose fire time is older than
   * `misfireGraceTime` when they start are reported as `job_missed`.
   */
  submitJob(job: Job, runTimes: Date[], attempt?: number): void;
  /**
   * Optional: refuses (throws or rejects with a `TypeError`) a job this executor cannot run, such
   * as a plain function for a worker thread. Called by `addJob`, and by `modifyJob` for the job as
   * changed, before anything is stored.
   */
  validateJob?(job: Job): void | Promise<void>;
  /**
   * True for executors that resolve task names where they run (worker threads): `addJob` then
   * accepts a name that is not registered in this thread, and a wrong one fails at run time.
   */
  readonly resolvesTaskNames?: boolean;
  /**
   * Optional: how many more runs this executor could start within `withinMs` milliseconds: its
   * free slots now, plus the slots its runs are expected to free meanwhile (judged by how long
   * recent runs took), less the runs already waiting; `Infinity` when it has no limit. A pass
   * over a shared store acquires at most the sum of this over all executors, so other processes
   * get the rest. An executor that has it must call `host.runFinished` when an instance is over:
   * that is when the scheduler looks again for work it left to others. Without it, the executor
   * counts as unbounded.
   */
  freeSlots?(withinMs: number): number;
  /**
   * Optional, with `freeSlots`: the mean duration of recent runs in milliseconds, or `null` before
   * the first has finished. While it is `null` a pass over a shared store does not know how many
   * runs the executor can start soon: it takes up to 1,000 due jobs as if runs were quick, starts
   * them as slots free, and gives back to the store within 50 ms of their fire time the runs that
   * found no slot (see the README, "How work spreads").
   */
  meanRunMs?(): number | null;
}
