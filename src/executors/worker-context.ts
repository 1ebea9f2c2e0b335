/**
 * The AsyncLocalStorage that holds the running job's context, shared by every copy of tickwork
 * in a thread. The package ships two bundles (the library and the worker entry, each in ESM and
 * CommonJS), and each would otherwise hold its own storage: a task that imports `getJobContext`
 * from 'tickwork' must read the storage that the worker entry runs it in.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** What a running job can learn about its run. */
export interface JobContext {
  /** The id of the job. */
  jobId: string;
  /** The fire time this run is for. */
  scheduledRunTime: Date;
  /** 1 for the fire time itself, k + 1 for its k-th retry (job option `retry`). */
  attempt: number;
  /** Aborts when the run times out or the executor shuts down without waiting. */
  signal: AbortSignal;
}

const STORAGE_KEY = Symbol.for('tickwork.jobContextStorage');

/** The thread's one job-context storage (created on first use). */
export function jobContextStorage(): AsyncLocalStorage<JobContext> {
  const holder = globalThis as { [STORAGE_KEY]?: AsyncLocalStorage<JobContext> };
  holder[STORAGE_KEY] ??= new AsyncLocalStorage<JobContext>();
  return holder[STORAGE_KEY];
}
