/**
 * PromisePoolExecutor (SPEC section 8): concurrency limit with a FIFO queue, sync and async jobs,
 * maxInstances, timeouts, the job context, and shutdown — on its own and through a scheduler.
 */
import { describe, expect, it, vi } from 'vitest';
import {
  type ExecutorHost,
  getJobContext,
  type JobContext,
  JobTimeoutError,
  MaxInstancesReachedError,
  PromisePoolExecutor,
  type SchedulerEventAny,
  ShutdownAbortError,
  TickworkError,
} from '../../src/index.js';
import {
  at,
  fakeLogger,
  makeJob,
  makeScheduler,
  named,
  record,
  SECOND,
  sleep,
  T0,
  useFakeTime,
} from '../helpers/scheduler.js';

useFakeTime();

/** A host that records the events an executor reports. */
function fakeHost(): ExecutorHost & { events: SchedulerEventAny[] } {
  const events: SchedulerEventAny[] = [];
  return {
    events,
    logger: fakeLogger(),
    schedulerId: 'test-host',
    dispatchEvent: (event) => {
      events.push(event);
    },
    wantsEvent: () => true,
  };
}

async function startedPool(maxWorkers?: number) {
  const pool = new PromisePoolExecutor(maxWorkers === undefined ? {} : { maxWorkers });
  const host = fakeHost();
  await pool.start(host, 'default');
  return { pool, host };
}

describe('options', () => {
  it('defaults to 10 workers', () => {
    expect(new PromisePoolExecutor().maxWorkers).toBe(10);
    expect(new PromisePoolExecutor({ maxWorkers: 3 }).maxWorkers).toBe(3);
  });

  for (const [value, shown, kind] of [
    [0, '0 (number)', RangeError],
    [-2, '-2 (number)', RangeError],
    [1.5, '1.5 (number)', RangeError],
    ['4', '"4" (string)', TypeError],
    [Number.NaN, 'NaN (number)', RangeError],
  ] as const) {
    it(`rejects maxWorkers ${shown} with a ${kind.name} naming it`, () => {
      let error: unknown = null;
      try {
        new PromisePoolExecutor({ maxWorkers: value as number });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(kind);
      expect((error as Error).message).toBe(
        `Expected maxWorkers to be an integer from 1 and up, got ${shown}`,
      );
    });
  }

  it('rejects unknown options and a non-object', () => {
    expect(() => new PromisePoolExecutor({ workers: 2 } as never)).toThrow(/"workers"/);
    expect(() => new PromisePoolExecutor(5 as never)).toThrow(/options.*5/);
  });
});

describe('running jobs', () => {
  it('runs at most maxWorkers at once; the rest wait in a FIFO queue', async () => {
    const { pool, host } = await startedPool(2);
    const started: string[] = [];
    let active = 0;
    let peak = 0;
    for (const id of ['a', 'b', 'c', 'd', 'e']) {
      const job = makeJob(id, T0, {
        func: async () => {
          started.push(`${id}@${Date.now() - T0.getTime()}`);
          active++;
          peak = Math.max(peak, active);
          await sleep(id === 'a' ? 300 : 100);
          active--;
          return id;
        },
      });
      pool.submitJob(job, [T0]);
    }
    await vi.advanceTimersByTimeAsync(1_000);
    expect(peak).toBe(2);
    // b finishes at 100 ms: c starts; c at 200: d; a at 300: e.
    expect(started).toEqual(['a@0', 'b@0', 'c@100', 'd@200', 'e@300']);
    expect(named(host.events, 'job_executed').map((e) => e.retval)).toEqual(['b', 'c', 'a', 'd', 'e']);
  });

  it('freeSlots counts free workers less queued runs, plus the turns recent run times promise', async () => {
    const { pool } = await startedPool(4);
    expect(pool.freeSlots(50)).toBe(4);
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) {
      pool.submitJob(makeJob(id, T0, { func: () => sleep(100) }), [T0]);
    }
    // Queued runs count before they start.
    expect(pool.freeSlots(0)).toBe(0);
    await vi.advanceTimersByTimeAsync(0);
    // Four run, two wait; no run has ended yet, so nothing is promised ahead.
    expect(pool.freeSlots(50)).toBe(0);
    await vi.advanceTimersByTimeAsync(100);
    // Runs take 100 ms: in 200 ms each of the 4 workers turns twice; 2 run, 2 are free.
    expect(pool.freeSlots(0)).toBe(2);
    expect(pool.freeSlots(200)).toBe(10);
    await vi.advanceTimersByTimeAsync(100);
    expect(pool.freeSlots(0)).toBe(4);
    // An instant run pulls the mean down: more turns are promised ahead, none without a horizon.
    pool.submitJob(makeJob('g', T0, { func: () => 1 }), [T0]);
    await vi.advanceTimersByTimeAsync(0);
    expect(pool.freeSlots(0)).toBe(4);
    expect(pool.freeSlots(50)).toBeGreaterThan(4);
  });

  it('runs sync and async functions, reporting what they return or throw', async () => {
    const { pool, host } = await startedPool();
    const syncError = new Error('sync');
    const asyncError = new Error('async');
    const jobs = [
      makeJob('sync-ok', T0, { func: (a: number, b: number) => a + b, args: [2, 3] } as never),
      makeJob('async-ok', T0, { func: async () => 'later' }),
      makeJob('sync-bad', T0, {
        func: () => {
          throw syncError;
        },
      }),
      makeJob('async-bad', T0, { func: async () => Promise.reject(asyncError) }),
    ];
    for (const job of jobs) pool.submitJob(job, [T0]);
    await vi.advanceTimersByTimeAsync(0);
    expect(named(host.events, 'job_executed').map((e) => [e.jobId, e.retval, e.schedulerId])).toEqual([
      ['sync-ok', 5, 'test-host'],
      ['async-ok', 'later', 'test-host'],
    ]);
    expect(named(host.events, 'job_error').map((e) => [e.jobId, e.error])).toEqual([
      ['sync-bad', syncError],
      ['async-bad', asyncError],
    ]);
  });

  it('starts runs after submitJob returns, never inside it', () => {
    const pool = new PromisePoolExecutor();
    let ran = false;
    void pool.start(fakeHost(), 'default');
    pool.submitJob(
      makeJob('a', T0, {
        func: () => {
          ran = true;
        },
      }),
      [T0],
    );
    expect(ran).toBe(false);
  });

  it('runs the run times of one submission in order, in one instance', async () => {
    const { pool, host } = await startedPool();
    const times: number[] = [];
    const job = makeJob('multi', T0, {
      func: async () => {
        times.push(getJobContext()?.scheduledRunTime.getTime() as number);
        await sleep(10);
      },
    });
    pool.submitJob(job, [at(-2 * SECOND), at(-SECOND), T0]);
    expect(pool.instancesOf('multi')).toBe(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(times).toEqual([at(-2 * SECOND).getTime(), at(-SECOND).getTime(), T0.getTime()]);
    expect(named(host.events, 'job_executed').length).toBe(3);
    expect(pool.instancesOf('multi')).toBe(0);
  });

  it('counts queued and running runs toward maxInstances', async () => {
    const { pool } = await startedPool(1);
    const job = makeJob('j', T0, { func: () => sleep(100), maxInstances: 2 });
    pool.submitJob(job, [T0]);
    pool.submitJob(job, [T0]);
    expect(pool.instancesOf('j')).toBe(2);
    const error = (() => {
      try {
        pool.submitJob(job, [T0]);
        return null;
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(MaxInstancesReachedError);
    expect((error as MaxInstancesReachedError).jobId).toBe('j');
    await vi.advanceTimersByTimeAsync(100);
    expect(pool.instancesOf('j')).toBe(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(pool.instancesOf('j')).toBe(0);
    pool.submitJob(job, [T0]);
  });

  it('checks the grace time when a queued run starts', async () => {
    const { pool, host } = await startedPool(1);
    pool.submitJob(makeJob('blocker', T0, { func: () => sleep(3_000) }), [T0]);
    pool.submitJob(makeJob('strict', T0, { misfireGraceTime: 2 }), [T0]);
    pool.submitJob(makeJob('lenient', T0, { misfireGraceTime: 5 }), [T0]);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(named(host.events, 'job_missed').map((e) => [e.jobId, e.scheduledRunTime.getTime()])).toEqual([
      ['strict', T0.getTime()],
    ]);
    expect(named(host.events, 'job_executed').map((e) => e.jobId)).toEqual(['blocker', 'lenient']);
  });
});

describe('job context', () => {
  it('getJobContext() gives the run’s jobId and scheduledRunTime inside a job, undefined outside', async () => {
    const { pool } = await startedPool();
    const seen: Array<JobContext | undefined> = [];
    pool.submitJob(
      makeJob('ctx', T0, {
        func: async () => {
          seen.push(getJobContext());
          await sleep(10);
          // Still there after an await.
          seen.push(getJobContext());
        },
      }),
      [at(-SECOND)],
    );
    expect(getJobContext()).toBeUndefined();
    await vi.advanceTimersByTimeAsync(10);
    expect(seen.map((c) => [c?.jobId, c?.scheduledRunTime.getTime(), c?.signal.aborted])).toEqual([
      ['ctx', at(-SECOND).getTime(), false],
      ['ctx', at(-SECOND).getTime(), false],
    ]);
    expect(getJobContext()).toBeUndefined();
  });

  it('separate runs have separate contexts', async () => {
    const { pool } = await startedPool();
    const seen: string[] = [];
    for (const id of ['x', 'y']) {
      pool.submitJob(
        makeJob(id, T0, {
          func: async () => {
            await sleep(id === 'x' ? 20 : 10);
            seen.push(`${id}:${getJobContext()?.jobId}`);
          },
        }),
        [T0],
      );
    }
    await vi.advanceTimersByTimeAsync(20);
    expect(seen).toEqual(['y:y', 'x:x']);
  });
});

describe('timeouts', () => {
  it('a run past its timeout is reported as job_error with JobTimeoutError, and its signal aborts', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    let signal: AbortSignal | undefined;
    let abortedAt: number | null = null;
    await scheduler.addJob(
      async () => {
        signal = getJobContext()?.signal;
        signal?.addEventListener('abort', () => {
          abortedAt = Date.now();
        });
        await sleep(10_000);
      },
      'date',
      { id: 'slow', timeout: 1.5 },
    );
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(1_499);
    expect([signal?.aborted, named(events, 'job_error')]).toEqual([false, []]);
    await vi.advanceTimersByTimeAsync(1);
    const [error] = named(events, 'job_error');
    expect(error.error).toBeInstanceOf(JobTimeoutError);
    expect((error.error as JobTimeoutError).jobId).toBe('slow');
    expect((error.error as JobTimeoutError).timeout).toBe(1.5);
    expect([error.jobId, error.scheduledRunTime.getTime()]).toEqual(['slow', T0.getTime()]);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBe(error.error);
    expect(abortedAt).toBe(at(1_500).getTime());
    expect(named(events, 'job_executed')).toEqual([]);
  });

  it('a run that ends in time is not aborted', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    let signal: AbortSignal | undefined;
    await scheduler.addJob(
      async () => {
        signal = getJobContext()?.signal;
        await sleep(500);
        return 'in time';
      },
      'date',
      { timeout: 1 },
    );
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(named(events, 'job_executed').map((e) => e.retval)).toEqual(['in time']);
    expect(named(events, 'job_error')).toEqual([]);
    expect(signal?.aborted).toBe(false);
  });

  it('a run past its timeout keeps its maxInstances slot, and shutdown waits, until its code settles', async () => {
    const scheduler = makeScheduler({ logger: false });
    const events = record(scheduler);
    let running = 0;
    let most = 0;
    await scheduler.addJob(
      async () => {
        running++;
        most = Math.max(most, running);
        // Ignores its signal: it goes on for 3.5 s whatever happens.
        await sleep(3_500);
        running--;
      },
      'interval',
      { seconds: 1, id: 'stubborn', timeout: 1, maxInstances: 1 },
    );
    await scheduler.start();
    // Runs from 1 s; reported at its 1 s timeout (2 s), but still running until 4.5 s.
    await vi.advanceTimersByTimeAsync(2_000);
    expect(
      named(events, 'job_error').map((e) => [e.scheduledRunTime, e.error instanceof JobTimeoutError]),
    ).toEqual([[at(SECOND), true]]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(most).toBe(1);
    expect(named(events, 'job_max_instances').map((e) => e.scheduledRunTimes)).toEqual([
      [at(2 * SECOND)],
      [at(3 * SECOND)],
      [at(4 * SECOND)],
    ]);
    let stopped = false;
    const shutdown = scheduler.shutdown({ wait: true }).then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(400);
    expect([stopped, running]).toEqual([false, 1]);
    await vi.advanceTimersByTimeAsync(100);
    await shutdown;
    expect([stopped, running, most]).toEqual([true, 0, 1]);
  });

  it('jobDefaults.timeout applies to jobs that set none', async () => {
    const scheduler = makeScheduler({ jobDefaults: { timeout: 2 } });
    const events = record(scheduler);
    const job = await scheduler.addJob(() => sleep(60_000));
    expect(job.timeout).toBe(2);
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(named(events, 'job_error').map((e) => e.error instanceof JobTimeoutError)).toEqual([true]);
  });
});

describe('shutdown', () => {
  it('shutdown(false) aborts the signal of running runs and drops queued ones', async () => {
    const { pool, host } = await startedPool(1);
    let signal: AbortSignal | undefined;
    let queuedRan = false;
    pool.submitJob(
      makeJob('running', T0, {
        func: async () => {
          signal = getJobContext()?.signal;
          await sleep(1_000);
        },
      }),
      [T0],
    );
    pool.submitJob(
      makeJob('queued', T0, {
        func: () => {
          queuedRan = true;
        },
      }),
      [T0],
    );
    await vi.advanceTimersByTimeAsync(10);
    if (signal === undefined) throw new Error('the running job saw no signal');
    expect(signal.aborted).toBe(false);
    await pool.shutdown(false);
    expect(signal.aborted).toBe(true);
    expect((signal.reason as Error).name).toBe('AbortError');
    expect(signal.reason).toBeInstanceOf(ShutdownAbortError);
    expect(signal.reason).toBeInstanceOf(TickworkError);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(queuedRan).toBe(false);
    expect(pool.instancesOf('queued')).toBe(0);
    expect(host.events.some((e) => 'jobId' in e && e.jobId === 'queued')).toBe(false);
  });

  it('shutdown(true) resolves once running and queued runs are done', async () => {
    const { pool } = await startedPool(1);
    const done: string[] = [];
    for (const id of ['first', 'second']) {
      pool.submitJob(
        makeJob(id, T0, {
          func: async () => {
            await sleep(1_000);
            done.push(id);
          },
        }),
        [T0],
      );
    }
    await vi.advanceTimersByTimeAsync(10);
    let resolved = false;
    const shutdown = pool.shutdown(true).then(() => {
      resolved = true;
    });
    await vi.advanceTimersByTimeAsync(1_000);
    expect([resolved, done]).toEqual([false, ['first']]);
    await vi.advanceTimersByTimeAsync(1_000);
    await shutdown;
    expect([resolved, done]).toEqual([true, ['first', 'second']]);
  });

  it('shutdown(true) with nothing running resolves at once', async () => {
    const { pool } = await startedPool();
    await pool.shutdown(true);
  });

  it('through the scheduler: shutdown({ wait: false }) aborts, shutdown() waits', async () => {
    for (const wait of [false, true]) {
      const scheduler = makeScheduler();
      let signal: AbortSignal | undefined;
      let finished = false;
      await scheduler.addJob(async () => {
        signal = getJobContext()?.signal;
        await sleep(1_000);
        finished = true;
      });
      await scheduler.start();
      await vi.advanceTimersByTimeAsync(10);
      let resolved = false;
      const shutdown = scheduler.shutdown({ wait }).then(() => {
        resolved = true;
      });
      await vi.advanceTimersByTimeAsync(0);
      expect([resolved, signal?.aborted]).toEqual([!wait, !wait]);
      await vi.advanceTimersByTimeAsync(1_000);
      await shutdown;
      expect([resolved, finished, signal?.aborted]).toEqual([true, true, !wait]);
    }
  });
});

describe('through the scheduler', () => {
  it('a maxWorkers: 2 pool runs six due jobs two at a time, in order', async () => {
    const scheduler = makeScheduler({ executors: { default: new PromisePoolExecutor({ maxWorkers: 2 }) } });
    let active = 0;
    let peak = 0;
    const starts: Array<[number, number]> = [];
    for (let i = 0; i < 6; i++) {
      await scheduler.addJob(
        async (n: number) => {
          active++;
          peak = Math.max(peak, active);
          starts.push([n, Date.now() - T0.getTime()]);
          await sleep(100);
          active--;
        },
        'date',
        { args: [i], runDate: at(SECOND), misfireGraceTime: null },
      );
    }
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(SECOND + 300);
    expect(peak).toBe(2);
    expect(starts).toEqual([
      [0, 1_000],
      [1, 1_000],
      [2, 1_100],
      [3, 1_100],
      [4, 1_200],
      [5, 1_200],
    ]);
  });
});
