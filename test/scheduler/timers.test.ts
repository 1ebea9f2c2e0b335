/**
 * The run loop's timer: one for the whole scheduler, never longer than 60 s, waking early when
 * jobs change, and surviving wall-clock jumps.
 */
import { describe, expect, it, vi } from 'vitest';
import { at, DAY, HOUR, MINUTE, makeScheduler, SECOND, T0, useFakeTime } from '../helpers/scheduler.js';

useFakeTime();

/** The delays the code under test passed to setTimeout since the spy was made. */
function spyTimeouts(): () => number[] {
  const spy = vi.spyOn(globalThis, 'setTimeout');
  return () => spy.mock.calls.map((call) => Number(call[1] ?? 0));
}

describe('one timer', () => {
  it('arms a single timer however many jobs (1,000 due next week)', async () => {
    const scheduler = makeScheduler();
    await scheduler.start();
    const nextWeek = at(7 * DAY);
    for (let i = 0; i < 1000; i++) await scheduler.addJob(() => {}, 'date', { runDate: nextWeek });
    await vi.advanceTimersByTimeAsync(10);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(DAY);
    expect(vi.getTimerCount()).toBe(1);
  });

  it('also for 1,000 jobs added before start', async () => {
    const scheduler = makeScheduler();
    for (let i = 0; i < 1000; i++) await scheduler.addJob(() => {}, 'interval', { weeks: 1 });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(vi.getTimerCount()).toBe(1);
  });

  it('runs a burst of 2,000 jobs due at once, then has one timer again', async () => {
    const scheduler = makeScheduler();
    let runs = 0;
    for (let i = 0; i < 2000; i++) await scheduler.addJob(() => runs++, 'date', { runDate: at(MINUTE) });
    await scheduler.start();
    // Between batches of 1,000 the pass yields with setImmediate (faked: it needs a tick).
    await vi.advanceTimersByTimeAsync(MINUTE + 10);
    expect(runs).toBe(2000);
    expect(await scheduler.getJobs()).toEqual([]);
    expect(vi.getTimerCount()).toBe(1);
  });
});

describe('sleeps', () => {
  it('never sleeps longer than 60 s, and fires a job 30 days away at its time', async () => {
    const scheduler = makeScheduler();
    const runs: number[] = [];
    const due = at(30 * DAY + 1_234);
    await scheduler.addJob(() => runs.push(Date.now()), 'date', { runDate: due });
    const delays = spyTimeouts();
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(30 * DAY - MINUTE);
    expect(runs).toEqual([]);
    await vi.advanceTimersByTimeAsync(2 * MINUTE);
    expect(runs).toEqual([due.getTime()]);
    const all = delays();
    // About one wake-up a minute for 30 days.
    expect(all.length).toBeGreaterThanOrEqual(30 * 24 * 60);
    expect(Math.max(...all)).toBe(60_000);
  });

  it('sleeps exactly until the next run time when it is closer than 60 s', async () => {
    const scheduler = makeScheduler();
    await scheduler.addJob(() => {}, 'date', { runDate: at(12_345) });
    const delays = spyTimeouts();
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(delays()).toContain(12_345);
  });

  it('sleeps 60 s at a time when there is no job', async () => {
    const scheduler = makeScheduler();
    const delays = spyTimeouts();
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(5 * MINUTE);
    expect(delays().filter((d) => d > 0)).toEqual([60_000, 60_000, 60_000, 60_000, 60_000, 60_000]);
  });

  it('wakes early when a job is added or changed', async () => {
    const scheduler = makeScheduler();
    const runs: string[] = [];
    await scheduler.addJob(() => runs.push('far'), 'date', { runDate: at(HOUR), id: 'far' });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(10 * SECOND);
    await scheduler.addJob(() => runs.push(`near@${Date.now() - T0.getTime()}`), 'date', {
      runDate: at(15 * SECOND),
    });
    await vi.advanceTimersByTimeAsync(5 * SECOND);
    expect(runs).toEqual(['near@15000']);
    await scheduler.modifyJob('far', { nextRunTime: at(20 * SECOND) });
    await vi.advanceTimersByTimeAsync(5 * SECOND);
    expect(runs).toEqual(['near@15000', 'far']);
  });
});

describe('wall-clock jumps', () => {
  it('a jump forward: due jobs run on the next wake-up, within 60 s', async () => {
    const scheduler = makeScheduler();
    const runs: number[] = [];
    await scheduler.addJob(() => runs.push(Date.now()), 'cron', {
      minute: 30,
      misfireGraceTime: null,
      id: 'half',
    });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(SECOND);
    const jumpedTo = T0.getTime() + HOUR;
    vi.setSystemTime(jumpedTo);
    await vi.advanceTimersByTimeAsync(60 * SECOND);
    expect(runs.length).toBe(1);
    expect(runs[0]).toBeGreaterThanOrEqual(jumpedTo);
    expect(runs[0]).toBeLessThanOrEqual(jumpedTo + 60 * SECOND);
    // It then keeps its schedule: next at 01:30.
    expect((await scheduler.getJob('half'))?.nextRunTime?.toISOString()).toBe('2026-01-01T01:30:00.000Z');
  });

  it('a jump back: nothing runs twice', async () => {
    const scheduler = makeScheduler();
    const runs: number[] = [];
    await scheduler.addJob(() => runs.push(Date.now()), 'cron', { minute: 30, id: 'half' });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(31 * MINUTE);
    expect(runs).toEqual([at(30 * MINUTE).getTime()]);
    vi.setSystemTime(at(-30 * MINUTE));
    await vi.advanceTimersByTimeAsync(2 * HOUR);
    // Back at 00:00 wall time after 1 h (01:30 not reached yet: the job waits for it).
    expect(runs).toEqual([at(30 * MINUTE).getTime(), at(90 * MINUTE).getTime()]);
  });

  it('a jump back delays runs to their wall-clock time, not the elapsed time', async () => {
    const scheduler = makeScheduler();
    const runs: number[] = [];
    await scheduler.addJob(() => runs.push(Date.now()), 'date', { runDate: at(10 * MINUTE) });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(SECOND);
    vi.setSystemTime(at(-9 * MINUTE));
    // 10 minutes of elapsed time: the wall clock says 00:01, the job is not due.
    await vi.advanceTimersByTimeAsync(10 * MINUTE);
    expect(runs).toEqual([]);
    await vi.advanceTimersByTimeAsync(9 * MINUTE);
    expect(runs).toEqual([at(10 * MINUTE).getTime()]);
  });
});
