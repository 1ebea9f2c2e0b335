// WorkerThreadExecutor through the public API: results, errors, crashes, maxInstances, timeouts,
// job context, preload, shutdown. Workers run on real time, so time limits here are real but short.
import { afterEach, describe, expect, test, vi } from 'vitest';
import {
  BackgroundScheduler,
  JobTimeoutError,
  registerTask,
  type SchedulerEventMap,
  TaskLookupError,
  WorkerCrashedError,
  WorkerThreadExecutor,
  type WorkerThreadExecutorOptions,
} from '../../src/index.js';

const TASKS = './test/fixtures/worker/tasks.ts#';

type Name = keyof SchedulerEventMap;

const schedulers: BackgroundScheduler[] = [];

afterEach(async () => {
  for (const scheduler of schedulers.splice(0)) {
    if (scheduler.running) await scheduler.shutdown({ wait: false });
  }
});

async function startScheduler(
  options: WorkerThreadExecutorOptions = {},
  jobDefaults: Record<string, unknown> = {},
): Promise<{ scheduler: BackgroundScheduler; executor: WorkerThreadExecutor }> {
  const executor = new WorkerThreadExecutor({ maxWorkers: 2, ...options });
  const scheduler = new BackgroundScheduler({
    timezone: 'UTC',
    executors: { default: executor },
    jobDefaults,
  });
  schedulers.push(scheduler);
  await scheduler.start();
  return { scheduler, executor };
}

/** The next event named `name` for job `jobId`. */
function nextEvent<N extends Name>(
  scheduler: BackgroundScheduler,
  name: N,
  jobId: string,
): Promise<SchedulerEventMap[N]> {
  return new Promise((resolve) => {
    const listener = (event: SchedulerEventMap[N]) => {
      if (!('jobId' in event) || event.jobId !== jobId) return;
      scheduler.off(name, listener);
      resolve(event);
    };
    scheduler.on(name, listener);
  });
}

/** Runs `ref` once now and resolves to its `job_executed` or `job_error` event. */
async function runOnce(scheduler: BackgroundScheduler, ref: string, args: unknown[] = [], options = {}) {
  const id = `job-${Math.random().toString(16).slice(2)}`;
  const outcome = Promise.race([
    nextEvent(scheduler, 'job_executed', id),
    nextEvent(scheduler, 'job_error', id),
  ]);
  await scheduler.addJob(ref, undefined, { id, args, ...options });
  return outcome;
}

describe('WorkerThreadExecutor: results and errors', () => {
  test('reports the return value as job_executed, with args and Dates cloned across', async () => {
    const { scheduler } = await startScheduler();
    const sum = await runOnce(scheduler, `${TASKS}add`, [2, 3]);
    expect(sum).toMatchObject({ name: 'job_executed', retval: 5 });
    const when = new Date('2024-03-10T07:00:00Z');
    const echoed = await runOnce(scheduler, `${TASKS}echo`, [{ when, tags: ['a'] }]);
    expect(echoed).toMatchObject({ name: 'job_executed', retval: { when, tags: ['a'] } });
  });

  test('reuses its worker threads across runs', async () => {
    const { scheduler, executor } = await startScheduler({ maxWorkers: 1 });
    const first = await runOnce(scheduler, `${TASKS}whichThread`);
    const second = await runOnce(scheduler, `${TASKS}whichThread`);
    expect(first.name).toBe('job_executed');
    expect(second).toMatchObject({ name: 'job_executed', retval: (first as { retval: unknown }).retval });
    expect(executor.workerCount).toBe(1);
  });

  test('an error thrown in the worker arrives as job_error with its name, message, stack and fields', async () => {
    const { scheduler } = await startScheduler();
    const event = await runOnce(scheduler, `${TASKS}fail`, ['sku-42']);
    expect(event.name).toBe('job_error');
    const error = (event as SchedulerEventMap['job_error']).error as Error & { sku?: string };
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('InventoryError');
    expect(error.message).toBe('out of stock: sku-42');
    expect(error.sku).toBe('sku-42');
    expect(error.stack).toContain('tasks.ts');
    const typed = await runOnce(scheduler, `${TASKS}failWithTypeError`);
    expect((typed as SchedulerEventMap['job_error']).error).toBeInstanceOf(TypeError);
  });

  test('a return value that cannot be cloned is a job_error', async () => {
    const { scheduler } = await startScheduler();
    const event = await runOnce(scheduler, `${TASKS}returnsFunction`);
    expect(event.name).toBe('job_error');
    expect(String((event as SchedulerEventMap['job_error']).error)).toMatch(/cannot leave its worker thread/);
  });

  test.each([
    ['exits', 'exitThread', /exited with code 3/],
    ['crashes', 'crashThread', /crashed .*uncaught in worker/],
  ])('a worker that %s is reported as job_error and replaced', async (_, task, message) => {
    const { scheduler, executor } = await startScheduler({ maxWorkers: 1 });
    const before = await runOnce(scheduler, `${TASKS}whichThread`);
    const event = await runOnce(scheduler, `${TASKS}${task}`);
    expect(event.name).toBe('job_error');
    const error = (event as SchedulerEventMap['job_error']).error;
    expect(error).toBeInstanceOf(WorkerCrashedError);
    expect(error).toMatchObject({ name: 'WorkerCrashedError', jobId: event.jobId });
    expect(String(error)).toMatch(message);
    // A fresh worker compiles the fixture first: give this run longer than the 0.2 s default.
    const after = await runOnce(scheduler, `${TASKS}whichThread`, [], { timeout: 10 });
    expect(after.name, String((after as { error?: unknown }).error)).toBe('job_executed');
    expect((after as { retval: unknown }).retval).not.toBe((before as { retval: unknown }).retval);
    expect(executor.workerCount).toBe(1);
  });
});

describe('WorkerThreadExecutor: what a worker can run', () => {
  test('a registerTask name runs when its module is preloaded', async () => {
    const { scheduler } = await startScheduler({ preload: ['./test/fixtures/worker/registered.ts'] });
    expect(await runOnce(scheduler, 'worker-fixture:triple', [7])).toMatchObject({ retval: 21 });
  });

  test('a reference a worker cannot resolve is refused at addJob with a TaskLookupError saying what to do', async () => {
    const refusal = (scheduler: BackgroundScheduler, ref: string) =>
      scheduler.addJob(ref, 'interval', { seconds: 1 }).then(
        () => null,
        (error: unknown) => error,
      );
    // A name registered on the main thread only: the workers do not know it without preload.
    registerTask('worker-fixture:main-only', () => 1);
    const plain = await startScheduler();
    const unregistered = await refusal(plain.scheduler, 'worker-fixture:main-only');
    expect(unregistered).toBeInstanceOf(TaskLookupError);
    expect(String(unregistered)).toMatch(/worker-fixture:main-only/);
    expect(String(unregistered)).toMatch(/preload option/);
    // A module the main thread loads and a worker cannot (a .ts file without a loader there).
    const mainOnly = await refusal(plain.scheduler, './test/fixtures/worker/main-thread-only.ts#heavy');
    expect(mainOnly).toBeInstanceOf(TaskLookupError);
    expect(String(mainOnly)).toMatch(/cannot load in a worker thread/);
    expect(String(mainOnly)).toMatch(/built \.js file.*loader/);
    // A broken preload: nothing resolves.
    const broken = await startScheduler({ preload: ['./test/fixtures/worker/broken-preload.ts'] });
    const error = await refusal(broken.scheduler, `${TASKS}add`);
    expect(error).toBeInstanceOf(TaskLookupError);
    expect(String(error)).toMatch(/cannot preload .*broken-preload/);
    expect(await plain.scheduler.getJobs()).toEqual([]);
    expect(await broken.scheduler.getJobs()).toEqual([]);
    // Preloaded, the name passes.
    const preloaded = await startScheduler({ preload: ['./test/fixtures/worker/registered.ts'] });
    await preloaded.scheduler.addJob('worker-fixture:triple', 'interval', { seconds: 1, args: [2] });
    expect((await preloaded.scheduler.getJobs()).length).toBe(1);
  });

  test('refuses a job with a plain function or arguments that cannot be cloned', async () => {
    const { scheduler } = await startScheduler();
    const refused = async (run: () => Promise<unknown>) => {
      try {
        return await run();
      } catch (error) {
        return error;
      }
    };
    const plain = await refused(() => runOnce(scheduler, (() => 1) as unknown as string));
    expect(String((plain as { error?: unknown }).error ?? plain)).toMatch(/has no task reference/);
    const args = await refused(() => runOnce(scheduler, `${TASKS}echo`, [{ onDone: () => {} }]));
    expect(String((args as { error?: unknown }).error ?? args)).toMatch(/args\[0\] cannot be copied/);
  });

  test('modifyJob refuses to move a plain function to the worker threads, as addJob does', async () => {
    const executor = new WorkerThreadExecutor({ maxWorkers: 1 });
    const scheduler = new BackgroundScheduler({ timezone: 'UTC', executors: { threads: executor } });
    schedulers.push(scheduler);
    await scheduler.start({ paused: true });
    await scheduler.addJob(() => 1, 'interval', { seconds: 10, id: 'plain' });
    const error = await scheduler.modifyJob('plain', { executor: 'threads' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TypeError);
    expect(String(error)).toMatch(
      /Job "plain" cannot run in a worker thread: its function .* has no task reference/,
    );
    expect((await scheduler.getJob('plain'))?.executor).toBe('default');
    // And arguments a worker cannot receive, given to a job that runs there already.
    await scheduler.addJob(`${TASKS}echo`, 'interval', { seconds: 10, id: 'ref', executor: 'threads' });
    await expect(scheduler.modifyJob('ref', { args: [{ onDone: () => {} }] })).rejects.toThrow(
      /args\[0\] cannot be copied/,
    );
    expect((await scheduler.getJob('ref'))?.args).toEqual([]);
  });

  test('rejects bad options with a precise TypeError or RangeError', () => {
    expect(() => new WorkerThreadExecutor({ maxWorkers: 0 })).toThrow(
      new RangeError('Expected maxWorkers to be an integer from 1 and up, got 0 (number)'),
    );
    expect(() => new WorkerThreadExecutor({ maxWorkers: 0 })).toThrow(RangeError);
    expect(() => new WorkerThreadExecutor({ idleTimeout: -1 })).toThrow(
      'Expected idleTimeout to be a number of seconds from 0 and up, got -1 (number)',
    );
    expect(() => new WorkerThreadExecutor({ idleTimeout: -1 })).toThrow(RangeError);
    expect(() => new WorkerThreadExecutor({ gracePeriod: '1' as never })).toThrow(TypeError);
    expect(() => new WorkerThreadExecutor({ preload: [''] })).toThrow(/preload/);
  });
});

describe('WorkerThreadExecutor: context, maxInstances, timeouts', () => {
  test('getJobContext() works inside the worker', async () => {
    const { scheduler } = await startScheduler();
    const event = await runOnce(scheduler, `${TASKS}describeContext`);
    expect(event.name).toBe('job_executed');
    expect((event as { retval: unknown }).retval).toMatchObject({
      jobId: event.jobId,
      scheduledRunTime: event.scheduledRunTime.toISOString(),
      aborted: false,
    });
  });

  test('maxInstances holds across workers', async () => {
    const { scheduler } = await startScheduler({ maxWorkers: 3 });
    const refused = nextEvent(scheduler, 'job_max_instances', 'busy');
    const executed = nextEvent(scheduler, 'job_executed', 'busy');
    await scheduler.addJob(`${TASKS}pause`, 'interval', {
      id: 'busy',
      seconds: 0.05,
      args: [600],
      maxInstances: 1,
    });
    await refused;
    await scheduler.removeJob('busy');
    await executed;
  });

  test('freeSlots counts from maxWorkers: a run in a worker holds one', async () => {
    const { scheduler, executor } = await startScheduler({ maxWorkers: 3 });
    expect(executor.freeSlots(0)).toBe(3);
    const executed = nextEvent(scheduler, 'job_executed', 'held');
    await scheduler.addJob(`${TASKS}pause`, 'date', { id: 'held', args: [300] });
    await vi.waitFor(() => expect(executor.freeSlots(0)).toBe(2));
    await executed;
    await vi.waitFor(() => expect(executor.freeSlots(0)).toBe(3));
  });

  test('a run past its timeout is aborted and reported as JobTimeoutError (job option)', async () => {
    const { scheduler } = await startScheduler();
    const event = await runOnce(scheduler, `${TASKS}untilAborted`, [], { timeout: 0.2 });
    expect(event.name).toBe('job_error');
    const error = (event as SchedulerEventMap['job_error']).error;
    expect(error).toBeInstanceOf(JobTimeoutError);
    expect(error).toMatchObject({ jobId: event.jobId, timeout: 0.2 });
  });

  test('jobDefaults.timeout applies, and a worker that ignores the signal is terminated', async () => {
    const { scheduler, executor } = await startScheduler(
      { maxWorkers: 1, gracePeriod: 0.1 },
      { timeout: 0.2 },
    );
    const before = await runOnce(scheduler, `${TASKS}whichThread`);
    const event = await runOnce(scheduler, `${TASKS}ignoreAbort`, [20_000]);
    expect((event as SchedulerEventMap['job_error']).error).toBeInstanceOf(JobTimeoutError);
    // The blocked worker was terminated: the next run gets a fresh one instead of waiting 20 s.
    // A fresh worker compiles the fixture first: give this run longer than the 0.2 s default.
    const after = await runOnce(scheduler, `${TASKS}whichThread`, [], { timeout: 10 });
    expect(after.name, String((after as { error?: unknown }).error)).toBe('job_executed');
    expect((after as { retval: unknown }).retval).not.toBe((before as { retval: unknown }).retval);
    expect(executor.workerCount).toBe(1);
  });
});

describe('WorkerThreadExecutor: lifecycle', () => {
  test('idle workers stop after idleTimeout', async () => {
    const { scheduler, executor } = await startScheduler({ idleTimeout: 0.1 });
    expect(await runOnce(scheduler, `${TASKS}add`, [1, 2])).toMatchObject({ retval: 3 });
    await vi.waitFor(() => expect(executor.workerCount).toBe(0), { timeout: 5000, interval: 20 });
  });

  test('shutdown({ wait: true }) waits for running jobs, then stops every worker', async () => {
    const { scheduler, executor } = await startScheduler();
    const events: string[] = [];
    scheduler.on('job_executed', (event) => events.push(event.jobId));
    const submitted = nextEvent(scheduler, 'job_submitted', 'slow');
    await scheduler.addJob(`${TASKS}pause`, undefined, { id: 'slow', args: [300] });
    await submitted;
    await scheduler.shutdown({ wait: true });
    expect(events).toEqual(['slow']);
    expect(executor.workerCount).toBe(0);
  });

  test('shutdown({ timeout }) aborts what still runs when it passes, terminates its worker, and counts it', async () => {
    const { scheduler, executor } = await startScheduler({ gracePeriod: 0.1 });
    const outcomes = new Map<string, string>();
    scheduler.on('job_executed', (event) => outcomes.set(event.jobId, 'executed'));
    scheduler.on('job_error', (event) => outcomes.set(event.jobId, (event.error as Error).name));
    const quick = nextEvent(scheduler, 'job_executed', 'quick');
    const stubborn = nextEvent(scheduler, 'job_submitted', 'stubborn');
    await scheduler.addJob(`${TASKS}pause`, undefined, { id: 'quick', args: [50] });
    await scheduler.addJob(`${TASKS}ignoreAbort`, undefined, { id: 'stubborn', args: [20_000] });
    await Promise.all([quick, stubborn]);
    // The pool is closing (waiting) when the timeout forces it: the stubborn worker is terminated.
    await expect(scheduler.shutdown({ timeout: 0.2 })).resolves.toBe(1);
    expect(executor.workerCount).toBe(0);
    expect(Object.fromEntries(outcomes)).toEqual({ quick: 'executed', stubborn: 'AbortError' });
  });

  test('shutdown({ wait: false }) aborts running jobs and terminates workers that ignore it', async () => {
    const { scheduler, executor } = await startScheduler({ gracePeriod: 0.1 });
    const errors = new Map<string, unknown>();
    scheduler.on('job_error', (event) => errors.set(event.jobId, event.error));
    const polite = nextEvent(scheduler, 'job_submitted', 'polite');
    const stubborn = nextEvent(scheduler, 'job_submitted', 'stubborn');
    await scheduler.addJob(`${TASKS}untilAborted`, undefined, { id: 'polite' });
    await scheduler.addJob(`${TASKS}ignoreAbort`, undefined, { id: 'stubborn', args: [20_000] });
    await Promise.all([polite, stubborn]);
    await scheduler.shutdown({ wait: false });
    expect(executor.workerCount).toBe(0);
    expect([...errors.keys()].sort()).toEqual(['polite', 'stubborn']);
  });
});
