/**
 * `getJobContext()`: what a running job can learn about its run, from inside the job.
 */
import { type JobContext, jobContextStorage } from './worker-context.js';

export type { JobContext } from './worker-context.js';

/**
 * The context of the job run this code is part of (`{ jobId, scheduledRunTime, signal }`), or
 * `undefined` outside a job run. Works in `PromisePoolExecutor` and `WorkerThreadExecutor` jobs.
 */
export function getJobContext(): JobContext | undefined {
  return jobContextStorage().getStore();
}
