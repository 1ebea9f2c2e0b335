/**
 * Shutting down the executors and stores, for `shutdown()` and for a `start()` that failed.
 */
import type { Executor } from '../executors/base.js';
import type { Logger } from '../logger.js';
import type { JobStore } from '../stores/base.js';
import { atDeadline, clock } from '../time/clock.js';

/**
 * Shuts the executors down, waiting as asked (at most `timeoutMs`, or until `signal` aborts;
 * then the runs still going are aborted); resolves to the number of runs cut short.
 */
export async function stopExecutors(
  executors: Executor[],
  wait: boolean,
  timeoutMs: number | null,
  signal: AbortSignal | null,
  logger: () => Logger,
): Promise<number> {
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
  logger().warn(`Shutdown stopped waiting for running jobs (${why}): ${cutShort} run(s) cut short`);
  return cutShort;
}

/** Shuts the stores down one after another; a store that fails to is logged and passed over. */
export async function shutdownStores(stores: Map<string, JobStore>, logger: () => Logger): Promise<void> {
  for (const [alias, store] of stores) {
    try {
      await store.shutdown();
    } catch (error) {
      logger().error(
        { err: error, jobstore: alias },
        `Job store ${JSON.stringify(alias)} failed to shut down`,
      );
    }
  }
}
