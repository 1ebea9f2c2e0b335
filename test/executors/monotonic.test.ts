/**
 * Durations inside a process follow the monotonic clock, not the wall clock: a job's timeout
 * fires after its length of elapsed time whatever the wall clock does meanwhile (a step back of
 * an hour, a step forward of an hour), and so does a worker thread's idle timeout.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  BackgroundScheduler,
  type Clock,
  getJobContext,
  JobTimeoutError,
  setClock,
  WorkerThreadExecutor,
} from '../../src/index.js';
import { HOUR, makeScheduler, named, record, SECOND, useFakeTime } from '../helpers/scheduler.js';
import { waitFor } from '../helpers/wait.js';

/** A job that runs until its signal aborts. */
const untilAborted = () =>
  new Promise((_, reject) => {
    const { signal } = getJobContext() as { signal: AbortSignal };
    signal.addEventListener('abort', () => reject(signal.reason));
  });

describe('job timeouts on fake time, with wall-clock steps', () => {
  useFakeTime();

  it('a 2 s timeout fires after 2 s although the wall clock stepped back an hour', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    await scheduler.start();
    await scheduler.addJob(untilAborted, 'date', { runDate: new Date(Date.now() + 100), timeout: 2 });
    await vi.advanceTimersByTimeAsync(600);
    // Date moves back; performance.now() (the monotonic clock) does not.
    vi.setSystemTime(Date.now() - HOUR);
    await vi.advanceTimersByTimeAsync(1_400);
    expect(named(events, 'job_error')).toEqual([]);
    await vi.advanceTimersByTimeAsync(200);
    expect(named(events, 'job_error').map((e) => e.error)).toEqual([expect.any(JobTimeoutError)]);
  });

  it('a 90 s timeout does not fire early when the wall clock steps forward an hour', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    await scheduler.start();
    await scheduler.addJob(untilAborted, 'date', { runDate: new Date(Date.now() + 100), timeout: 90 });
    await vi.advanceTimersByTimeAsync(10 * SECOND);
    vi.setSystemTime(Date.now() + HOUR);
    await vi.advanceTimersByTimeAsync(70 * SECOND);
    expect(named(events, 'job_error')).toEqual([]);
    await vi.advanceTimersByTimeAsync(11 * SECOND);
    expect(named(events, 'job_error').map((e) => e.error)).toEqual([expect.any(JobTimeoutError)]);
  });
});

describe('worker idle timeout on the real clock, with a wall clock that steps back', () => {
  afterEach(() => setClock());

  it('stops an idle worker after idleTimeout of elapsed time', async () => {
    // The wall clock an hour behind from now on; the monotonic clock and timers are real.
    let offset = 0;
    const stepping: Clock = {
      now: () => Date.now() + offset,
      monotonic: () => performance.now(),
      setTimeout: (fn, ms, unref) => {
        const handle = setTimeout(fn, ms);
        if (unref) handle.unref();
        return handle;
      },
      clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
    };
    setClock(stepping);
    const executor = new WorkerThreadExecutor({ maxWorkers: 1, idleTimeout: 0.3 });
    const scheduler = new BackgroundScheduler({ timezone: 'UTC', executors: { default: executor } });
    await scheduler.start();
    try {
      const done = new Promise((resolve) => scheduler.on('job_executed', resolve));
      await scheduler.addJob('./test/fixtures/worker/tasks.ts#add', undefined, { args: [1, 2] });
      await done;
      expect(executor.workerCount).toBe(1);
      offset = -HOUR;
      await waitFor(() => executor.workerCount === 0, 'the idle worker to stop', 5_000);
    } finally {
      await scheduler.shutdown({ wait: false });
    }
  });
});
