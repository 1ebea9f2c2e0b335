/**
 * SPEC section 4, through the public API on fake timers: missed run times and coalescing, the
 * misfire grace time, maxInstances, removal of finished jobs, failing jobs, failing stores and
 * failing listeners.
 */
import { describe, expect, it, vi } from 'vitest';
import { EVENT_JOB_EXECUTED, MemoryJobStore } from '../../src/index.js';
import {
  at,
  DAY,
  FlakyStore,
  fakeLogger,
  MINUTE,
  makeScheduler,
  named,
  record,
  SECOND,
  sleep,
  useFakeTime,
} from '../helpers/scheduler.js';

useFakeTime();

function noop(): void {}

describe('missed run times', () => {
  it('without coalesce, runs every missed fire time once, in order (no grace limit)', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    const seen: number[] = [];
    await scheduler.addJob(
      () => {
        seen.push(Date.now());
      },
      'interval',
      {
        minutes: 1,
        startDate: at(-5 * MINUTE),
        nextRunTime: at(-5 * MINUTE),
        coalesce: false,
        misfireGraceTime: null,
        id: 'all',
      },
    );
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(0);
    const expected = [-5, -4, -3, -2, -1, 0].map((m) => at(m * MINUTE).getTime());
    expect(named(events, 'job_executed').map((e) => e.scheduledRunTime.getTime())).toEqual(expected);
    // All of them run at once, now.
    expect(seen).toEqual(expected.map(() => at(0).getTime()));
    expect(named(events, 'job_submitted').map((e) => e.scheduledRunTimes.map((d) => d.getTime()))).toEqual([
      expected,
    ]);
    expect(named(events, 'job_missed')).toEqual([]);
    expect((await scheduler.getJob('all'))?.nextRunTime?.getTime()).toBe(at(MINUTE).getTime());
  });

  it('with coalesce, runs only the latest missed fire time', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    await scheduler.addJob(noop, 'interval', {
      minutes: 1,
      startDate: at(-5 * MINUTE - 30 * SECOND),
      nextRunTime: at(-5 * MINUTE - 30 * SECOND),
      coalesce: true,
      misfireGraceTime: null,
      id: 'one',
    });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(named(events, 'job_executed').map((e) => e.scheduledRunTime.getTime())).toEqual([
      at(-30 * SECOND).getTime(),
    ]);
    expect((await scheduler.getJob('one'))?.nextRunTime?.getTime()).toBe(at(30 * SECOND).getTime());
    await vi.advanceTimersByTimeAsync(30 * SECOND);
    expect(named(events, 'job_executed').length).toBe(2);
  });

  it('a paused scheduler’s backlog: once each without coalesce, once with it', async () => {
    const scheduler = makeScheduler({ jobDefaults: { misfireGraceTime: null } });
    const events = record(scheduler, EVENT_JOB_EXECUTED);
    await scheduler.addJob(noop, 'interval', { seconds: 10, id: 'each', coalesce: false });
    await scheduler.addJob(noop, 'interval', { seconds: 10, id: 'once', coalesce: true });
    await scheduler.start({ paused: true });
    await vi.advanceTimersByTimeAsync(35 * SECOND);
    scheduler.resume();
    await vi.advanceTimersByTimeAsync(0);
    const times = (id: string) =>
      named(events, 'job_executed')
        .filter((e) => e.jobId === id)
        .map((e) => e.scheduledRunTime.getTime());
    expect(times('each')).toEqual([10, 20, 30].map((s) => at(s * SECOND).getTime()));
    expect(times('once')).toEqual([at(30 * SECOND).getTime()]);
  });

  it('a nextRunTime in the past is a missed run (job_missed beyond the grace time)', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    await scheduler.addJob(noop, 'cron', { minute: '*/10', nextRunTime: at(-DAY), id: 'late' });
    vi.setSystemTime(at(5 * MINUTE));
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(0);
    // Coalesced: the latest missed fire time (00:00) is 5 minutes late, beyond the default 1 s.
    expect(named(events, 'job_executed')).toEqual([]);
    expect(named(events, 'job_missed').map((e) => e.scheduledRunTime.getTime())).toEqual([at(0).getTime()]);
    expect((await scheduler.getJob('late'))?.nextRunTime?.getTime()).toBe(at(10 * MINUTE).getTime());
    await vi.advanceTimersByTimeAsync(5 * MINUTE);
    expect(named(events, 'job_executed').map((e) => e.scheduledRunTime.getTime())).toEqual([
      at(10 * MINUTE).getTime(),
    ]);
  });

  it('nextRunTime: null adds the job paused: it never runs', async () => {
    const scheduler = makeScheduler();
    const runs: number[] = [];
    await scheduler.addJob(() => runs.push(1), 'interval', { seconds: 1, nextRunTime: null, id: 'p' });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(10 * SECOND);
    expect(runs).toEqual([]);
    expect((await scheduler.getJob('p'))?.nextRunTime).toBeNull();
  });
});

describe('misfireGraceTime', () => {
  it('reports runs later than the grace time as job_missed, and runs those within it', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    const ran: string[] = [];
    for (const [id, grace] of [
      ['late', 2],
      ['ok', 10],
      ['unlimited', null],
    ] as const) {
      await scheduler.addJob(() => ran.push(id), 'date', {
        runDate: at(-5 * SECOND),
        id,
        misfireGraceTime: grace,
      });
    }
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(named(events, 'job_missed').map((e) => [e.jobId, e.scheduledRunTime.getTime()])).toEqual([
      ['late', at(-5 * SECOND).getTime()],
    ]);
    expect(ran).toEqual(['ok', 'unlimited']);
    // All three date jobs are done: removed.
    expect(named(events, 'job_removed').map((e) => e.jobId)).toEqual(['late', 'ok', 'unlimited']);
    expect(await scheduler.getJobs()).toEqual([]);
  });

  it('null grace runs a job however late (a day)', async () => {
    const scheduler = makeScheduler();
    const ran: number[] = [];
    await scheduler.addJob(() => ran.push(Date.now()), 'date', { runDate: at(-DAY), misfireGraceTime: null });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(ran).toEqual([at(0).getTime()]);
  });

  it('without coalesce, the grace time is checked for each missed fire time; the misses are one event', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    await scheduler.addJob(noop, 'interval', {
      minutes: 1,
      startDate: at(-5 * MINUTE),
      nextRunTime: at(-5 * MINUTE),
      coalesce: false,
      misfireGraceTime: 90,
    });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(
      named(events, 'job_missed').map((e) => [
        e.scheduledRunTime.getTime(),
        e.missedCount,
        e.firstMissedTime.getTime(),
        e.lastMissedTime.getTime(),
      ]),
    ).toEqual([[at(-5 * MINUTE).getTime(), 4, at(-5 * MINUTE).getTime(), at(-2 * MINUTE).getTime()]]);
    expect(named(events, 'job_executed').map((e) => e.scheduledRunTime.getTime())).toEqual(
      [-1, 0].map((m) => at(m * MINUTE).getTime()),
    );
  });

  it('is fractional: 1.5 s lets a run 1.4 s late through but not one 1.6 s late', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    await scheduler.addJob(noop, 'date', { runDate: at(-1_400), misfireGraceTime: 1.5, id: 'in' });
    await scheduler.addJob(noop, 'date', { runDate: at(-1_600), misfireGraceTime: 1.5, id: 'out' });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(named(events, 'job_executed').map((e) => e.jobId)).toEqual(['in']);
    expect(named(events, 'job_missed').map((e) => e.jobId)).toEqual(['out']);
  });
});

describe('maxInstances', () => {
  it('skips runs while maxInstances runs are going, with job_max_instances', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    await scheduler.addJob(() => sleep(2_500), 'interval', { seconds: 1, id: 'slow' });
    await scheduler.start();
    // The run due at 1 s lasts until 3.5 s: the runs due at 2 s and 3 s are refused.
    await vi.advanceTimersByTimeAsync(3_600);
    expect(
      named(events, 'job_max_instances').map((e) => [e.jobId, e.scheduledRunTimes.map((d) => d.getTime())]),
    ).toEqual([
      ['slow', [at(2 * SECOND).getTime()]],
      ['slow', [at(3 * SECOND).getTime()]],
    ]);
    expect(named(events, 'job_executed').map((e) => e.scheduledRunTime.getTime())).toEqual([
      at(SECOND).getTime(),
    ]);
    // The refused runs still advance the job.
    expect((await scheduler.getJob('slow'))?.nextRunTime?.getTime()).toBe(at(4 * SECOND).getTime());
    await vi.advanceTimersByTimeAsync(400);
    expect(named(events, 'job_submitted').map((e) => e.scheduledRunTimes[0].getTime())).toEqual([
      at(SECOND).getTime(),
      at(4 * SECOND).getTime(),
    ]);
  });

  it('lets maxInstances runs overlap', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    let active = 0;
    let peak = 0;
    await scheduler.addJob(
      async () => {
        active++;
        peak = Math.max(peak, active);
        await sleep(2_500);
        active--;
      },
      'interval',
      { seconds: 1, maxInstances: 3 },
    );
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(6_000);
    expect(peak).toBe(3);
    expect(named(events, 'job_max_instances')).toEqual([]);
  });
});

describe('finished triggers', () => {
  it('removes a job whose trigger has no fire time left, with job_removed', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    const runs: number[] = [];
    await scheduler.addJob(() => runs.push(Date.now()), 'interval', {
      seconds: 10,
      endDate: at(30 * SECOND),
      id: 'ends',
    });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(60 * SECOND);
    expect(runs).toEqual([10, 20, 30].map((s) => at(s * SECOND).getTime()));
    expect(named(events, 'job_removed').map((e) => [e.jobId, e.jobstore])).toEqual([['ends', 'default']]);
    expect(await scheduler.getJob('ends')).toBeNull();
  });
});

describe('failing jobs', () => {
  it('a job that throws or rejects emits job_error with the error; the scheduler keeps running', async () => {
    const logger = fakeLogger();
    const scheduler = makeScheduler({ logger });
    const events = record(scheduler);
    const thrown = new Error('sync boom');
    const rejected = new Error('async boom');
    let ran = 0;
    await scheduler.addJob(
      () => {
        throw thrown;
      },
      'interval',
      { seconds: 1, id: 'throws' },
    );
    await scheduler.addJob(async () => Promise.reject(rejected), 'interval', { seconds: 1, id: 'rejects' });
    await scheduler.addJob(() => ran++, 'interval', { seconds: 1, id: 'fine' });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(2 * SECOND);
    const errors = named(events, 'job_error');
    expect(errors.map((e) => [e.jobId, e.error, e.scheduledRunTime.getTime()])).toEqual([
      ['throws', thrown, at(SECOND).getTime()],
      ['rejects', rejected, at(SECOND).getTime()],
      ['throws', thrown, at(2 * SECOND).getTime()],
      ['rejects', rejected, at(2 * SECOND).getTime()],
    ]);
    expect(errors.every((e) => !('retval' in e))).toBe(true);
    expect(ran).toBe(2);
    expect(scheduler.running).toBe(true);
    expect(logger.errors.filter(([context]) => (context as { err: unknown }).err === thrown).length).toBe(2);
    expect(logger.errors.filter(([context]) => (context as { err: unknown }).err === rejected).length).toBe(
      2,
    );
  });

  it('a job that throws a non-Error value reports that value', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    await scheduler.addJob(() => {
      throw 'plain string';
    });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(named(events, 'job_error').map((e) => e.error)).toEqual(['plain string']);
  });
});

describe('failing job stores', () => {
  it('a store that hangs until its timeout holds up no other store', async () => {
    const logger = fakeLogger();
    const slow = new FlakyStore();
    const scheduler = makeScheduler({
      logger,
      jobstoreRetryInterval: 1,
      jobstores: { default: new MemoryJobStore(), slow },
    });
    const ran: number[] = [];
    await scheduler.addJob(() => ran.push(Date.now()), 'interval', { seconds: 1 });
    await scheduler.addJob(() => undefined, 'interval', { seconds: 1, jobstore: 'slow' });
    slow.hangMs = 10 * SECOND;
    await scheduler.start();
    // The slow store's first look hangs for 10 s; the memory job runs every second meanwhile.
    await vi.advanceTimersByTimeAsync(5 * SECOND);
    expect(ran).toEqual([1, 2, 3, 4, 5].map((s) => at(s * SECOND).getTime()));
    expect(slow.dueCalls).toEqual([at(0).getTime()]);
    await vi.advanceTimersByTimeAsync(6 * SECOND);
    expect(ran).toHaveLength(11);
    // It failed at 10 s and was tried again a second later.
    expect(slow.dueCalls).toEqual([at(0).getTime(), at(11 * SECOND).getTime()]);
    expect((logger.warnings[0][0] as { err: Error }).err.message).toBe('store timed out');
  });

  it('retries a store whose getDueJobs throws after jobstoreRetryInterval; other stores keep running', async () => {
    const logger = fakeLogger();
    const flaky = new FlakyStore();
    const scheduler = makeScheduler({
      logger,
      jobstoreRetryInterval: 5,
      jobstores: { default: new MemoryJobStore(), flaky },
    });
    const ran: Array<[string, number]> = [];
    await scheduler.addJob(() => ran.push(['healthy', Date.now()]), 'interval', { seconds: 1 });
    await scheduler.addJob(() => ran.push(['flaky', Date.now()]), 'interval', {
      seconds: 1,
      jobstore: 'flaky',
      misfireGraceTime: null,
    });
    flaky.failures = 1;
    await scheduler.start();
    // The first pass (at 0 s) fails on the flaky store.
    await vi.advanceTimersByTimeAsync(4 * SECOND);
    expect(ran.filter(([k]) => k === 'healthy').map(([, t]) => t)).toEqual(
      [1, 2, 3, 4].map((s) => at(s * SECOND).getTime()),
    );
    expect(ran.filter(([k]) => k === 'flaky')).toEqual([]);
    expect(flaky.dueCalls).toEqual([at(0).getTime()]);
    expect(logger.warnings.length).toBe(1);
    expect(String(logger.warnings[0][1])).toContain('"flaky"');
    expect((logger.warnings[0][0] as { err: Error }).err.message).toBe('store is down');
    // Retried 5 s after the failure: its backlog (1..5 s) runs once, coalesced.
    await vi.advanceTimersByTimeAsync(SECOND);
    expect(flaky.dueCalls).toEqual([at(0).getTime(), at(5 * SECOND).getTime()]);
    expect(ran.filter(([k]) => k === 'flaky')).toEqual([['flaky', at(5 * SECOND).getTime()]]);
    await vi.advanceTimersByTimeAsync(SECOND);
    expect(ran.filter(([k]) => k === 'flaky').length).toBe(2);
    expect(scheduler.running).toBe(true);
  });

  it('keeps retrying while the store stays down', async () => {
    const flaky = new FlakyStore();
    const scheduler = makeScheduler({
      logger: fakeLogger(),
      jobstoreRetryInterval: 10,
      jobstores: { default: flaky },
    });
    await scheduler.addJob(noop, 'interval', { seconds: 1 });
    flaky.failures = 3;
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(35 * SECOND);
    expect(flaky.dueCalls.slice(0, 4)).toEqual([0, 10, 20, 30].map((s) => at(s * SECOND).getTime()));
  });
});

describe('failing listeners', () => {
  it('a listener that throws or rejects is logged and changes nothing', async () => {
    const logger = fakeLogger();
    const scheduler = makeScheduler({ logger });
    const thrown = new Error('listener boom');
    const rejected = new Error('listener reject');
    scheduler.on('job_executed', () => {
      throw thrown;
    });
    scheduler.addListener(async () => Promise.reject(rejected), EVENT_JOB_EXECUTED);
    const delivered: number[] = [];
    scheduler.on('job_executed', (e) => {
      delivered.push(e.scheduledRunTime.getTime());
    });
    let runs = 0;
    await scheduler.addJob(() => runs++, 'interval', { seconds: 1 });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(2 * SECOND);
    expect(runs).toBe(2);
    expect(delivered).toEqual([at(SECOND).getTime(), at(2 * SECOND).getTime()]);
    expect(logger.errors.filter(([context]) => (context as { err: unknown }).err === thrown).length).toBe(2);
    expect(logger.errors.filter(([context]) => (context as { err: unknown }).err === rejected).length).toBe(
      2,
    );
    expect(logger.errors.length).toBe(4);
    expect(scheduler.running).toBe(true);
  });
});
