// The worker pool under WorkerThreadExecutor, below the public API: spawning, reuse up to
// maxWorkers, abort forwarding, termination after the grace period, error transport, closing.
import { Worker } from 'node:worker_threads';
import { afterEach, expect, test, vi } from 'vitest';
import { JobTimeoutError } from '../../src/errors.js';
import { WorkerPool, type WorkerPoolOptions } from '../../src/executors/worker-pool.js';
import { deserializeThrown, serializeThrown } from '../../src/executors/worker-protocol.js';
import { workerSource } from '../../src/executors/worker-source.js';
import { startedFlag, whenStarted } from '../fixtures/worker/started.js';

const TASKS = './test/fixtures/worker/pool-tasks.ts#';
const pools: WorkerPool[] = [];

afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close(true)));
});

function makePool(options: Partial<WorkerPoolOptions> = {}): WorkerPool {
  const source = workerSource(new URL('../../src/executors/worker-source.ts', import.meta.url).href);
  const pool = new WorkerPool({
    maxWorkers: 2,
    idleTimeoutMs: 60_000,
    gracePeriodMs: 100,
    spawn: () => new Worker(source.filename, { ...source.options, workerData: { preload: [] } }),
    ...options,
  });
  pools.push(pool);
  return pool;
}

function run(pool: WorkerPool, task: string, args: unknown[] = [], signal?: AbortSignal) {
  return pool.run({ taskRef: `${TASKS}${task}`, args, jobId: task, scheduledRunTime: 0, attempt: 1 }, signal);
}

test('errors keep their class, name, message, stack and fields across the boundary', () => {
  const timeout = deserializeThrown(serializeThrown(new JobTimeoutError('j', 0.5)));
  expect(timeout).toBeInstanceOf(JobTimeoutError);
  expect(timeout).toMatchObject({ name: 'JobTimeoutError', jobId: 'j', timeout: 0.5 });
  const custom = Object.assign(new Error('no', { cause: new RangeError('deep') }), { name: 'Odd', code: 7 });
  const back = deserializeThrown(serializeThrown(custom)) as Error & { code: number };
  expect(back).toMatchObject({ name: 'Odd', message: 'no', code: 7, stack: custom.stack });
  expect(back.cause).toBeInstanceOf(RangeError);
  expect(deserializeThrown(serializeThrown({ reason: 'plain' }))).toEqual({ reason: 'plain' });
});

test('never runs more than maxWorkers at once, and reuses them', async () => {
  const pool = makePool({ maxWorkers: 2 });
  const threads = await Promise.all([1, 2, 3, 4, 5].map(() => run(pool, 'pause', [30])));
  expect(new Set(threads).size).toBeLessThanOrEqual(2);
  expect(pool.size).toBeLessThanOrEqual(2);
});

test('forwards an abort into the worker, where the task sees the reason', async () => {
  const pool = makePool();
  const controller = new AbortController();
  const running = run(pool, 'untilAborted', [], controller.signal);
  controller.abort(new JobTimeoutError('untilAborted', 1));
  await expect(running).rejects.toBeInstanceOf(JobTimeoutError);
  expect(pool.size).toBe(1);
});

test('terminates a worker that ignores the abort for longer than the grace period', async () => {
  const pool = makePool({ maxWorkers: 1, gracePeriodMs: 50 });
  const first = await run(pool, 'whichThread');
  const controller = new AbortController();
  const started = startedFlag();
  const blocked = run(pool, 'block', [20_000, started], controller.signal);
  const next = run(pool, 'whichThread');
  await whenStarted(started);
  controller.abort(new Error('stop'));
  await expect(blocked).rejects.toThrow('stop');
  expect(await next).not.toBe(first);
});

test('an abort while queued drops the run without touching a worker', async () => {
  const pool = makePool({ maxWorkers: 1 });
  const busy = run(pool, 'pause', [100]);
  const controller = new AbortController();
  const queued = run(pool, 'whichThread', [], controller.signal);
  controller.abort(new Error('never mind'));
  await expect(queued).rejects.toThrow('never mind');
  await busy;
});

test('stops idle workers after idleTimeout', async () => {
  const pool = makePool({ idleTimeoutMs: 50 });
  await run(pool, 'whichThread');
  await vi.waitFor(() => expect(pool.size).toBe(0), { timeout: 5000, interval: 20 });
});

test('close() waits for running and queued runs; close(true) rejects queued ones', async () => {
  const pool = makePool({ maxWorkers: 1 });
  const runs = [run(pool, 'pause', [50]), run(pool, 'pause', [10])];
  await pool.close(false);
  await expect(Promise.all(runs)).resolves.toHaveLength(2);
  expect(pool.size).toBe(0);
  await expect(run(pool, 'whichThread')).rejects.toThrow(/shut down/);

  const forced = makePool({ maxWorkers: 1, gracePeriodMs: 50 });
  const started = startedFlag();
  const blocked = expect(run(forced, 'block', [20_000, started])).rejects.toThrow('shutting down');
  const queued = expect(run(forced, 'whichThread')).rejects.toThrow('shutting down');
  await whenStarted(started);
  await forced.close(true, new Error('shutting down'));
  await Promise.all([blocked, queued]);
  expect(forced.size).toBe(0);
});
