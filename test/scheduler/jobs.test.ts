/**
 * The job API through the public surface: addJob (aliases, instances, no trigger, every option),
 * pending jobs, ids, modify/reschedule/pause/resume/remove, getJobs order, printJobs, Job methods
 * and task references.
 */
import { describe, expect, it, vi } from 'vitest';
import {
  CalendarIntervalTrigger,
  ConflictingIdError,
  CronTrigger,
  DateTrigger,
  IntervalTrigger,
  JobLookupError,
  MemoryJobStore,
  PromisePoolExecutor,
  registerTask,
  TaskLookupError,
} from '../../src/index.js';
import {
  at,
  DAY,
  fakeLogger,
  HOUR,
  iso,
  MINUTE,
  makeScheduler,
  named,
  record,
  SECOND,
  T0,
  useFakeTime,
} from '../helpers/scheduler.js';

useFakeTime();

function noop(): void {}

describe('addJob', () => {
  it('builds the trigger from each alias, with its options taken out of the job options', async () => {
    const scheduler = makeScheduler();
    const date = await scheduler.addJob(noop, 'date', {
      runDate: '2026-01-02T03:04:05',
      id: 'date',
      name: 'D',
    });
    const interval = await scheduler.addJob(noop, 'interval', {
      minutes: 5,
      id: 'interval',
      coalesce: false,
    });
    const cron = await scheduler.addJob(noop, 'cron', {
      hour: 9,
      dayOfWeek: 'mon',
      id: 'cron',
      maxInstances: 2,
    });
    const calendar = await scheduler.addJob(noop, 'calendarinterval', { days: 2, hour: 6, id: 'cal' });
    expect(date.trigger).toBeInstanceOf(DateTrigger);
    expect(interval.trigger).toBeInstanceOf(IntervalTrigger);
    expect(cron.trigger).toBeInstanceOf(CronTrigger);
    expect(calendar.trigger).toBeInstanceOf(CalendarIntervalTrigger);
    expect([date.trigger, interval.trigger, cron.trigger, calendar.trigger].map(String)).toEqual([
      // A string without an offset is wall time in the scheduler's zone (UTC here).
      'date[2026-01-02 03:04:05 UTC]',
      'interval[0:05:00]',
      "cron[day_of_week='mon', hour='9']",
      'calendarinterval[days=2, time=06:00:00]',
    ]);
    expect([date.name, interval.coalesce, cron.maxInstances]).toEqual(['D', false, 2]);
    await scheduler.start({ paused: true });
    expect(iso([date.nextRunTime, interval.nextRunTime, cron.nextRunTime, calendar.nextRunTime])).toEqual([
      '2026-01-02T03:04:05.000Z',
      '2026-01-01T00:05:00.000Z',
      '2026-01-05T09:00:00.000Z',
      '2026-01-01T06:00:00.000Z',
    ]);
  });

  it('takes a Trigger instance', async () => {
    const scheduler = makeScheduler();
    const trigger = new IntervalTrigger({ hours: 2, startDate: at(HOUR), timezone: 'UTC' });
    const job = await scheduler.addJob(noop, trigger, { id: 'inst' });
    expect(job.trigger).toBe(trigger);
    await scheduler.start({ paused: true });
    expect(job.nextRunTime?.toISOString()).toBe('2026-01-01T01:00:00.000Z');
  });

  it('without a trigger runs the job once, now', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    await scheduler.start();
    vi.setSystemTime(at(12_345));
    const job = await scheduler.addJob(() => 'once');
    expect(job.trigger).toBeInstanceOf(DateTrigger);
    expect(job.nextRunTime?.getTime()).toBe(at(12_345).getTime());
    await vi.advanceTimersByTimeAsync(0);
    expect(named(events, 'job_executed').map((e) => [e.retval, e.scheduledRunTime.getTime()])).toEqual([
      ['once', at(12_345).getTime()],
    ]);
    expect(await scheduler.getJob(job.id)).toBeNull();
  });

  it('sets every job option', async () => {
    const other = new PromisePoolExecutor({ maxWorkers: 1 });
    const scheduler = makeScheduler({ executors: { other }, jobstores: { side: new MemoryJobStore() } });
    const received: unknown[][] = [];
    const job = await scheduler.addJob((a: number, b: string) => received.push([a, b]), 'interval', {
      seconds: 30,
      id: 'every',
      name: 'every option',
      args: [1, 'two'],
      misfireGraceTime: 2.5,
      coalesce: false,
      maxInstances: 3,
      timeout: 4,
      nextRunTime: at(10 * SECOND),
      jobstore: 'side',
      executor: 'other',
      replaceExisting: true,
    });
    expect({
      id: job.id,
      name: job.name,
      args: job.args,
      misfireGraceTime: job.misfireGraceTime,
      coalesce: job.coalesce,
      maxInstances: job.maxInstances,
      timeout: job.timeout,
      nextRunTime: job.nextRunTime?.toISOString(),
      jobstore: job.jobstore,
      executor: job.executor,
      pending: job.pending,
    }).toEqual({
      id: 'every',
      name: 'every option',
      args: [1, 'two'],
      misfireGraceTime: 2.5,
      coalesce: false,
      maxInstances: 3,
      timeout: 4,
      nextRunTime: '2026-01-01T00:00:10.000Z',
      jobstore: 'side',
      executor: 'other',
      pending: true,
    });
    await scheduler.start();
    expect((await scheduler.getJobs('side')).map((j) => j.id)).toEqual(['every']);
    expect(await scheduler.getJobs('default')).toEqual([]);
    // nextRunTime overrides the trigger's first fire time (which would be 30 s).
    await vi.advanceTimersByTimeAsync(10 * SECOND);
    expect(received).toEqual([[1, 'two']]);
  });

  it('uses the job defaults, a random hex id and the function name when options are left out', async () => {
    const scheduler = makeScheduler();
    const named1 = await scheduler.addJob(function reportSales() {}, 'interval', { hours: 1 });
    const arrow = await scheduler.addJob(
      (() => () => {})(), // an anonymous function
      'interval',
      { hours: 1 },
    );
    expect(named1.name).toBe('reportSales');
    expect(arrow.name).toBe('anonymous');
    expect(named1.id).toMatch(/^[0-9a-f]{32}$/);
    expect(arrow.id).toMatch(/^[0-9a-f]{32}$/);
    expect(named1.id).not.toBe(arrow.id);
    expect([named1.misfireGraceTime, named1.coalesce, named1.maxInstances, named1.timeout]).toEqual([
      1,
      true,
      1,
      null,
    ]);
    expect([named1.args, named1.executor, named1.jobstore]).toEqual([[], 'default', 'default']);
  });

  it('copies args, so later changes to the caller array do not reach the job', async () => {
    const scheduler = makeScheduler();
    const args = [1];
    const job = await scheduler.addJob((n: number) => n, 'interval', { hours: 1, args: args as [number] });
    args.push(2);
    expect(job.args).toEqual([1]);
  });
});

describe('pending jobs', () => {
  it('are pending until start, then move to their store with a first run time', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    const a = await scheduler.addJob(noop, 'cron', { hour: 9, id: 'a' });
    const b = await scheduler.addJob(noop, 'interval', { hours: 1, id: 'b' });
    expect([a.pending, b.pending]).toEqual([true, true]);
    expect([a.nextRunTime, b.nextRunTime]).toEqual([null, null]);
    expect(events).toEqual([]); // job_added comes when the job reaches its store
    expect((await scheduler.getJobs(undefined, true)).map((j) => j.id)).toEqual(['a', 'b']);
    expect(await scheduler.getJobs(undefined, false)).toEqual([]);
    expect((await scheduler.getJobs()).map((j) => j.id)).toEqual(['a', 'b']);
    expect(String(a)).toBe("noop (trigger: cron[hour='9'], pending)");
    // Time passes before start: the first run times are computed at start (the interval's start
    // date was set when its trigger was made: T0 + 1 h).
    vi.setSystemTime(at(30 * MINUTE));
    await scheduler.start({ paused: true });
    expect([a.pending, b.pending]).toEqual([false, false]);
    expect(iso([a.nextRunTime, b.nextRunTime])).toEqual([
      '2026-01-01T09:00:00.000Z',
      '2026-01-01T01:00:00.000Z',
    ]);
    expect(await scheduler.getJobs(undefined, true)).toEqual([]);
    expect((await scheduler.getJobs(undefined, false)).map((j) => j.id)).toEqual(['b', 'a']);
    expect(named(events, 'job_added').map((e) => [e.jobId, e.jobstore])).toEqual([
      ['a', 'default'],
      ['b', 'default'],
    ]);
    expect(events.map((e) => e.name)).toEqual(['job_added', 'job_added', 'scheduler_started']);
  });

  it('can be modified, paused, resumed and removed before start', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    await scheduler.addJob(noop, 'interval', { hours: 1, id: 'p' });
    await scheduler.addJob(noop, 'interval', { hours: 1, id: 'gone' });
    await scheduler.modifyJob('p', { name: 'renamed' });
    await scheduler.pauseJob('p');
    expect((await scheduler.getJob('p'))?.nextRunTime).toBeNull();
    await scheduler.removeJob('gone');
    expect((await scheduler.getJobs()).map((j) => [j.id, j.name, j.pending])).toEqual([
      ['p', 'renamed', true],
    ]);
    await scheduler.start({ paused: true });
    // Paused before start: it stays paused.
    expect((await scheduler.getJob('p'))?.nextRunTime).toBeNull();
    const resumed = await scheduler.resumeJob('p');
    expect(resumed?.nextRunTime?.toISOString()).toBe('2026-01-01T01:00:00.000Z');
    expect(events.map((e) => e.name)).toEqual([
      'job_modified',
      'job_modified',
      'job_removed',
      'job_added',
      'scheduler_started',
      'job_modified',
    ]);
  });

  it('clash by id among themselves unless replaceExisting', async () => {
    const scheduler = makeScheduler();
    await scheduler.addJob(function first() {}, 'interval', { hours: 1, id: 'x' });
    await expect(scheduler.addJob(noop, 'interval', { hours: 1, id: 'x' })).rejects.toBeInstanceOf(
      ConflictingIdError,
    );
    await scheduler.addJob(function second() {}, 'interval', { hours: 2, id: 'x', replaceExisting: true });
    expect((await scheduler.getJobs()).map((j) => j.name)).toEqual(['second']);
    await scheduler.start({ paused: true });
    expect((await scheduler.getJobs()).map((j) => [j.name, String(j.trigger)])).toEqual([
      ['second', 'interval[2:00:00]'],
    ]);
  });
});

describe('ids', () => {
  it('ConflictingIdError for an existing id, replaced with replaceExisting', async () => {
    const scheduler = makeScheduler();
    await scheduler.start({ paused: true });
    await scheduler.addJob(function original() {}, 'interval', { seconds: 5, id: 'x' });
    const error = await scheduler.addJob(noop, 'interval', { seconds: 5, id: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictingIdError);
    expect((error as ConflictingIdError).jobId).toBe('x');
    expect((error as Error).message).toContain('"x"');
    expect((await scheduler.getJob('x'))?.name).toBe('original');
    await scheduler.addJob(function replaced() {}, 'interval', {
      seconds: 7,
      id: 'x',
      replaceExisting: true,
    });
    const jobs = await scheduler.getJobs();
    expect(jobs.map((j) => [j.id, j.name, String(j.trigger)])).toEqual([
      ['x', 'replaced', 'interval[0:00:07]'],
    ]);
  });

  it('JobLookupError for an unknown id, or one in another store', async () => {
    const scheduler = makeScheduler({
      jobstores: { default: new MemoryJobStore(), other: new MemoryJobStore() },
    });
    await scheduler.start({ paused: true });
    await scheduler.addJob(noop, 'interval', { seconds: 5, id: 'here' });
    const calls = [
      () => scheduler.modifyJob('nope', { name: 'n' }),
      () => scheduler.rescheduleJob('nope', 'interval', { seconds: 1 }),
      () => scheduler.pauseJob('nope'),
      () => scheduler.resumeJob('nope'),
      () => scheduler.removeJob('nope'),
      () => scheduler.removeJob('here', 'other'),
      () => scheduler.pauseJob('here', 'other'),
    ];
    for (const call of calls) await expect(call()).rejects.toBeInstanceOf(JobLookupError);
    await expect(scheduler.removeJob('nope')).rejects.toThrow(/"nope"/);
    expect(await scheduler.getJob('nope')).toBeNull();
    expect(await scheduler.getJob('here', 'other')).toBeNull();
    expect((await scheduler.getJob('here', 'default'))?.id).toBe('here');
    // An unknown store alias is bad input, not a missing job.
    await expect(scheduler.getJob('here', 'missing')).rejects.toThrow(/jobstore.*"missing"/);
  });
});

describe('scheduledJob', () => {
  it('adds the function and returns it unchanged', async () => {
    const scheduler = makeScheduler();
    const runs: number[] = [];
    await scheduler.start();
    function heartbeat(): void {
      runs.push(Date.now());
    }
    const returned = scheduler.scheduledJob('interval', { seconds: 30, id: 'hb' })(heartbeat);
    expect(returned).toBe(heartbeat);
    await vi.advanceTimersByTimeAsync(60 * SECOND);
    expect(runs).toEqual([at(30 * SECOND).getTime(), at(60 * SECOND).getTime()]);
    expect((await scheduler.getJob('hb'))?.name).toBe('heartbeat');
  });

  it('throws bad options at the call and adds nothing', async () => {
    const scheduler = makeScheduler({ logger: fakeLogger() });
    await scheduler.start();
    const job = () => undefined;
    expect(() => scheduler.scheduledJob('cron', { minute: 61 })(job)).toThrow(RangeError);
    expect(() => scheduler.scheduledJob('cron', { minute: 61 })(job)).toThrow(/minute/);
    expect(() => scheduler.scheduledJob('interval', { seconds: 1, misfireGraceTime: -1 })(job)).toThrow(
      /misfireGraceTime/,
    );
    await vi.advanceTimersByTimeAsync(0);
    expect(await scheduler.getJobs()).toEqual([]);
  });

  it("reports the store's refusal as job_error and through the logger", async () => {
    const logger = fakeLogger();
    const scheduler = makeScheduler({ logger });
    const events = record(scheduler);
    await scheduler.start({ paused: true });
    await scheduler.addJob(() => undefined, 'interval', { seconds: 1, id: 'taken' });
    scheduler.scheduledJob('interval', { seconds: 2, id: 'taken' })(() => undefined);
    await vi.advanceTimersByTimeAsync(0);
    const errors = named(events, 'job_error');
    expect(errors.map((e) => [e.jobId, e.jobstore, (e.error as Error).name])).toEqual([
      ['taken', 'default', 'ConflictingIdError'],
    ]);
    expect(logger.errors.map(([context]) => (context as { err: Error }).err)).toEqual([errors[0].error]);
  });
});

describe('modifyJob', () => {
  it('changes any option but the id, and emits job_modified', async () => {
    const other = new PromisePoolExecutor();
    const scheduler = makeScheduler({ executors: { other } });
    const events = record(scheduler);
    await scheduler.start({ paused: true });
    await scheduler.addJob((n: number) => n, 'interval', { minutes: 10, id: 'm', args: [1] });
    const trigger = new CronTrigger({ minute: 15, timezone: 'UTC' });
    const modified = await scheduler.modifyJob('m', {
      name: 'changed',
      args: [2],
      misfireGraceTime: null,
      coalesce: false,
      maxInstances: 5,
      timeout: 3,
      executor: 'other',
      trigger,
      nextRunTime: '2026-01-01T00:15:00Z',
    });
    const stored = await scheduler.getJob('m');
    for (const job of [modified, stored]) {
      expect([
        job?.name,
        job?.args,
        job?.misfireGraceTime,
        job?.coalesce,
        job?.maxInstances,
        job?.timeout,
        job?.executor,
        job?.trigger,
        job?.nextRunTime?.toISOString(),
      ]).toEqual(['changed', [2], null, false, 5, 3, 'other', trigger, '2026-01-01T00:15:00.000Z']);
    }
    expect(named(events, 'job_modified').map((e) => [e.jobId, e.jobstore])).toEqual([['m', 'default']]);
  });

  it('changes nothing when a change is bad', async () => {
    const scheduler = makeScheduler();
    await scheduler.start({ paused: true });
    await scheduler.addJob(noop, 'interval', { minutes: 10, id: 'm', name: 'kept' });
    const events = record(scheduler);
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ name: 'x', maxInstances: 0 }, /maxInstances.*0 \(number\)/],
      [{ name: 'x', coalesce: 'yes' }, /coalesce.*"yes"/],
      [{ name: 'x', misfireGraceTime: -1 }, /misfireGraceTime.*-1/],
      [{ name: 'x', executor: 'nope' }, /executor.*"nope"/],
      [{ name: 'x', args: 'a' }, /args.*"a"/],
      [{ name: 'x', trigger: 'cron' }, /trigger.*"cron"/],
      [{ name: 'x', nextRunTime: 'soon' }, /nextRunTime.*"soon"/],
      [{ name: 'x', func: 'no-such-task-anywhere' }, /no-such-task-anywhere/],
      [{ name: 'x', colour: 'red' }, /colour/],
      [{ name: 'x', id: 'other' }, /id/],
      [{ name: 5 }, /name.*5/],
    ];
    for (const [changes, message] of bad) {
      await expect(scheduler.modifyJob('m', changes as never)).rejects.toThrow(message);
    }
    const job = await scheduler.getJob('m');
    expect([job?.name, job?.maxInstances, job?.coalesce, job?.misfireGraceTime, job?.executor]).toEqual([
      'kept',
      1,
      true,
      1,
      'default',
    ]);
    expect(job?.nextRunTime?.toISOString()).toBe('2026-01-01T00:10:00.000Z');
    expect(events).toEqual([]);
  });

  it('can change the function to a registered task', async () => {
    const scheduler = makeScheduler();
    const task = registerTask('jobs-test-double', (n: number) => n * 2);
    const events = record(scheduler);
    await scheduler.addJob((n: number) => n, 'interval', { seconds: 1, id: 'f', args: [21] });
    await scheduler.modifyJob('f', { func: 'jobs-test-double' });
    const job = await scheduler.getJob('f');
    expect([job?.func, job?.taskRef]).toEqual([task, 'jobs-test-double']);
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(SECOND);
    expect(named(events, 'job_executed').map((e) => e.retval)).toEqual([42]);
  });

  it('wakes the scheduler when the next run time moves earlier', async () => {
    const scheduler = makeScheduler();
    const runs: number[] = [];
    await scheduler.addJob(() => runs.push(Date.now()), 'interval', { hours: 1, id: 'w' });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(5 * SECOND);
    await scheduler.modifyJob('w', { nextRunTime: at(7 * SECOND) });
    await vi.advanceTimersByTimeAsync(2 * SECOND);
    expect(runs).toEqual([at(7 * SECOND).getTime()]);
  });
});

describe('rescheduleJob', () => {
  it('gives a new trigger (alias or instance) and computes the next run time from now', async () => {
    const scheduler = makeScheduler();
    await scheduler.start({ paused: true });
    await scheduler.addJob(noop, 'interval', { minutes: 10, id: 'r' });
    vi.setSystemTime(at(2 * HOUR + 5 * MINUTE));
    const job = await scheduler.rescheduleJob('r', 'cron', { minute: 0 });
    expect(String(job.trigger)).toBe("cron[minute='0']");
    expect(job.nextRunTime?.toISOString()).toBe('2026-01-01T03:00:00.000Z');
    const trigger = new DateTrigger({ runDate: at(DAY), timezone: 'UTC' });
    const again = await scheduler.rescheduleJob('r', trigger);
    expect(again.trigger).toBe(trigger);
    expect((await scheduler.getJob('r'))?.nextRunTime?.toISOString()).toBe('2026-01-02T00:00:00.000Z');
    await expect(scheduler.rescheduleJob('r', 'cron', { hour: 30 })).rejects.toThrow(/hour.*30/);
    expect((await scheduler.getJob('r'))?.trigger).toBe(trigger);
  });
});

describe('pauseJob and resumeJob', () => {
  it('a paused job does not run; resumed, it runs from its trigger', async () => {
    const scheduler = makeScheduler();
    const runs: number[] = [];
    await scheduler.addJob(() => runs.push(Date.now()), 'interval', { seconds: 10, id: 'p' });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(10 * SECOND);
    const paused = await scheduler.pauseJob('p');
    expect(paused.nextRunTime).toBeNull();
    await vi.advanceTimersByTimeAsync(60 * SECOND);
    expect(runs).toEqual([at(10 * SECOND).getTime()]);
    const resumed = await scheduler.resumeJob('p');
    // The interval counts from its start date (T0 + 10 s): 70 s is a fire time, and it is now.
    expect(resumed?.nextRunTime?.toISOString()).toBe('2026-01-01T00:01:10.000Z');
    await vi.advanceTimersByTimeAsync(10 * SECOND);
    expect(runs).toEqual([at(10 * SECOND).getTime(), at(70 * SECOND).getTime(), at(80 * SECOND).getTime()]);
  });

  it('resuming a job whose trigger has no fire time left removes it and resolves null', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    await scheduler.start({ paused: true });
    await scheduler.addJob(noop, 'interval', {
      seconds: 1,
      endDate: at(5 * SECOND),
      id: 'done',
      nextRunTime: null,
    });
    expect((await scheduler.getJob('done'))?.nextRunTime).toBeNull();
    vi.setSystemTime(at(10 * SECOND));
    expect(await scheduler.resumeJob('done')).toBeNull();
    expect(await scheduler.getJob('done')).toBeNull();
    expect(events.map((e) => e.name)).toEqual(['scheduler_started', 'job_added', 'job_removed']);
  });
});

describe('removeJob and removeAllJobs', () => {
  it('removes one job with job_removed', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    await scheduler.start({ paused: true });
    await scheduler.addJob(noop, 'interval', { seconds: 1, id: 'a' });
    await scheduler.addJob(noop, 'interval', { seconds: 2, id: 'b' });
    await scheduler.removeJob('a');
    expect((await scheduler.getJobs()).map((j) => j.id)).toEqual(['b']);
    expect(named(events, 'job_removed').map((e) => [e.jobId, e.jobstore])).toEqual([['a', 'default']]);
  });

  it('removes every job of one store or of all, with all_jobs_removed per store', async () => {
    const scheduler = makeScheduler({
      jobstores: { default: new MemoryJobStore(), other: new MemoryJobStore() },
    });
    const events = record(scheduler);
    await scheduler.addJob(noop, 'interval', { seconds: 1, id: 'pending-other', jobstore: 'other' });
    await scheduler.start({ paused: true });
    await scheduler.addJob(noop, 'interval', { seconds: 1, id: 'd1' });
    await scheduler.addJob(noop, 'interval', { seconds: 1, id: 'o1', jobstore: 'other' });
    events.length = 0;
    await scheduler.removeAllJobs('other');
    expect((await scheduler.getJobs()).map((j) => j.id)).toEqual(['d1']);
    await scheduler.removeAllJobs();
    expect(await scheduler.getJobs()).toEqual([]);
    expect(events.map((e) => [e.name, 'alias' in e ? e.alias : null])).toEqual([
      ['all_jobs_removed', 'other'],
      ['all_jobs_removed', 'default'],
      ['all_jobs_removed', 'other'],
    ]);
  });

  it('removes pending jobs too', async () => {
    const scheduler = makeScheduler({
      jobstores: { default: new MemoryJobStore(), other: new MemoryJobStore() },
    });
    await scheduler.addJob(noop, 'interval', { seconds: 1, id: 'd' });
    await scheduler.addJob(noop, 'interval', { seconds: 1, id: 'o', jobstore: 'other' });
    await scheduler.removeAllJobs('other');
    expect((await scheduler.getJobs()).map((j) => j.id)).toEqual(['d']);
    await scheduler.removeAllJobs();
    expect(await scheduler.getJobs()).toEqual([]);
    await scheduler.start({ paused: true });
    expect(await scheduler.getJobs()).toEqual([]);
  });
});

describe('getJobs', () => {
  it('orders by next run time across stores, paused jobs last; filters by store', async () => {
    const scheduler = makeScheduler({
      jobstores: { default: new MemoryJobStore(), other: new MemoryJobStore() },
    });
    await scheduler.start({ paused: true });
    await scheduler.addJob(noop, 'interval', { hours: 3, id: 'd3' });
    await scheduler.addJob(noop, 'interval', { hours: 1, id: 'o1', jobstore: 'other' });
    await scheduler.addJob(noop, 'interval', { hours: 1, id: 'paused-d', nextRunTime: null });
    await scheduler.addJob(noop, 'interval', { hours: 2, id: 'd2' });
    await scheduler.addJob(noop, 'interval', {
      hours: 4,
      id: 'paused-o',
      jobstore: 'other',
      nextRunTime: null,
    });
    await scheduler.addJob(noop, 'interval', { hours: 5, id: 'o5', jobstore: 'other' });
    expect((await scheduler.getJobs()).map((j) => j.id)).toEqual([
      'o1',
      'd2',
      'd3',
      'o5',
      'paused-d',
      'paused-o',
    ]);
    expect((await scheduler.getJobs('other')).map((j) => j.id)).toEqual(['o1', 'o5', 'paused-o']);
    expect((await scheduler.getJobs('default')).map((j) => j.id)).toEqual(['d2', 'd3', 'paused-d']);
    await expect(scheduler.getJobs('nope')).rejects.toThrow(/jobstore.*"nope"/);
  });
});

describe('printJobs', () => {
  it('escapes control characters in ids, names and store aliases', async () => {
    const scheduler = makeScheduler({ jobstores: { 'st\u001b[2Jore': new MemoryJobStore() } });
    await scheduler.start({ paused: true });
    await scheduler.addJob(() => {}, 'interval', {
      hours: 1,
      id: 'a\nb\u0007',
      name: '\u001b[31mred\u001b[0m\r\u009b\u202eevil\u2028',
      jobstore: 'st\u001b[2Jore',
    });
    let text = '';
    await scheduler.printJobs('st\u001b[2Jore', { write: (s: string) => (text += s) });
    // biome-ignore lint/suspicious/noControlCharactersInRegex: none may be left
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u202e]/);
    expect(text).toContain('Jobstore st\\u001b[2Jore:');
    expect(text).toContain('a\\nb\\u0007');
    expect(text).toContain('\\u001b[31mred\\u001b[0m\\r\\u009b\\u202eevil\\u2028');
    // One line per table row: the job's own newline did not break it.
    expect(text.split('\n')).toHaveLength(4);
  });

  it('prints pending jobs, then a table per store', async () => {
    const scheduler = makeScheduler({
      jobstores: { default: new MemoryJobStore(), other: new MemoryJobStore() },
    });
    await scheduler.addJob(function monthly() {}, 'cron', { day: 1, hour: 9, minute: 0, id: 'm' });
    let text = '';
    const out = { write: (s: string) => (text += s) };
    await scheduler.printJobs(undefined, out);
    expect(text).toBe(
      [
        'Pending jobs:',
        '    id  name     trigger                              next run',
        "    m   monthly  cron[day='1', hour='9', minute='0']  pending",
        'Jobstore default:',
        '    No scheduled jobs',
        'Jobstore other:',
        '    No scheduled jobs',
        '',
      ].join('\n'),
    );
    await scheduler.start({ paused: true });
    await scheduler.addJob(function later() {}, 'interval', { hours: 1, id: 'paused', nextRunTime: null });
    await scheduler.addJob(function side() {}, 'interval', { minutes: 1, id: 's', jobstore: 'other' });
    text = '';
    await scheduler.printJobs(undefined, out);
    expect(text).toBe(
      [
        'Jobstore default:',
        '    id      name     trigger                              next run',
        "    m       monthly  cron[day='1', hour='9', minute='0']  2026-01-01 09:00:00 UTC",
        '    paused  later    interval[1:00:00]                    paused',
        'Jobstore other:',
        '    id  name  trigger            next run',
        '    s   side  interval[0:01:00]  2026-01-01 00:01:00 UTC',
        '',
      ].join('\n'),
    );
    text = '';
    await scheduler.printJobs('other', out);
    expect(text.split('\n')[0]).toBe('Jobstore other:');
    expect(text).not.toContain('monthly');
  });
});

describe('Job methods', () => {
  it('modify, reschedule, pause, resume and remove delegate to the scheduler', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    await scheduler.start({ paused: true });
    const job = await scheduler.addJob(noop, 'interval', { minutes: 10, id: 'j' });
    expect((await job.modify({ name: 'renamed' })).name).toBe('renamed');
    expect((await scheduler.getJob('j'))?.name).toBe('renamed');
    const rescheduled = await job.reschedule('cron', { hour: 6 });
    expect(rescheduled.nextRunTime?.toISOString()).toBe('2026-01-01T06:00:00.000Z');
    expect((await job.pause()).nextRunTime).toBeNull();
    expect(String(await scheduler.getJob('j'))).toBe("renamed (trigger: cron[hour='6'], paused)");
    const resumed = await job.resume();
    expect(resumed?.nextRunTime?.toISOString()).toBe('2026-01-01T06:00:00.000Z');
    expect(String(resumed)).toBe("renamed (trigger: cron[hour='6'], next run at: 2026-01-01T06:00:00.000Z)");
    await job.remove();
    expect(await scheduler.getJob('j')).toBeNull();
    await expect(job.remove()).rejects.toBeInstanceOf(JobLookupError);
    expect(events.map((e) => e.name)).toEqual([
      'scheduler_started',
      'job_added',
      'job_modified',
      'job_modified',
      'job_modified',
      'job_modified',
      'job_removed',
    ]);
  });
});

describe('task references', () => {
  it('runs a registered task by name, with its args', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    const add = registerTask('jobs-test-add', (a: number, b: number) => a + b);
    const job = await scheduler.addJob('jobs-test-add', 'interval', { seconds: 1, args: [2, 3] });
    expect([job.func, job.taskRef, job.name]).toEqual([add, 'jobs-test-add', 'jobs-test-add']);
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(SECOND);
    expect(named(events, 'job_executed').map((e) => e.retval)).toEqual([5]);
  });

  it('a registered function passed directly keeps its task reference', async () => {
    const scheduler = makeScheduler();
    const fn = registerTask('jobs-test-direct', () => 1);
    expect((await scheduler.addJob(fn, 'interval', { seconds: 1 })).taskRef).toBe('jobs-test-direct');
    expect((await scheduler.addJob(() => 1, 'interval', { seconds: 1 })).taskRef).toBeNull();
  });

  it('TaskLookupError for unknown names and exports, and nothing is added', async () => {
    const scheduler = makeScheduler();
    await scheduler.start({ paused: true });
    const unknown = await scheduler
      .addJob('jobs-test-missing', 'interval', { seconds: 1 })
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(TaskLookupError);
    expect((unknown as TaskLookupError).ref).toBe('jobs-test-missing');
    await expect(scheduler.addJob('node:path#noSuchExport', 'interval', { seconds: 1 })).rejects.toThrow(
      TaskLookupError,
    );
    await expect(scheduler.addJob('./no/such/module.js#run', 'interval', { seconds: 1 })).rejects.toThrow(
      TaskLookupError,
    );
    expect(await scheduler.getJobs()).toEqual([]);
  });

  it("resolves 'module#export' references by import", async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    await scheduler.addJob('./test/fixtures/tasks/allowed.ts#lastSegment', 'interval', {
      seconds: 1,
      args: ['/a/b/c.txt'],
    });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(SECOND);
    expect(named(events, 'job_executed').map((e) => e.retval)).toEqual(['c.txt']);
  });
});

describe('job stores and executors by alias', () => {
  it('adds and removes stores and executors, with events', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    const store = new MemoryJobStore();
    const executor = new PromisePoolExecutor();
    await scheduler.addJobstore(store, 'extra');
    await scheduler.addExecutor(executor, 'pool');
    await expect(scheduler.addJobstore(new MemoryJobStore(), 'extra')).rejects.toThrow(/"extra"/);
    await expect(scheduler.addExecutor(new PromisePoolExecutor(), 'pool')).rejects.toThrow(/"pool"/);
    await scheduler.start();
    const runs: string[] = [];
    await scheduler.addJob(() => runs.push('ran'), 'interval', {
      seconds: 1,
      jobstore: 'extra',
      executor: 'pool',
    });
    await vi.advanceTimersByTimeAsync(SECOND);
    expect(runs).toEqual(['ran']);
    await scheduler.removeJobstore('extra');
    await scheduler.removeExecutor('pool');
    await vi.advanceTimersByTimeAsync(5 * SECOND);
    expect(runs).toEqual(['ran']);
    await expect(scheduler.removeExecutor('pool')).rejects.toThrow(/"pool"/);
    await expect(scheduler.removeJobstore('extra')).rejects.toThrow(/"extra"/);
    expect(
      events.filter((e) => 'alias' in e).map((e) => [e.name, e.code, 'alias' in e ? e.alias : null]),
    ).toEqual([
      ['jobstore_added', 64, 'extra'],
      ['executor_added', 16, 'pool'],
      ['jobstore_removed', 128, 'extra'],
      ['executor_removed', 32, 'pool'],
    ]);
  });

  it('replaces the untouched default store and executor while stopped', async () => {
    const scheduler = makeScheduler();
    const store = new MemoryJobStore();
    await scheduler.addJobstore(store);
    await scheduler.addExecutor(new PromisePoolExecutor({ maxWorkers: 1 }));
    await scheduler.start({ paused: true });
    await scheduler.addJob(noop, 'interval', { seconds: 1, id: 'in-store' });
    expect((await store.getAllJobs()).map((j) => j.id)).toEqual(['in-store']);
  });

  it('the time zone of jobs defaults to the scheduler’s', async () => {
    const scheduler = makeScheduler({ timezone: 'Asia/Tokyo' });
    const job = await scheduler.addJob(noop, 'cron', { hour: 9 });
    await scheduler.start({ paused: true });
    // 09:00 in Tokyo is 00:00 UTC: T0 itself.
    expect(job.nextRunTime?.getTime()).toBe(T0.getTime());
  });
});
