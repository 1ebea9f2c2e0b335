/**
 * The scheduler through its public API, on fake timers: lifecycle, the job API, the run rules,
 * events, timers and bad input.
 */
import { hostname } from 'node:os';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  BackgroundScheduler,
  BlockingScheduler,
  ConflictingIdError,
  CronTrigger,
  EVENT_ALL,
  EVENT_JOB_ADDED,
  EVENT_JOB_EXECUTED,
  getJobContext,
  IntervalTrigger,
  type Job,
  JobLookupError,
  type JobStore,
  JobTimeoutError,
  type Logger,
  MemoryJobStore,
  PromisePoolExecutor,
  registerTask,
  SchedulerAlreadyRunningError,
  type SchedulerEventAny,
  SchedulerNotRunningError,
  STATE_PAUSED,
  STATE_RUNNING,
  STATE_STOPPED,
  TaskLookupError,
} from '../../src/index.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');

function fakeLogger(): Logger & { errors: unknown[][]; warnings: unknown[][] } {
  const errors: unknown[][] = [];
  const warnings: unknown[][] = [];
  return {
    errors,
    warnings,
    debug: () => {},
    info: () => {},
    warn: (...args: unknown[]) => warnings.push(args),
    error: (...args: unknown[]) => errors.push(args),
  };
}

function record(scheduler: BackgroundScheduler): SchedulerEventAny[] {
  const events: SchedulerEventAny[] = [];
  scheduler.addListener((e) => events.push(e), EVENT_ALL);
  return events;
}

let scheduler: BackgroundScheduler;

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
  scheduler = new BackgroundScheduler({ timezone: 'UTC' });
});

afterEach(async () => {
  if (scheduler.running) await scheduler.shutdown({ wait: false });
  vi.useRealTimers();
});

describe('lifecycle', () => {
  it('starts, pauses, resumes and shuts down, with events and errors', async () => {
    const events = record(scheduler);
    expect(scheduler.state).toBe(STATE_STOPPED);
    await scheduler.start({ paused: true });
    expect(scheduler.state).toBe(STATE_PAUSED);
    await expect(scheduler.start()).rejects.toBeInstanceOf(SchedulerAlreadyRunningError);
    scheduler.resume();
    expect(scheduler.state).toBe(STATE_RUNNING);
    scheduler.pause();
    scheduler.resume();
    expect(() => scheduler.configure({ timezone: 'UTC' })).toThrow(SchedulerAlreadyRunningError);
    await scheduler.shutdown();
    expect(scheduler.running).toBe(false);
    await expect(scheduler.shutdown()).rejects.toBeInstanceOf(SchedulerNotRunningError);
    expect(() => scheduler.pause()).toThrow(SchedulerNotRunningError);
    expect(events.map((e) => e.name)).toEqual([
      'scheduler_started',
      'scheduler_resumed',
      'scheduler_paused',
      'scheduler_resumed',
      'scheduler_shutdown',
    ]);
    expect(events.every((e) => e.schedulerId === `${hostname()}-${process.pid}`)).toBe(true);
  });

  it('BlockingScheduler.start() resolves after SIGINT, once running jobs finish', async () => {
    const blocking = new BlockingScheduler({ timezone: 'UTC', schedulerId: 'blocker' });
    let finished = false;
    await blocking.addJob(async () => {
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      finished = true;
    });
    const before = process.listenerCount('SIGINT');
    let resolved = false;
    const started = blocking.start().then(() => {
      resolved = true;
    });
    await vi.advanceTimersByTimeAsync(10);
    expect(process.listenerCount('SIGINT')).toBe(before + 1);
    process.emit('SIGINT');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(resolved).toBe(false);
    await vi.advanceTimersByTimeAsync(5_000);
    await started;
    expect(finished).toBe(true);
    expect(blocking.running).toBe(false);
    expect(process.listenerCount('SIGINT')).toBe(before);
  });
});

describe('job API', () => {
  it('adds jobs with trigger aliases, instances and none, pending before start', async () => {
    const a = await scheduler.addJob(function alpha() {}, 'cron', { hour: 9, id: 'a' });
    const b = await scheduler.addJob(
      function beta() {},
      new IntervalTrigger({ hours: 1, startDate: T0, timezone: 'UTC' }),
      {
        id: 'b',
      },
    );
    const c = await scheduler.addJob(function gamma() {}, undefined, { id: 'c', nextRunTime: null });
    expect([a.pending, b.pending, c.pending]).toEqual([true, true, true]);
    // Pending jobs get their first run time at start: until then they keep the order they came in.
    expect((await scheduler.getJobs(undefined, true)).map((j) => j.id)).toEqual(['a', 'b', 'c']);
    await scheduler.start({ paused: true });
    const jobs = await scheduler.getJobs();
    expect(jobs.map((j) => [j.id, j.name, j.nextRunTime?.toISOString() ?? null, j.pending])).toEqual([
      ['b', 'beta', '2026-01-01T00:00:00.000Z', false],
      ['a', 'alpha', '2026-01-01T09:00:00.000Z', false],
      ['c', 'gamma', null, false],
    ]);
    expect(a.trigger.toString()).toBe("cron[hour='9']");
  });

  it('refuses duplicate ids unless replaceExisting, and unknown ids', async () => {
    await scheduler.start();
    await scheduler.addJob(() => 1, 'interval', { seconds: 5, id: 'x' });
    await expect(scheduler.addJob(() => 2, 'interval', { seconds: 5, id: 'x' })).rejects.toBeInstanceOf(
      ConflictingIdError,
    );
    await scheduler.addJob(function replaced() {}, 'interval', {
      seconds: 7,
      id: 'x',
      replaceExisting: true,
    });
    expect((await scheduler.getJob('x'))?.name).toBe('replaced');
    await expect(scheduler.modifyJob('nope', { name: 'n' })).rejects.toBeInstanceOf(JobLookupError);
    await expect(scheduler.removeJob('nope')).rejects.toBeInstanceOf(JobLookupError);
    expect(await scheduler.getJob('nope')).toBeNull();
  });

  it('modifies, reschedules, pauses, resumes and removes, also through Job methods', async () => {
    const events = record(scheduler);
    await scheduler.start({ paused: true });
    const job = await scheduler.addJob(() => {}, 'interval', { minutes: 10, id: 'j', startDate: T0 });
    await job.modify({ name: 'renamed', maxInstances: 3 });
    expect((await scheduler.getJob('j'))?.maxInstances).toBe(3);
    await expect(scheduler.modifyJob('j', { maxInstances: 0 })).rejects.toThrow(/maxInstances.*0/);
    expect((await scheduler.getJob('j'))?.name).toBe('renamed');
    await job.pause();
    expect((await scheduler.getJob('j'))?.nextRunTime).toBeNull();
    const resumed = await job.resume();
    // The interval starts now, so its first fire time is now.
    expect(resumed?.nextRunTime?.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    await scheduler.rescheduleJob('j', 'cron', { hour: 6 });
    expect((await scheduler.getJob('j'))?.nextRunTime?.toISOString()).toBe('2026-01-01T06:00:00.000Z');
    await job.remove();
    expect(await scheduler.getJobs()).toEqual([]);
    expect(events.filter((e) => e.name.startsWith('job_')).map((e) => e.name)).toEqual([
      'job_added',
      'job_modified',
      'job_modified',
      'job_modified',
      'job_modified',
      'job_removed',
    ]);
  });

  it('resuming a job whose trigger is done removes it', async () => {
    await scheduler.start({ paused: true });
    await scheduler.addJob(() => {}, 'cron', {
      hour: 1,
      endDate: '2025-01-01T00:00:00Z',
      id: 'old',
      nextRunTime: null,
    });
    expect(await scheduler.resumeJob('old')).toBeNull();
    expect(await scheduler.getJob('old')).toBeNull();
  });

  it('removes all jobs of one store or all, with all_jobs_removed', async () => {
    const events = record(scheduler);
    await scheduler.addJobstore(new MemoryJobStore(), 'other');
    await scheduler.start({ paused: true });
    await scheduler.addJob(() => {}, 'interval', { seconds: 1, id: 'd1' });
    await scheduler.addJob(() => {}, 'interval', { seconds: 1, id: 'o1', jobstore: 'other' });
    await scheduler.removeAllJobs('other');
    expect((await scheduler.getJobs()).map((j) => j.id)).toEqual(['d1']);
    await scheduler.removeAllJobs();
    expect(await scheduler.getJobs()).toEqual([]);
    expect(
      events.filter((e) => e.name === 'all_jobs_removed').map((e) => ('alias' in e ? e.alias : '')),
    ).toEqual(['other', 'default', 'other']);
  });

  it('scheduledJob adds the function and returns it; task references resolve', async () => {
    const fn = scheduler.scheduledJob('interval', { seconds: 30, id: 'decorated' })(function decorated() {});
    expect(fn.name).toBe('decorated');
    registerTask('core-test-task', (n: number) => n * 2);
    const viaRef = await scheduler.addJob('core-test-task', 'interval', { seconds: 30, args: [21] });
    expect(viaRef.taskRef).toBe('core-test-task');
    await expect(scheduler.addJob('no-such-task', 'interval', { seconds: 1 })).rejects.toBeInstanceOf(
      TaskLookupError,
    );
    await vi.advanceTimersByTimeAsync(0);
    expect((await scheduler.getJob('decorated'))?.name).toBe('decorated');
  });

  it('prints a table per store', async () => {
    await scheduler.start({ paused: true });
    await scheduler.addJob(function monthly() {}, 'cron', { day: 1, hour: 9, minute: 0, id: 'm' });
    await scheduler.addJob(function later() {}, 'interval', { hours: 1, id: 'p', nextRunTime: null });
    let text = '';
    await scheduler.printJobs(undefined, { write: (s: string) => (text += s) });
    expect(text).toContain('Jobstore default:');
    expect(text).toMatch(/m\s+monthly\s+cron\[day='1', hour='9', minute='0'\]\s+2026-01-01 09:00:00 UTC/);
    expect(text).toMatch(/p\s+later\s+interval\[1:00:00\]\s+paused/);
  });
});

describe('run rules', () => {
  it('runs every missed fire time without coalescing, only the latest with it', async () => {
    const seen: string[] = [];
    scheduler.on('job_executed', (e) =>
      seen.push(`${e.jobId}@${e.scheduledRunTime.toISOString().slice(11, 19)}`),
    );
    const start = new Date(T0.getTime() - 3 * 60_000);
    await scheduler.addJob(() => {}, 'interval', {
      minutes: 1,
      startDate: start,
      // A first run time in the past: the fire times since then are missed ones.
      nextRunTime: start,
      id: 'all',
      coalesce: false,
      misfireGraceTime: null,
    });
    await scheduler.addJob(() => {}, 'interval', {
      minutes: 1,
      startDate: start,
      nextRunTime: start,
      id: 'one',
      coalesce: true,
      misfireGraceTime: null,
    });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(seen.filter((s) => s.startsWith('all'))).toEqual([
      'all@23:57:00',
      'all@23:58:00',
      'all@23:59:00',
      'all@00:00:00',
    ]);
    expect(seen.filter((s) => s.startsWith('one'))).toEqual(['one@00:00:00']);
    expect((await scheduler.getJob('one'))?.nextRunTime?.toISOString()).toBe('2026-01-01T00:01:00.000Z');
  });

  it('reports runs later than misfireGraceTime as missed', async () => {
    const events = record(scheduler);
    await scheduler.addJob(() => {}, 'date', {
      runDate: new Date(T0.getTime() - 5_000),
      id: 'late',
      misfireGraceTime: 2,
    });
    await scheduler.addJob(() => {}, 'date', {
      runDate: new Date(T0.getTime() - 5_000),
      id: 'ok',
      misfireGraceTime: 10,
    });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(events.filter((e) => e.name === 'job_missed').map((e) => ('jobId' in e ? e.jobId : ''))).toEqual([
      'late',
    ]);
    expect(events.filter((e) => e.name === 'job_executed').map((e) => ('jobId' in e ? e.jobId : ''))).toEqual(
      ['ok'],
    );
    // Both date jobs are done: removed.
    expect(await scheduler.getJobs()).toEqual([]);
  });

  it('skips a run while maxInstances runs are going', async () => {
    const events = record(scheduler);
    await scheduler.addJob(() => new Promise((resolve) => setTimeout(resolve, 2_500)), 'interval', {
      seconds: 1,
      id: 'slow',
    });
    await scheduler.start();
    // The run due at 1 s takes until 3.5 s; those due at 2 s and 3 s are refused.
    await vi.advanceTimersByTimeAsync(3_600);
    const names = events.filter((e) => 'jobId' in e && e.jobId === 'slow').map((e) => e.name);
    expect(names.filter((n) => n === 'job_max_instances').length).toBe(2);
    expect(names.filter((n) => n === 'job_executed').length).toBe(1);
  });

  it('reports throwing and rejecting jobs and keeps running', async () => {
    const errors: unknown[] = [];
    scheduler.on('job_error', (e) => errors.push(e.error));
    let ran = 0;
    await scheduler.addJob(
      () => {
        throw new Error('sync boom');
      },
      'interval',
      { seconds: 1 },
    );
    await scheduler.addJob(async () => Promise.reject(new Error('async boom')), 'interval', { seconds: 1 });
    await scheduler.addJob(() => ran++, 'interval', { seconds: 1 });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(2_010);
    expect(errors.map((e) => (e as Error).message).sort()).toEqual([
      'async boom',
      'async boom',
      'sync boom',
      'sync boom',
    ]);
    expect(ran).toBe(2);
  });

  it('retries a failing store after jobstoreRetryInterval while other stores run', async () => {
    const logger = fakeLogger();
    const healthy = new MemoryJobStore();
    const flaky = new MemoryJobStore();
    let failures = 0;
    const failing: JobStore = {
      start: (host, alias) => flaky.start(host, alias),
      shutdown: () => flaky.shutdown(),
      lookupJob: (id) => flaky.lookupJob(id),
      getDueJobs: (now: Date) => {
        if (failures < 1) {
          failures++;
          return Promise.reject(new Error('store down'));
        }
        return flaky.getDueJobs(now);
      },
      getNextRunTime: () => flaky.getNextRunTime(),
      getAllJobs: () => flaky.getAllJobs(),
      addJob: (job) => flaky.addJob(job),
      updateJob: (job) => flaky.updateJob(job),
      removeJob: (id) => flaky.removeJob(id),
      removeAllJobs: () => flaky.removeAllJobs(),
    };
    const s = new BackgroundScheduler({
      timezone: 'UTC',
      logger,
      jobstoreRetryInterval: 5,
      jobstores: { default: healthy, flaky: failing },
    });
    const ran: string[] = [];
    await s.addJob(() => ran.push('healthy'), 'interval', { seconds: 1 });
    await s.addJob(() => ran.push('flaky'), 'interval', {
      seconds: 1,
      jobstore: 'flaky',
      misfireGraceTime: null,
    });
    await s.start();
    await vi.advanceTimersByTimeAsync(3_010);
    expect(ran.filter((r) => r === 'healthy').length).toBe(3);
    expect(ran).not.toContain('flaky');
    expect(logger.warnings.some((w) => String(w[0]).includes('"flaky"'))).toBe(true);
    await vi.advanceTimersByTimeAsync(2_500);
    expect(ran).toContain('flaky');
    await s.shutdown();
  });

  it('a throwing or rejecting listener is logged and changes nothing', async () => {
    const logger = fakeLogger();
    const s = new BackgroundScheduler({ timezone: 'UTC', logger });
    s.on('job_executed', () => {
      throw new Error('listener boom');
    });
    s.addListener(async () => Promise.reject(new Error('listener reject')), EVENT_JOB_EXECUTED);
    let runs = 0;
    await s.addJob(() => runs++, 'interval', { seconds: 1 });
    await s.start();
    await vi.advanceTimersByTimeAsync(2_010);
    expect(runs).toBe(2);
    expect(logger.errors.length).toBe(4);
    await s.shutdown();
  });

  it('aborts runs past their timeout with JobTimeoutError, and gives jobs their context', async () => {
    const errors: unknown[] = [];
    let context: ReturnType<typeof getJobContext>;
    let aborted = false;
    scheduler.on('job_error', (e) => errors.push(e.error));
    await scheduler.addJob(
      async () => {
        context = getJobContext();
        context?.signal.addEventListener('abort', () => {
          aborted = true;
        });
        await new Promise((resolve) => setTimeout(resolve, 10_000));
      },
      'date',
      { id: 'slow', timeout: 1.5 },
    );
    expect(getJobContext()).toBeUndefined();
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(1_600);
    expect(context?.jobId).toBe('slow');
    expect(context?.scheduledRunTime.toISOString()).toBe(T0.toISOString());
    expect(aborted).toBe(true);
    expect(errors[0]).toBeInstanceOf(JobTimeoutError);
  });
});

describe('events', () => {
  it('delivers by name and by mask, with the table fields', async () => {
    const byName: string[] = [];
    const byMask: SchedulerEventAny[] = [];
    const listener = (e: { jobId: string }) => byName.push(e.jobId);
    scheduler.on('job_added', listener);
    scheduler.once('job_submitted', (e) => byName.push(`submitted ${e.scheduledRunTimes.length}`));
    const maskListener = (e: SchedulerEventAny) => byMask.push(e);
    scheduler.addListener(maskListener, EVENT_JOB_ADDED | EVENT_JOB_EXECUTED);
    await scheduler.start();
    await scheduler.addJob(() => 42, 'interval', { seconds: 1, id: 'e1' });
    scheduler.off('job_added', listener);
    await scheduler.addJob(() => 42, 'interval', { seconds: 1, id: 'e2' });
    await vi.advanceTimersByTimeAsync(1_010);
    scheduler.removeListener(maskListener);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(byName).toEqual(['e1', 'submitted 1']);
    expect(byMask.map((e) => e.name)).toEqual(['job_added', 'job_added', 'job_executed', 'job_executed']);
    const executed = byMask[2] as SchedulerEventAny & {
      retval: unknown;
      scheduledRunTime: Date;
      jobstore: string;
    };
    expect([
      executed.code,
      executed.retval,
      executed.jobstore,
      executed.scheduledRunTime.toISOString(),
    ]).toEqual([EVENT_JOB_EXECUTED, 42, 'default', '2026-01-01T00:00:01.000Z']);
  });
});

describe('timers', () => {
  it('arms one timer for many jobs and never sleeps over 60 s', async () => {
    await scheduler.start();
    const nextWeek = new Date(T0.getTime() + 7 * 86_400_000);
    for (let i = 0; i < 1000; i++) await scheduler.addJob(() => {}, 'date', { runDate: nextWeek });
    await vi.advanceTimersByTimeAsync(10);
    expect(vi.getTimerCount()).toBe(1);
    const before = Date.now();
    await vi.advanceTimersToNextTimerAsync();
    expect(Date.now() - before).toBeLessThanOrEqual(60_000);
    expect(vi.getTimerCount()).toBe(1);
  });

  it('fires a job 30 days away on time, and survives clock jumps', async () => {
    const runs: number[] = [];
    await scheduler.addJob(() => runs.push(Date.now()), 'date', {
      runDate: new Date(T0.getTime() + 30 * 86_400_000),
    });
    await scheduler.addJob(() => runs.push(-Date.now()), 'cron', { minute: 30, misfireGraceTime: null });
    await scheduler.start();
    // The wall clock jumps forward an hour: the 00:30 job is due and runs within 60 s.
    vi.setSystemTime(new Date(T0.getTime() + 3_600_000));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(runs.filter((r) => r < 0).length).toBe(1);
    // Back an hour: nothing runs twice.
    vi.setSystemTime(new Date(T0.getTime() + 60_000));
    await vi.advanceTimersByTimeAsync(120_000);
    expect(runs.filter((r) => r < 0).length).toBe(1);
    await vi.advanceTimersByTimeAsync(30 * 86_400_000);
    const dateRuns = runs.filter((r) => r > 0);
    expect(dateRuns.length).toBe(1);
    expect(dateRuns[0] - (T0.getTime() + 30 * 86_400_000)).toBeGreaterThanOrEqual(0);
    expect(dateRuns[0] - (T0.getTime() + 30 * 86_400_000)).toBeLessThan(1_000);
  });
});

describe('executors', () => {
  it('PromisePoolExecutor runs at most maxWorkers at once, in order', async () => {
    const s = new BackgroundScheduler({
      timezone: 'UTC',
      executors: { default: new PromisePoolExecutor({ maxWorkers: 2 }) },
    });
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    for (let i = 0; i < 6; i++) {
      await s.addJob(
        async (n: number) => {
          active++;
          peak = Math.max(peak, active);
          order.push(n);
          await new Promise((resolve) => setTimeout(resolve, 100));
          active--;
        },
        'date',
        { args: [i], misfireGraceTime: null },
      );
    }
    await s.start();
    await vi.advanceTimersByTimeAsync(400);
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    await s.shutdown();
  });

  it('shutdown({ wait: false }) aborts running jobs; wait: true waits', async () => {
    let aborted = false;
    await scheduler.addJob(async () => {
      getJobContext()?.signal.addEventListener('abort', () => {
        aborted = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(10);
    await scheduler.shutdown({ wait: false });
    expect(aborted).toBe(true);
  });
});

describe('bad input', () => {
  it('names the option and the value, and adds nothing', async () => {
    await scheduler.start({ paused: true });
    const f = () => {};
    await expect(scheduler.addJob(f, 'weekly' as never)).rejects.toThrow(/weekly/);
    await expect(scheduler.addJob(f, 'cron', { hours: 1 } as never)).rejects.toThrow(/hours/);
    await expect(scheduler.addJob(f, 'interval', { seconds: 'ten' } as never)).rejects.toThrow(
      /seconds.*ten/,
    );
    await expect(scheduler.addJob(f, 'interval', { seconds: 1, maxInstances: 0 })).rejects.toThrow(
      /maxInstances.*0/,
    );
    await expect(scheduler.addJob(f, 'interval', { seconds: 1, jobstore: 'nope' })).rejects.toThrow(
      /jobstore.*nope/,
    );
    await expect(scheduler.addJob(f, 'interval', { seconds: 1, executor: 'nope' })).rejects.toThrow(
      /executor.*nope/,
    );
    await expect(scheduler.addJob(42 as never, 'interval', { seconds: 1 })).rejects.toThrow(/func.*42/);
    await expect(
      scheduler.addJob(f, new CronTrigger({ hour: 1, timezone: 'UTC' }), { hour: 2 } as never),
    ).rejects.toThrow(/hour/);
    expect(await scheduler.getJobs()).toEqual([]);
    expect(() => new BackgroundScheduler({ timezone: 'Nowhere/Land' })).toThrow(/timezone.*Nowhere\/Land/);
    expect(() => new BackgroundScheduler({ jobDefaults: { maxInstances: -1 } })).toThrow(/maxInstances.*-1/);
    expect(() => new BackgroundScheduler({ colour: 'blue' } as never)).toThrow(/colour/);
    expect(() => new PromisePoolExecutor({ maxWorkers: 0 })).toThrow(/maxWorkers.*0 \(number\)/);
  });
});

describe('MemoryJobStore', () => {
  it('keeps due order, insertion order at ties, paused jobs last, against a naive model', async () => {
    const store = new MemoryJobStore();
    const s = new BackgroundScheduler({ timezone: 'UTC', jobstores: { default: store } });
    const model = new Map<string, number | null>();
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const jobs = new Map<string, Job>();
    for (let step = 0; step < 3000; step++) {
      const id = `j${Math.floor(random() * 300)}`;
      const roll = random();
      const time = random() < 0.1 ? null : new Date(T0.getTime() + Math.floor(random() * 50) * 1000);
      if (!model.has(id)) {
        const job = await s.addJob(() => {}, 'interval', {
          seconds: 1,
          id,
          nextRunTime: time,
          replaceExisting: true,
        });
        jobs.set(id, job);
        await store.addJob(job);
        model.set(id, time?.getTime() ?? null);
      } else if (roll < 0.5) {
        const job = jobs.get(id) as Job;
        job.nextRunTime = time;
        await store.updateJob(job);
        model.set(id, time?.getTime() ?? null);
      } else {
        await store.removeJob(id);
        model.delete(id);
      }
      if (step % 100 === 0) {
        const now = T0.getTime() + 25_000;
        const due = (await store.getDueJobs(new Date(now))).map((j) => j.id);
        const expectedDue = [...model.entries()]
          .filter(([, t]) => t !== null && t <= now)
          .sort((a, b) => (a[1] as number) - (b[1] as number))
          .map(([k]) => k);
        expect(due).toEqual(expectedDue);
        const times = [...model.values()].filter((t): t is number => t !== null);
        expect((await store.getNextRunTime())?.getTime() ?? null).toBe(
          times.length ? Math.min(...times) : null,
        );
        const all = await store.getAllJobs();
        const firstPaused = all.findIndex((j) => j.nextRunTime === null);
        expect(firstPaused === -1 || all.slice(firstPaused).every((j) => j.nextRunTime === null)).toBe(true);
      }
    }
    await expect(store.removeJob('missing')).rejects.toBeInstanceOf(JobLookupError);
  });
});
