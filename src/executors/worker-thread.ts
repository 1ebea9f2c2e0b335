/**
 * WorkerThreadExecutor: runs task references in a pool of worker threads, for CPU-bound jobs
 * that would otherwise stall the main thread's event loop.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { checkIntegerFrom, checkSecondsFromZero } from '../checks.js';
import { describeValue } from '../describe.js';
import { ShutdownAbortError, TaskLookupError } from '../errors.js';
import type { Job } from '../job.js';
import { isModuleRef } from '../tasks.js';
import { BaseExecutor, type RunContext } from './base-executor.js';
import { WorkerPool } from './worker-pool.js';
import {
  deserializeThrown,
  findUncloneableArg,
  type RunMessage,
  type RunOutcomeMessage,
  type WorkerInit,
} from './worker-protocol.js';
import { workerSource } from './worker-source.js';

/** Options of `WorkerThreadExecutor`. */
export interface WorkerThreadExecutorOptions {
  /** Most worker threads (and so runs) at once; default: the number of CPU cores. */
  maxWorkers?: number;
  /** Seconds an idle worker thread is kept for reuse before it is stopped; default 60. */
  idleTimeout?: number;
  /** Seconds a worker may go on after its run was aborted before it is terminated; default 1. */
  gracePeriod?: number;
  /**
   * Modules every worker imports when it starts (specifiers as in task references: relative to
   * the working directory, or package names), so the `registerTask` calls they make run in the
   * worker too and those names can be used as task references.
   */
  preload?: string[];
}

/**
 * The `TaskLookupError` for a reference a worker thread cannot resolve, saying what to do: a
 * registered name needs the module that registers it in `preload`; a TypeScript module needs a
 * `.js` build or a loader in the workers.
 */
function cannotResolve(ref: string, error: unknown, preload: string[]): TaskLookupError {
  const reason = error instanceof Error ? error.message : String(error);
  let advice: string;
  if (!isModuleRef(ref)) {
    advice =
      preload.length === 0
        ? 'worker threads only know the names registered by the modules in the executor’s preload option: ' +
          "list the module that calls registerTask there (new WorkerThreadExecutor({ preload: ['./tasks.js'] }))"
        : `none of the preload modules (${preload.map((p) => JSON.stringify(p)).join(', ')}) registers it: ` +
          'add the module that calls registerTask to preload';
  } else if (/\.[mc]?tsx?$/.test(ref.slice(0, ref.lastIndexOf('#')))) {
    advice =
      'worker threads do not inherit the TypeScript loader of the main thread (tsx, ts-node): ' +
      'reference the built .js file, or register a loader in the workers with a module listed in preload ' +
      "(for tsx, one that runs: import { register } from 'tsx/esm/api'; register();)";
  } else {
    advice =
      'a worker thread imports it as the main thread would: check that the module loads outside the main thread';
  }
  return new TaskLookupError(ref, `a worker thread cannot resolve it (${reason}); ${advice}`, {
    cause: error,
  });
}

/**
 * Runs jobs in worker threads. A job must name its function by a task reference:
 * `'module-specifier#exportName'`, or a `registerTask` name from a module listed in `preload`.
 * Arguments and return values cross the thread boundary by structured clone.
 */
export class WorkerThreadExecutor extends BaseExecutor {
  /** Most worker threads alive at once. */
  readonly maxWorkers: number;
  readonly #idleTimeoutMs: number;
  readonly #gracePeriodMs: number;
  readonly #preload: string[];
  #pool: WorkerPool | null = null;
  // Task references checked in a worker thread, by reference.
  readonly #resolvable = new Map<string, Promise<void>>();
  #closingPool: WorkerPool | null = null;

  constructor(options: WorkerThreadExecutorOptions = {}) {
    super();
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(
        `Expected WorkerThreadExecutor options to be an object, got ${describeValue(options)}`,
      );
    }
    this.maxWorkers = checkIntegerFrom(options.maxWorkers ?? availableParallelism(), 'maxWorkers', 1);
    this.#idleTimeoutMs = checkSecondsFromZero(options.idleTimeout ?? 60, 'idleTimeout') * 1000;
    this.#gracePeriodMs = checkSecondsFromZero(options.gracePeriod ?? 1, 'gracePeriod') * 1000;
    const preload = options.preload ?? [];
    if (!Array.isArray(preload) || preload.some((entry) => typeof entry !== 'string' || entry === '')) {
      throw new TypeError(
        `Expected preload to be an array of module specifiers, got ${describeValue(options.preload)}`,
      );
    }
    this.#preload = [...preload];
  }

  /** Task names are resolved in the workers (their `preload` modules register them). */
  readonly resolvesTaskNames = true;

  /** The pool queues runs itself: `freeSlots` counts from its `maxWorkers`. */
  protected override get slots(): number {
    return this.maxWorkers;
  }

  /** Live worker threads (busy and idle). */
  get workerCount(): number {
    return this.#pool?.size ?? 0;
  }

  /**
   * Refuses a job that a worker cannot run: no task reference, arguments that do not clone, or a
   * reference a worker thread cannot resolve (checked in a worker, as runs will resolve it, with
   * the preload modules; a reference found once is not checked again).
   */
  async validateJob(job: Job): Promise<void> {
    this.#checkJob(job);
    await this.#checkResolvable(job.taskRef as string);
  }

  #checkResolvable(ref: string): Promise<void> {
    let check = this.#resolvable.get(ref);
    if (check === undefined) {
      check = this.#resolveInWorker(ref);
      this.#resolvable.set(ref, check);
      // A failure may pass later (a module built or deployed meanwhile): not remembered.
      check.catch(() => this.#resolvable.delete(ref));
    }
    return check;
  }

  /** Resolves `ref` in a worker thread of its own, started as the pool starts them. */
  #resolveInWorker(ref: string): Promise<void> {
    const source = workerSource();
    const workerData: WorkerInit = { preload: this.#preload };
    const worker = new Worker(source.filename, { ...source.options, workerData });
    worker.unref();
    const message: RunMessage = {
      type: 'run',
      runId: 0,
      taskRef: ref,
      args: [],
      jobId: '',
      scheduledRunTime: 0,
      attempt: 1,
      resolveOnly: true,
    };
    return new Promise<void>((resolve, reject) => {
      worker.once('message', (outcome: RunOutcomeMessage) => {
        if (outcome.type === 'done') resolve();
        else reject(cannotResolve(ref, deserializeThrown(outcome.thrown), this.#preload));
      });
      worker.once('error', (error) => reject(cannotResolve(ref, error, this.#preload)));
      worker.once('exit', (code) =>
        reject(cannotResolve(ref, new Error(`the worker thread exited with code ${code}`), this.#preload)),
      );
      worker.postMessage(message);
    }).finally(() => void worker.terminate());
  }

  /** The checks of `validateJob` that need no worker thread. */
  #checkJob(job: Job): void {
    if (job.taskRef === null) {
      throw new TypeError(
        `Job ${JSON.stringify(job.id)} cannot run in a worker thread: its function ${describeValue(job.func)} ` +
          `has no task reference (pass 'module-specifier#exportName', or register it with registerTask ` +
          'in a module listed in the executor\u2019s preload option)',
      );
    }
    const bad = findUncloneableArg(job.args);
    if (bad !== null) {
      throw new TypeError(
        `Job ${JSON.stringify(job.id)} cannot run in a worker thread: ${bad.path} cannot be copied to it ` +
          `(structured clone): ${bad.reason}`,
      );
    }
  }

  protected override runJob(job: Job, runTime: Date, context: RunContext): Promise<unknown> {
    this.#checkJob(job);
    const pool = (this.#pool ??= this.#createPool());
    return pool.run(
      {
        taskRef: job.taskRef!,
        args: job.args,
        jobId: job.id,
        scheduledRunTime: runTime.getTime(),
        attempt: context.attempt,
      },
      context.signal,
    );
  }

  override async shutdown(wait = true): Promise<number> {
    // A shutdown without waiting may come while one with waiting is under way: it forces the
    // pool that one is closing.
    const pool = this.#pool ?? this.#closingPool;
    this.#pool = null;
    this.#closingPool = pool;
    const reason = new ShutdownAbortError();
    try {
      const [cutShort] = await Promise.all([super.shutdown(wait), pool?.close(!wait, reason)]);
      return cutShort;
    } finally {
      if (this.#closingPool === pool) this.#closingPool = null;
    }
  }

  #createPool(): WorkerPool {
    const source = workerSource();
    const workerData: WorkerInit = { preload: this.#preload };
    return new WorkerPool({
      maxWorkers: this.maxWorkers,
      idleTimeoutMs: this.#idleTimeoutMs,
      gracePeriodMs: this.#gracePeriodMs,
      spawn: () => new Worker(source.filename, { ...source.options, workerData }),
    });
  }
}
