/**
 * Catching up a long backlog holds a bounded number of run times: a 1 ms job a day behind
 * (86.4 million missed fire times) runs once with coalesce, and without it reports the misses
 * as one job_missed event (count, first and last) and submits at most MAX_RUN_TIMES runs per
 * pass. Interval and calendar-interval triggers count skipped fire times in closed form, and
 * agree with a walk over getNextFireTime.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import {
  BackgroundScheduler,
  CalendarIntervalTrigger,
  IntervalTrigger,
  registerTask,
  SqliteJobStore,
} from '../../src/index.js';
import { at, DAY, makeScheduler, named, record, useFakeTime } from '../helpers/scheduler.js';

useFakeTime();

const BACKLOG = DAY;
const noop = () => undefined;

/** Run times held by the events of a scheduler: every submitted run time, and the event count. */
function held(events: ReturnType<typeof record>) {
  const submitted = named(events, 'job_submitted');
  return {
    submittedRunTimes: submitted.reduce((n, e) => n + e.scheduledRunTimes.length, 0),
    largestSubmission: Math.max(0, ...submitted.map((e) => e.scheduledRunTimes.length)),
    missedEvents: named(events, 'job_missed').length,
  };
}

describe('catching up a 1 ms job a day behind', () => {
  it('with coalesce: one run, one submitted run time, the next run time after now', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    await scheduler.addJob(noop, 'interval', {
      seconds: 0.001,
      startDate: at(-BACKLOG),
      nextRunTime: at(-BACKLOG),
      id: 'fast',
    });
    await scheduler.start({ paused: true });
    scheduler.resume();
    await vi.advanceTimersByTimeAsync(0);
    expect(held(events)).toEqual({ submittedRunTimes: 1, largestSubmission: 1, missedEvents: 0 });
    expect(named(events, 'job_executed').map((e) => e.scheduledRunTime.getTime())).toEqual([at(0).getTime()]);
    expect((await scheduler.getJob('fast'))?.nextRunTime?.getTime()).toBe(at(1).getTime());
  });

  it('without coalesce: the misses are one job_missed event, the runs within grace are bounded', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    await scheduler.addJob(noop, 'interval', {
      seconds: 0.001,
      startDate: at(-BACKLOG),
      nextRunTime: at(-BACKLOG),
      coalesce: false,
      misfireGraceTime: 1,
      maxInstances: 10,
      id: 'fast',
    });
    await scheduler.start({ paused: true });
    scheduler.resume();
    // The first pass; the next one goes on with what is left of the 1,001 runs within grace.
    await vi.advanceTimersByTimeAsync(0);
    expect(held(events).largestSubmission).toBe(1000);
    // A timer armed during a (fake) timer callback fires 1 ms later at the earliest.
    await vi.advanceTimersByTimeAsync(1);
    const [missed] = named(events, 'job_missed');
    // Fire times before now - 1 s are missed; the 1,001 from now - 1 s to now are within grace
    // (and at(1) since, in the second pass).
    expect([missed.missedCount, missed.firstMissedTime.getTime(), missed.lastMissedTime.getTime()]).toEqual([
      BACKLOG - 1000,
      at(-BACKLOG).getTime(),
      at(-1001).getTime(),
    ]);
    expect(missed.scheduledRunTime).toEqual(missed.firstMissedTime);
    const counts = held(events);
    expect(counts.missedEvents).toBe(1);
    expect(counts.largestSubmission).toBe(1000);
    expect(counts.submittedRunTimes).toBe(1002);
  });

  it('without grace and coalesce: every run, at most 1,000 run times a pass', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    await scheduler.addJob(noop, 'interval', {
      seconds: 0.001,
      startDate: at(-5_000),
      nextRunTime: at(-5_000),
      coalesce: false,
      misfireGraceTime: null,
      maxInstances: 100,
      id: 'fast',
    });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(0);
    for (let pass = 0; pass < 10; pass++) await vi.advanceTimersByTimeAsync(1);
    const counts = held(events);
    expect(counts.largestSubmission).toBe(1000);
    expect(counts.missedEvents).toBe(0);
    expect(named(events, 'job_max_instances')).toEqual([]);
    // Caught up: every fire time from at(-5000) to now submitted once, in order.
    const submitted = named(events, 'job_submitted').flatMap((e) =>
      e.scheduledRunTimes.map((d) => d.getTime()),
    );
    const expected = Array.from({ length: Date.now() - at(-5_000).getTime() + 1 }, (_, i) =>
      at(-5_000 + i).getTime(),
    );
    expect(submitted).toEqual(expected);
  });

  it('on a SQLite store (real time): one job_missed, at most 1,000 run times a submission', async () => {
    vi.useRealTimers();
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { waitFor } = await import('../helpers/wait.js');
    const dir = await mkdtemp(join(tmpdir(), 'tickwork-catch-up-'));
    registerTask('catch-up:noop', noop);
    const scheduler = new BackgroundScheduler({
      timezone: 'UTC',
      jobstores: { default: new SqliteJobStore({ path: join(dir, 'jobs.db') }) },
    });
    try {
      const events = record(scheduler);
      await scheduler.start({ paused: true });
      const dayAgo = new Date(Date.now() - BACKLOG);
      await scheduler.addJob('catch-up:noop', 'interval', {
        seconds: 0.001,
        startDate: dayAgo,
        nextRunTime: dayAgo,
        coalesce: false,
        maxInstances: 10,
        id: 'fast',
      });
      scheduler.resume();
      await waitFor(() => named(events, 'job_submitted').length > 0, 'the first pass');
      const [missed] = named(events, 'job_missed');
      expect(missed?.firstMissedTime.getTime()).toBe(dayAgo.getTime());
      // Every fire time up to a second before the pass: about 86.4 million, counted, not built.
      expect(missed?.missedCount).toBeGreaterThan(BACKLOG - 2_000);
      expect(held(events).largestSubmission).toBeLessThanOrEqual(1000);
    } finally {
      await scheduler.shutdown({ wait: false });
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a calendar-interval job years behind: one missed event without coalesce', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    await scheduler.addJob(noop, 'calendarinterval', {
      days: 1,
      hour: 0,
      startDate: '2000-01-01',
      nextRunTime: new Date('2000-01-01T00:00:00Z'),
      coalesce: false,
      timezone: 'UTC',
    });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(0);
    const [missed] = named(events, 'job_missed');
    // 2000-01-01 up to 2025-12-31 are missed; 2026-01-01 00:00 (now) runs.
    expect(missed.missedCount).toBe((at(0).getTime() - Date.UTC(2000, 0, 1)) / DAY);
    expect(missed.lastMissedTime.toISOString()).toBe('2025-12-31T00:00:00.000Z');
    expect(named(events, 'job_executed').map((e) => e.scheduledRunTime.toISOString())).toEqual([
      '2026-01-01T00:00:00.000Z',
    ]);
  });
});

describe('countFireTimes agrees with walking getNextFireTime', () => {
  /** The fire times strictly between `after` and `beforeMs`, walked. */
  function walk(
    trigger: { getNextFireTime(p: Date | null, now: Date): Date | null },
    after: Date,
    beforeMs: number,
  ) {
    let count = 0;
    let last = after;
    for (let t = trigger.getNextFireTime(after, after); t !== null && t.getTime() < beforeMs; ) {
      count += 1;
      last = t;
      t = trigger.getNextFireTime(t, t);
    }
    return { count, last: last.getTime() };
  }

  it('interval', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100_000 }),
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: -5, max: 500 }),
        fc.option(fc.integer({ min: 0, max: 400 })),
        (intervalMs, startSteps, span, endSteps) => {
          const start = Date.UTC(2026, 0, 1);
          const trigger = new IntervalTrigger({
            seconds: intervalMs / 1000,
            startDate: new Date(start),
            endDate: endSteps === null ? undefined : new Date(start + endSteps * intervalMs),
            timezone: 'UTC',
          });
          const after = new Date(start + Math.min(startSteps, endSteps ?? startSteps) * intervalMs);
          const beforeMs = after.getTime() + Math.round(span * intervalMs * 0.37);
          const counted = trigger.countFireTimes(after, beforeMs);
          expect({ count: counted.count, last: counted.last.getTime() }).toEqual(
            walk(trigger, after, beforeMs),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('calendar interval, across DST and month ends', () => {
    fc.assert(
      fc.property(
        fc.record({
          years: fc.integer({ min: 0, max: 1 }),
          months: fc.integer({ min: 0, max: 3 }),
          weeks: fc.integer({ min: 0, max: 2 }),
          days: fc.integer({ min: 0, max: 10 }),
        }),
        fc.integer({ min: 0, max: 23 }),
        fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe'),
        fc.integer({ min: 0, max: 2000 }),
        fc.option(fc.integer({ min: 1, max: 3000 })),
        (units, hour, timezone, spanDays, endDays) => {
          if (units.years + units.months + units.weeks + units.days === 0) units.days = 1;
          const trigger = new CalendarIntervalTrigger({
            ...units,
            hour,
            minute: 30,
            startDate: '2019-01-31',
            endDate: endDays === null ? undefined : new Date(Date.UTC(2019, 0, 31) + endDays * DAY),
            timezone,
          });
          const first = trigger.getNextFireTime(null, new Date(Date.UTC(2019, 0, 30)));
          if (first === null) return;
          const beforeMs = first.getTime() + spanDays * DAY + 1234;
          const counted = trigger.countFireTimes(first, beforeMs);
          expect({ count: counted.count, last: counted.last.getTime() }).toEqual(
            walk(trigger, first, beforeMs),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
