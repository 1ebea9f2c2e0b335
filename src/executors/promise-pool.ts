/**
 * PromisePoolExecutor: runs sync and async job functions in-process, at most `maxWorkers` at once.
 */
import { checkIntegerFrom } from '../checks.js';
import { describeValue } from '../describe.js';
import type { Job } from '../job.js';
import { BaseExecutor, type RunContext } from './base-executor.js';
import { jobContextStorage } from './worker-context.js';

/** Options of `PromisePoolExecutor`. */
export interface PromisePoolExecutorOptions {
  /** Most runs at once; the rest wait in a FIFO queue. Default 10. */
  maxWorkers?: number;
}

/** Runs job functions on the main thread's event loop, at most `maxWorkers` at once. */
export class PromisePoolExecutor extends BaseExecutor {
  /** Most runs at once. */
  readonly maxWorkers: number;

  constructor(options: PromisePoolExecutorOptions = {}) {
    super();
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(
        `Expected PromisePoolExecutor options to be an object, got ${describeValue(options)}`,
      );
    }
    for (const key of Object.keys(options)) {
      if (key !== 'maxWorkers')
        throw new TypeError(`Unknown option ${JSON.stringify(key)} for PromisePoolExecutor`);
    }
    const maxWorkers = checkIntegerFrom(options.maxWorkers ?? 10, 'maxWorkers', 1, true);
    this.maxWorkers = maxWorkers;
    this.concurrency = maxWorkers;
  }

  protected override runJob(job: Job, _runTime: Date, context: RunContext): unknown {
    const func = job.func as (...args: unknown[]) => unknown;
    // A sync function's value is returned as is; the base class handles either kind.
    return jobContextStorage().run(context, () => func(...job.args));
  }
}
