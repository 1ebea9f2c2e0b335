/**
 * Scheduler lifecycle through the public API, on fake timers: start/shutdown/pause/resume, state,
 * configure(), BlockingScheduler and its signals, BackgroundScheduler's daemon option.
 */
import { hostname } from 'node:os';
import { describe, expect, it, vi } from 'vitest';
import {
  BackgroundScheduler,
  BlockingScheduler,
  ConflictingIdError,
  getJobContext,
  JobLookupError,
  JobTimeoutError,
  MaxInstancesReachedError,
  SchedulerAlreadyRunningError,
  SchedulerNotRunningError,
  SerializationError,
  STATE_PAUSED,
  STATE_RUNNING,
  STATE_STOPPED,
  TaskLookupError,
} from '../../src/index.js';
import {
  at,
  fakeLogger,
  makeScheduler,
  named,
  record,
  SECOND,
  sleep,
  T0,
  track,
  useFakeTime,
} from '../helpers/scheduler.js';

useFakeTime();

describe('states and lifecycle events', () => {
  it('has the SPEC values for the states', () => {
    expect([STATE_STOPPED, STATE_RUNNING, STATE_PAUSED]).toEqual([0, 1, 2]);
  });

  it('moves between stopped, running and paused, emitting one event per change', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    expect([scheduler.state, scheduler.running]).toEqual([STATE_STOPPED, false]);
    await scheduler.start();
    expect([scheduler.state, scheduler.running]).toEqual([STATE_RUNNING, true]);
    scheduler.resume(); // already running: nothing happens
    scheduler.pause();
    expect([scheduler.state, scheduler.running]).toEqual([STATE_PAUSED, true]);
    scheduler.pause(); // already paused: nothing happens
    scheduler.resume();
    expect(scheduler.state).toBe(STATE_RUNNING);
    await scheduler.shutdown();
    expect([scheduler.state, scheduler.running]).toEqual([STATE_STOPPED, false]);
    expect(events.map((e) => [e.name, e.code])).toEqual([
      ['scheduler_started', 1],
      ['scheduler_paused', 4],
      ['scheduler_resumed', 8],
      ['scheduler_shutdown', 2],
    ]);
    for (const event of events) {
      expect(Object.keys(event).sort()).toEqual(['code', 'name', 'schedulerId']);
      expect(event.schedulerId).toBe(`${hostname()}-${process.pid}`);
    }
  });

  it('start({ paused: true }) starts paused: no job runs until resume()', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    const runs: number[] = [];
    await scheduler.addJob(() => runs.push(Date.now()), 'date', { runDate: at(5 * SECOND) });
    await scheduler.start({ paused: true });
    expect(scheduler.state).toBe(STATE_PAUSED);
    expect(scheduler.running).toBe(true);
    await vi.advanceTimersByTimeAsync(10 * SECOND);
    expect(runs).toEqual([]);
    // The job went to its store at start, with its first run time.
    expect((await scheduler.getJobs()).map((j) => [j.pending, j.nextRunTime?.getTime()])).toEqual([
      [false, at(5 * SECOND).getTime()],
    ]);
    scheduler.resume();
    await vi.advanceTimersByTimeAsync(0);
    // 5 s late, beyond the default grace time of 1 s: missed, not run.
    expect(runs).toEqual([]);
    expect(named(events, 'job_missed').map((e) => e.scheduledRunTime.getTime())).toEqual([
      at(5 * SECOND).getTime(),
    ]);
    expect(events.map((e) => e.name)).toEqual([
      'job_added',
      'scheduler_started',
      'scheduler_resumed',
      'job_submitted',
      'job_missed',
      'job_removed',
    ]);
  });

  it('a paused scheduler runs a due job once resumed within its grace time', async () => {
    const scheduler = makeScheduler();
    const runs: number[] = [];
    await scheduler.addJob(() => runs.push(Date.now()), 'interval', { seconds: 10, misfireGraceTime: null });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(10 * SECOND);
    expect(runs).toEqual([at(10 * SECOND).getTime()]);
    scheduler.pause();
    await vi.advanceTimersByTimeAsync(35 * SECOND);
    expect(runs.length).toBe(1);
    scheduler.resume();
    await vi.advanceTimersByTimeAsync(0);
    // Coalesced (the default): the three missed runs make one, at the resume instant.
    expect(runs).toEqual([at(10 * SECOND).getTime(), at(45 * SECOND).getTime()]);
    await vi.advanceTimersByTimeAsync(5 * SECOND);
    expect(runs.length).toBe(3);
  });

  it('throws SchedulerAlreadyRunningError and SchedulerNotRunningError', async () => {
    const scheduler = makeScheduler();
    await expect(scheduler.shutdown()).rejects.toBeInstanceOf(SchedulerNotRunningError);
    expect(() => scheduler.pause()).toThrow(SchedulerNotRunningError);
    expect(() => scheduler.resume()).toThrow(SchedulerNotRunningError);
    await scheduler.start({ paused: true });
    await expect(scheduler.start()).rejects.toBeInstanceOf(SchedulerAlreadyRunningError);
    scheduler.resume();
    await expect(scheduler.start()).rejects.toBeInstanceOf(SchedulerAlreadyRunningError);
    await scheduler.shutdown();
    await expect(scheduler.shutdown()).rejects.toBeInstanceOf(SchedulerNotRunningError);
  });

  it('every error class is an Error named after its class', () => {
    const errors = [
      new ConflictingIdError('a'),
      new JobLookupError('a'),
      new MaxInstancesReachedError('a', 1),
      new SchedulerAlreadyRunningError(),
      new SchedulerNotRunningError(),
      new SerializationError('args[0]', 'a function'),
      new TaskLookupError('t', 'no such task'),
      new JobTimeoutError('a', 1),
    ];
    for (const error of errors) {
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe(error.constructor.name);
    }
  });

  it('can start again after shutdown; its stored jobs are kept', async () => {
    const scheduler = makeScheduler();
    const runs: number[] = [];
    await scheduler.addJob(() => runs.push(Date.now()), 'interval', { seconds: 10, id: 'tick' });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(10 * SECOND);
    await scheduler.shutdown();
    await vi.advanceTimersByTimeAsync(30 * SECOND);
    expect(runs).toEqual([at(10 * SECOND).getTime()]);
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(0);
    // Fire times 20 s, 30 s and 40 s were due; coalesced, the latest (40 s, now) runs.
    expect(runs).toEqual([at(10 * SECOND).getTime(), at(40 * SECOND).getTime()]);
    await vi.advanceTimersByTimeAsync(10 * SECOND);
    expect(runs.at(-1)).toBe(at(50 * SECOND).getTime());
    expect(runs.length).toBe(3);
  });

  it('leaves no timer behind after shutdown', async () => {
    const scheduler = makeScheduler();
    await scheduler.addJob(() => {}, 'interval', { hours: 1 });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(SECOND);
    expect(vi.getTimerCount()).toBe(1);
    await scheduler.shutdown();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('leaves no timer behind when a scheduler_started listener shuts it down', async () => {
    const scheduler = makeScheduler();
    let shutdown: Promise<number> | null = null;
    scheduler.on('scheduler_started', () => {
      shutdown = scheduler.shutdown();
    });
    await scheduler.addJob(() => {}, 'interval', { hours: 1 });
    await scheduler.start();
    await shutdown;
    await vi.advanceTimersByTimeAsync(0);
    expect(scheduler.running).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('configure()', () => {
  it('changes options while stopped only', async () => {
    const scheduler = makeScheduler();
    scheduler.configure({ timezone: 'Europe/Paris', schedulerId: 'paris' });
    expect([scheduler.timezone, scheduler.schedulerId]).toEqual(['Europe/Paris', 'paris']);
    await scheduler.start({ paused: true });
    expect(() => scheduler.configure({ timezone: 'UTC' })).toThrow(SchedulerAlreadyRunningError);
    scheduler.resume();
    expect(() => scheduler.configure({ timezone: 'UTC' })).toThrow(SchedulerAlreadyRunningError);
    expect(scheduler.timezone).toBe('Europe/Paris');
    await scheduler.shutdown();
    scheduler.configure({ timezone: 'UTC' });
    expect(scheduler.timezone).toBe('UTC');
  });

  it('applies jobDefaults to jobs added afterwards, and the timezone to their triggers', async () => {
    const scheduler = makeScheduler();
    scheduler.configure({
      timezone: 'America/New_York',
      jobDefaults: { misfireGraceTime: null, coalesce: false, maxInstances: 4 },
    });
    const job = await scheduler.addJob(() => {}, 'cron', { hour: 9 });
    expect([job.misfireGraceTime, job.coalesce, job.maxInstances, job.timeout]).toEqual([
      null,
      false,
      4,
      null,
    ]);
    await scheduler.start({ paused: true });
    // 09:00 in New York on 1 January 2026 is 14:00 UTC.
    expect(job.nextRunTime?.toISOString()).toBe('2026-01-01T14:00:00.000Z');
  });

  it('changes nothing when an option is bad', () => {
    const scheduler = makeScheduler({ schedulerId: 'before' });
    expect(() =>
      scheduler.configure({ schedulerId: 'after', jobDefaults: { coalesce: 'yes' as unknown as boolean } }),
    ).toThrow(/jobDefaults\.coalesce.*"yes"/);
    expect(() => scheduler.configure({ schedulerId: 'after', executors: { other: {} as never } })).toThrow(
      /executor "other"/,
    );
    expect(scheduler.schedulerId).toBe('before');
  });
});

describe('BlockingScheduler', () => {
  it('start() resolves only once the scheduler has shut down', async () => {
    const scheduler = track(new BlockingScheduler({ timezone: 'UTC' }));
    const runs: number[] = [];
    await scheduler.addJob(() => runs.push(Date.now()), 'interval', { seconds: 1 });
    let resolved = false;
    const started = scheduler.start().then(() => {
      resolved = true;
    });
    await vi.advanceTimersByTimeAsync(3 * SECOND);
    expect(scheduler.state).toBe(STATE_RUNNING);
    expect(resolved).toBe(false);
    expect(runs.length).toBe(3);
    await scheduler.shutdown();
    await started;
    expect(resolved).toBe(true);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`shuts down on ${signal}, waiting for running jobs, and removes its signal listeners`, async () => {
      const scheduler = track(new BlockingScheduler({ timezone: 'UTC', logger: fakeLogger() }));
      const events = record(scheduler);
      let finished = false;
      await scheduler.addJob(async () => {
        await sleep(5 * SECOND);
        finished = true;
        return 'done';
      });
      const before = process.listenerCount(signal);
      let resolved = false;
      const started = scheduler.start().then(() => {
        resolved = true;
      });
      await vi.advanceTimersByTimeAsync(10);
      expect(process.listenerCount(signal)).toBe(before + 1);
      process.emit(signal, signal);
      expect(scheduler.running).toBe(false);
      await vi.advanceTimersByTimeAsync(4 * SECOND);
      // Still waiting for the job.
      expect([resolved, finished]).toEqual([false, false]);
      await vi.advanceTimersByTimeAsync(SECOND);
      await started;
      expect([resolved, finished]).toEqual([true, true]);
      expect(named(events, 'job_executed').map((e) => e.retval)).toEqual(['done']);
      expect(events.at(-1)?.name).toBe('scheduler_shutdown');
      expect(process.listenerCount(signal)).toBe(before);
    });
  }

  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`a second ${signal} while waiting for a hung job aborts it and exits with ${code}`, async () => {
      const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as () => never);
      const scheduler = track(new BlockingScheduler({ timezone: 'UTC', logger: fakeLogger() }));
      let signalOfJob: AbortSignal | undefined;
      await scheduler.addJob(
        () =>
          new Promise<void>(() => {
            // Hangs, whatever its signal says.
            signalOfJob = getJobContext()?.signal;
          }),
      );
      const before = { SIGINT: process.listenerCount('SIGINT'), SIGTERM: process.listenerCount('SIGTERM') };
      void scheduler.start();
      await vi.advanceTimersByTimeAsync(10);
      process.emit(signal, signal);
      await vi.advanceTimersByTimeAsync(60 * SECOND);
      // The first one waits for the job, which never ends.
      expect([exit.mock.calls.length, signalOfJob?.aborted]).toEqual([0, false]);
      process.emit(signal, signal);
      await vi.advanceTimersByTimeAsync(0);
      expect(signalOfJob?.aborted).toBe(true);
      expect(exit.mock.calls).toEqual([[code]]);
      // What the mocked exit left behind.
      for (const s of ['SIGINT', 'SIGTERM'] as const) {
        for (const listener of process.listeners(s).slice(before[s])) process.off(s, listener);
      }
    });
  }

  it('a second start() on a running BlockingScheduler rejects', async () => {
    const scheduler = track(new BlockingScheduler({ timezone: 'UTC' }));
    const started = scheduler.start();
    await vi.advanceTimersByTimeAsync(0);
    await expect(scheduler.start()).rejects.toBeInstanceOf(SchedulerAlreadyRunningError);
    await scheduler.shutdown();
    await started;
  });
});

describe('BackgroundScheduler daemon', () => {
  it('validates the option', () => {
    expect(() => new BackgroundScheduler({ daemon: 'yes' as unknown as boolean })).toThrow(
      /daemon.*"yes" \(string\)/,
    );
  });

  for (const daemon of [true, false]) {
    it(`daemon: ${daemon} runs jobs, with timers ${daemon ? "unref'd" : 'keeping the process alive'}`, async () => {
      const timeouts = vi.spyOn(globalThis, 'setTimeout');
      const scheduler = makeScheduler({ daemon });
      const runs: number[] = [];
      await scheduler.addJob(() => runs.push(Date.now()), 'interval', { minutes: 2 });
      await scheduler.start();
      await vi.advanceTimersByTimeAsync(4 * 60 * SECOND);
      expect(runs).toEqual([at(120 * SECOND).getTime(), at(240 * SECOND).getTime()]);
      const handles = timeouts.mock.results.map((r) => r.value as { hasRef(): boolean });
      expect(handles.length).toBeGreaterThan(2);
      expect(handles.every((h) => h.hasRef() === !daemon)).toBe(true);
    });
  }

  it('start() resolves once running, while the host program goes on', async () => {
    const scheduler = makeScheduler();
    // No timer has to fire for start() to resolve.
    await scheduler.start();
    expect(scheduler.state).toBe(STATE_RUNNING);
    expect(Date.now()).toBe(T0.getTime());
  });
});
