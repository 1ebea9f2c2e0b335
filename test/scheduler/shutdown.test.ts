/**
 * shutdown({ wait, timeout, signal }) and `await using`, through the public API on fake timers:
 * how long shutdown waits, which runs it cuts short (and says so), and disposal of schedulers and
 * executors (stores: test/stores/dispose.test.ts).
 */
import { describe, expect, it, vi } from 'vitest';
import {
  BackgroundScheduler,
  getJobContext,
  PromisePoolExecutor,
  SchedulerNotRunningError,
} from '../../src/index.js';
import { fakeLogger, makeScheduler, named, record, SECOND, useFakeTime } from '../helpers/scheduler.js';

useFakeTime();

/**
 * A job that runs `ms` of fake time, or until its signal aborts (then it rejects with the reason),
 * recording how it ended; `started` resolves when one of its runs begins.
 */
function abortableJob(ms: number, ends: string[]) {
  let begin: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    begin = resolve;
  });
  const job = async (label: string) => {
    begin();
    const signal = getJobContext()?.signal as AbortSignal;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        ends.push(`${label} finished`);
        resolve();
      }, ms);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        ends.push(`${label} aborted: ${(signal.reason as Error).name}`);
        reject(signal.reason);
      });
    });
  };
  return Object.assign(job, { started });
}

/** Starts the scheduler and lets its jobs due now start running. */
async function startRunning(scheduler: BackgroundScheduler): Promise<void> {
  await scheduler.start();
  await vi.advanceTimersByTimeAsync(0);
}

describe('shutdown({ timeout })', () => {
  it('resolves with 0 when every running job finishes within the timeout', async () => {
    const scheduler = makeScheduler();
    const ends: string[] = [];
    await scheduler.addJob(abortableJob(2 * SECOND, ends), 'date', { args: ['a'] });
    await startRunning(scheduler);
    const result = scheduler.shutdown({ timeout: 5 });
    await vi.advanceTimersByTimeAsync(2 * SECOND);
    await expect(result).resolves.toBe(0);
    expect(ends).toEqual(['a finished']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('aborts the runs still going when the timeout passes, and resolves with how many', async () => {
    const logger = fakeLogger();
    const scheduler = makeScheduler({
      logger,
      executors: { default: new PromisePoolExecutor({ maxWorkers: 2 }) },
    });
    const events = record(scheduler);
    const ends: string[] = [];
    await scheduler.addJob(abortableJob(1 * SECOND, ends), 'date', { id: 'quick', args: ['quick'] });
    await scheduler.addJob(abortableJob(60 * SECOND, ends), 'date', { id: 'slow', args: ['slow'] });
    // Queued behind the two running ones (maxWorkers 2): it never starts, and counts as cut short.
    await scheduler.addJob(abortableJob(1 * SECOND, ends), 'date', { id: 'queued', args: ['queued'] });
    await startRunning(scheduler);
    let settled: number | null = null;
    const result = scheduler.shutdown({ timeout: 3 }).then((n) => (settled = n));
    await vi.advanceTimersByTimeAsync(1 * SECOND);
    // "quick" finished and "queued" took its place.
    expect(ends).toEqual(['quick finished']);
    await vi.advanceTimersByTimeAsync(1 * SECOND);
    expect(ends).toEqual(['quick finished', 'queued finished']);
    expect(settled).toBeNull();
    await vi.advanceTimersByTimeAsync(1 * SECOND);
    await result;
    expect(settled).toBe(1);
    expect(ends).toEqual(['quick finished', 'queued finished', 'slow aborted: AbortError']);
    expect(named(events, 'job_error').map((e) => e.jobId)).toEqual(['slow']);
    expect(named(events, 'scheduler_shutdown')).toHaveLength(1);
    expect(logger.warnings.map((w) => w[0])).toEqual([
      'Shutdown stopped waiting for running jobs (timeout of 3 s): 1 run(s) cut short',
    ]);
  });

  it('counts queued runs that never start as cut short', async () => {
    const scheduler = makeScheduler({ executors: { default: new PromisePoolExecutor({ maxWorkers: 1 }) } });
    const ends: string[] = [];
    for (const id of ['a', 'b', 'c']) {
      await scheduler.addJob(abortableJob(60 * SECOND, ends), 'date', { id, args: [id] });
    }
    await startRunning(scheduler);
    const result = scheduler.shutdown({ timeout: 1 });
    await vi.advanceTimersByTimeAsync(1 * SECOND);
    await expect(result).resolves.toBe(3);
    expect(ends).toEqual(['a aborted: AbortError']);
  });

  it('timeout: 0 aborts at once unless nothing runs', async () => {
    const idle = makeScheduler();
    await idle.start();
    await expect(idle.shutdown({ timeout: 0 })).resolves.toBe(0);
    const busy = makeScheduler();
    const ends: string[] = [];
    await busy.addJob(abortableJob(60 * SECOND, ends), 'date', { args: ['a'] });
    await startRunning(busy);
    const result = busy.shutdown({ timeout: 0 });
    await vi.advanceTimersByTimeAsync(0);
    await expect(result).resolves.toBe(1);
    expect(ends).toEqual(['a aborted: AbortError']);
  });
});

describe('shutdown({ signal })', () => {
  it('stops waiting when the signal aborts', async () => {
    const logger = fakeLogger();
    const scheduler = makeScheduler({ logger });
    const ends: string[] = [];
    await scheduler.addJob(abortableJob(60 * SECOND, ends), 'date', { args: ['a'] });
    await startRunning(scheduler);
    const controller = new AbortController();
    let settled: number | null = null;
    const result = scheduler.shutdown({ signal: controller.signal }).then((n) => (settled = n));
    await vi.advanceTimersByTimeAsync(10 * SECOND);
    expect(settled).toBeNull();
    controller.abort();
    await result;
    expect(settled).toBe(1);
    expect(ends).toEqual(['a aborted: AbortError']);
    expect(logger.warnings.map((w) => w[0])).toEqual([
      'Shutdown stopped waiting for running jobs (signal aborted): 1 run(s) cut short',
    ]);
  });

  it('with a signal aborted already, aborts at once; with a timeout too, the first to come wins', async () => {
    const first = makeScheduler();
    const ends: string[] = [];
    await first.addJob(abortableJob(60 * SECOND, ends), 'date', { args: ['a'] });
    await startRunning(first);
    await expect(first.shutdown({ signal: AbortSignal.abort() })).resolves.toBe(1);

    const second = makeScheduler();
    await second.addJob(abortableJob(60 * SECOND, ends), 'date', { args: ['b'] });
    await startRunning(second);
    const controller = new AbortController();
    const result = second.shutdown({ timeout: 2, signal: controller.signal });
    await vi.advanceTimersByTimeAsync(2 * SECOND);
    await expect(result).resolves.toBe(1);
    controller.abort(); // too late to matter, and no listener is left on it
    expect(ends).toEqual(['a aborted: AbortError', 'b aborted: AbortError']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a job that finishes before the signal aborts is not counted', async () => {
    const scheduler = makeScheduler();
    const ends: string[] = [];
    await scheduler.addJob(abortableJob(1 * SECOND, ends), 'date', { args: ['a'] });
    await startRunning(scheduler);
    const controller = new AbortController();
    const result = scheduler.shutdown({ signal: controller.signal });
    await vi.advanceTimersByTimeAsync(1 * SECOND);
    await expect(result).resolves.toBe(0);
    controller.abort();
    expect(ends).toEqual(['a finished']);
  });
});

describe('shutdown({ wait })', () => {
  it('wait: false aborts running runs at once and resolves with how many', async () => {
    const scheduler = makeScheduler();
    const ends: string[] = [];
    await scheduler.addJob(abortableJob(60 * SECOND, ends), 'date', { id: 'a', args: ['a'] });
    await scheduler.addJob(abortableJob(60 * SECOND, ends), 'date', { id: 'b', args: ['b'] });
    await startRunning(scheduler);
    await expect(scheduler.shutdown({ wait: false })).resolves.toBe(2);
    expect(ends).toEqual(['a aborted: AbortError', 'b aborted: AbortError']);
  });

  it('rejects bad options with a TypeError or RangeError naming the option and the value, and stays running', async () => {
    const scheduler = makeScheduler();
    await scheduler.start();
    const bad: Array<[unknown, Error]> = [
      [
        { timeout: -1 },
        new RangeError('Expected timeout to be a number of seconds from 0 and up, got -1 (number)'),
      ],
      [
        { timeout: '5' },
        new TypeError('Expected timeout to be a number of seconds from 0 and up, got "5" (string)'),
      ],
      [
        { timeout: Number.NaN },
        new RangeError('Expected timeout to be a number of seconds from 0 and up, got NaN (number)'),
      ],
      [{ signal: {} }, new TypeError('Expected signal to be an AbortSignal, got {} (Object)')],
      [{ wait: 'yes' }, new TypeError('Expected wait to be a boolean, got "yes" (string)')],
      [{ wiat: true }, new TypeError('Unknown shutdown option "wiat"')],
      [null, new TypeError('Expected shutdown options to be an object, got null')],
    ];
    for (const [options, expected] of bad) {
      const error = await scheduler.shutdown(options as never).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(expected.constructor);
      expect((error as Error).message).toBe(expected.message);
    }
    expect(scheduler.running).toBe(true);
  });
});

describe('await using', () => {
  it('shuts a running scheduler down at the end of the block, waiting for its jobs', async () => {
    const ends: string[] = [];
    const events: string[] = [];
    let left = false;
    const block = (async () => {
      await using scheduler = new BackgroundScheduler({ timezone: 'UTC' });
      scheduler.on('scheduler_shutdown', () => events.push('shutdown'));
      const job = abortableJob(2 * SECOND, ends);
      await scheduler.addJob(job, 'date', { args: ['a'] });
      await scheduler.start();
      await job.started;
    })().then(() => (left = true));
    await vi.advanceTimersByTimeAsync(1 * SECOND);
    expect([left, ends, events]).toEqual([false, [], []]);
    await vi.advanceTimersByTimeAsync(1 * SECOND);
    await block;
    expect(ends).toEqual(['a finished']);
    expect(events).toEqual(['shutdown']);
  });

  it('leaves a scheduler that is stopped already alone (no SchedulerNotRunningError)', async () => {
    const scheduler = new BackgroundScheduler({ timezone: 'UTC' });
    await scheduler.start();
    await scheduler.shutdown();
    await expect(scheduler.shutdown()).rejects.toBeInstanceOf(SchedulerNotRunningError);
    await expect(
      (async () => {
        await using disposed = scheduler;
        return disposed.running;
      })(),
    ).resolves.toBe(false);
  });

  it('an executor disposed on its own waits for its runs', async () => {
    const ends: string[] = [];
    const scheduler = makeScheduler();
    const executor = new PromisePoolExecutor();
    await scheduler.addExecutor(executor, 'own');
    await scheduler.addJob(abortableJob(1 * SECOND, ends), 'date', { args: ['a'], executor: 'own' });
    await startRunning(scheduler);
    const disposed = (async () => {
      await using _ = executor;
    })();
    await vi.advanceTimersByTimeAsync(1 * SECOND);
    await disposed;
    expect(ends).toEqual(['a finished']);
  });
});
