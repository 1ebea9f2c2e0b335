/**
 * The code each WorkerThreadExecutor worker thread runs: imports the preload modules, then runs
 * task references as the main thread asks, each inside its own job context so `getJobContext()`
 * works in the task, and forwards aborts to that context's signal.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TaskLookupError } from '../errors.js';
import type { JobFunction } from '../job.js';
import { resolveTask, specifierToImport } from '../tasks.js';
import { jobContextStorage } from './worker-context.js';
import {
  deserializeThrown,
  type RunMessage,
  type RunOutcomeMessage,
  serializeThrown,
  type ToWorkerMessage,
  type WorkerInit,
} from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('worker-entry must be started as a worker thread');
const init = workerData as WorkerInit;
const controllers = new Map<number, AbortController>();

// Runs wait for the preload; a failed preload fails each run instead of crashing the worker,
// which the pool would otherwise replace again and again.
const preloaded: Promise<unknown> = (async () => {
  for (const specifier of init.preload) {
    try {
      await import(specifierToImport(specifier));
    } catch (error) {
      throw Object.assign(new Error(`cannot preload ${JSON.stringify(specifier)}: ${String(error)}`), {
        cause: error,
      });
    }
  }
})();
preloaded.catch(() => {});

function post(message: RunOutcomeMessage): void {
  port!.postMessage(message);
}

async function run(message: RunMessage): Promise<void> {
  const controller = new AbortController();
  controllers.set(message.runId, controller);
  try {
    let fn: JobFunction;
    try {
      await preloaded;
    } catch (error) {
      throw new TaskLookupError(message.taskRef, (error as Error).message, { cause: error });
    }
    fn = await resolveTask(message.taskRef);
    if (message.resolveOnly === true) {
      post({ type: 'done', runId: message.runId, value: undefined });
      return;
    }
    // Aborted while the worker was starting or importing: do not start the task at all.
    controller.signal.throwIfAborted();
    const context = {
      jobId: message.jobId,
      scheduledRunTime: new Date(message.scheduledRunTime),
      attempt: message.attempt,
      signal: controller.signal,
    };
    const value = await jobContextStorage().run(context, () =>
      (fn as (...args: unknown[]) => unknown)(...message.args),
    );
    try {
      post({ type: 'done', runId: message.runId, value });
    } catch (error) {
      throw new TypeError(
        `Job ${JSON.stringify(message.jobId)} returned a value that cannot leave its worker thread: ${(error as Error).message}`,
      );
    }
  } catch (error) {
    post({ type: 'failed', runId: message.runId, thrown: serializeThrown(error) });
  } finally {
    controllers.delete(message.runId);
  }
}

port.on('message', (message: ToWorkerMessage) => {
  if (message.type === 'run') void run(message);
  else controllers.get(message.runId)?.abort(deserializeThrown(message.reason));
});
