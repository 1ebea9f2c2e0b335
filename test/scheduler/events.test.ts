/**
 * Events (SPEC section 5): listeners by name (on/off/once), APScheduler listeners with masks,
 * and the fields of every event.
 */
import { hostname } from 'node:os';
import { describe, expect, it, vi } from 'vitest';
import {
  EVENT_ALL,
  EVENT_ALL_JOBS_REMOVED,
  EVENT_EXECUTOR_ADDED,
  EVENT_EXECUTOR_REMOVED,
  EVENT_JOB_ADDED,
  EVENT_JOB_ERROR,
  EVENT_JOB_EXECUTED,
  EVENT_JOB_MAX_INSTANCES,
  EVENT_JOB_MISSED,
  EVENT_JOB_MODIFIED,
  EVENT_JOB_REMOVED,
  EVENT_JOB_RETRY,
  EVENT_JOB_SUBMITTED,
  EVENT_JOBSTORE_ADDED,
  EVENT_JOBSTORE_REMOVED,
  EVENT_SCHEDULER_PAUSED,
  EVENT_SCHEDULER_RESUMED,
  EVENT_SCHEDULER_SHUTDOWN,
  EVENT_SCHEDULER_STARTED,
  MemoryJobStore,
  makeEvent,
  PromisePoolExecutor,
  type SchedulerEventAny,
} from '../../src/index.js';
import { at, makeScheduler, named, record, SECOND, sleep, useFakeTime } from '../helpers/scheduler.js';

useFakeTime();

const TABLE: Array<[string, number, number, string[]]> = [
  ['scheduler_started', EVENT_SCHEDULER_STARTED, 1, ['code']],
  ['scheduler_shutdown', EVENT_SCHEDULER_SHUTDOWN, 2, ['code']],
  ['scheduler_paused', EVENT_SCHEDULER_PAUSED, 4, ['code']],
  ['scheduler_resumed', EVENT_SCHEDULER_RESUMED, 8, ['code']],
  ['executor_added', EVENT_EXECUTOR_ADDED, 16, ['code', 'alias']],
  ['executor_removed', EVENT_EXECUTOR_REMOVED, 32, ['code', 'alias']],
  ['jobstore_added', EVENT_JOBSTORE_ADDED, 64, ['code', 'alias']],
  ['jobstore_removed', EVENT_JOBSTORE_REMOVED, 128, ['code', 'alias']],
  ['all_jobs_removed', EVENT_ALL_JOBS_REMOVED, 256, ['code', 'alias']],
  ['job_added', EVENT_JOB_ADDED, 512, ['code', 'jobId', 'jobstore']],
  ['job_removed', EVENT_JOB_REMOVED, 1024, ['code', 'jobId', 'jobstore']],
  ['job_modified', EVENT_JOB_MODIFIED, 2048, ['code', 'jobId', 'jobstore']],
  // SPEC's fields, and the run's attempt and times.
  [
    'job_executed',
    EVENT_JOB_EXECUTED,
    4096,
    ['code', 'jobId', 'jobstore', 'scheduledRunTime', 'retval', 'attempt', 'startedAt', 'finishedAt'],
  ],
  [
    'job_error',
    EVENT_JOB_ERROR,
    8192,
    [
      'code',
      'jobId',
      'jobstore',
      'scheduledRunTime',
      'error',
      'attempt',
      'startedAt',
      'finishedAt',
      'willRetry',
    ],
  ],
  // SPEC's fields, the attempt, and the count, first and last of the fire times one event reports.
  [
    'job_missed',
    EVENT_JOB_MISSED,
    16384,
    [
      'code',
      'jobId',
      'jobstore',
      'scheduledRunTime',
      'attempt',
      'missedCount',
      'firstMissedTime',
      'lastMissedTime',
    ],
  ],
  [
    'job_submitted',
    EVENT_JOB_SUBMITTED,
    32768,
    ['code', 'jobId', 'jobstore', 'scheduledRunTimes', 'attempt'],
  ],
  [
    'job_max_instances',
    EVENT_JOB_MAX_INSTANCES,
    65536,
    ['code', 'jobId', 'jobstore', 'scheduledRunTimes', 'attempt'],
  ],
  [
    'job_retry',
    EVENT_JOB_RETRY,
    131072,
    ['code', 'jobId', 'jobstore', 'scheduledRunTime', 'attempt', 'error', 'nextRunTime'],
  ],
];

/** Makes a scheduler emit every kind of event once at least; returns them all. */
async function everyEvent(schedulerId?: string): Promise<SchedulerEventAny[]> {
  const scheduler = makeScheduler(schedulerId === undefined ? {} : { schedulerId });
  const events = record(scheduler);
  await scheduler.addExecutor(new PromisePoolExecutor(), 'extra-executor');
  await scheduler.removeExecutor('extra-executor');
  await scheduler.addJobstore(new MemoryJobStore(), 'extra-store');
  await scheduler.removeJobstore('extra-store');
  await scheduler.start();
  await scheduler.addJob(() => 'ok', 'date', { runDate: at(SECOND), id: 'ok' });
  await scheduler.addJob(
    () => {
      throw new Error('boom');
    },
    'date',
    { runDate: at(SECOND), id: 'bad', retry: { attempts: 1, delay: 0.5 } },
  );
  await scheduler.addJob(() => {}, 'date', { runDate: at(-10 * SECOND), id: 'late' });
  await scheduler.addJob(() => sleep(1_500), 'interval', { seconds: 1, id: 'slow' });
  await scheduler.modifyJob('slow', { name: 'slow one' });
  await vi.advanceTimersByTimeAsync(2 * SECOND);
  await scheduler.removeJob('slow');
  await scheduler.removeAllJobs();
  scheduler.pause();
  scheduler.resume();
  // shutdown() waits for the slow job's run (until 2.5 s).
  const shutdown = scheduler.shutdown();
  await vi.advanceTimersByTimeAsync(SECOND);
  await shutdown;
  return events;
}

describe('event codes', () => {
  it('have the SPEC values; EVENT_ALL is the OR of all', () => {
    expect(TABLE.map(([, code, value]) => code === value)).toEqual(TABLE.map(() => true));
    expect(TABLE.reduce((all, [, code]) => all | code, 0)).toBe(EVENT_ALL);
    expect(EVENT_ALL).toBe(262143);
  });
});

describe('makeEvent', () => {
  it('returns a new event with the payload, name, code and scheduler id, leaving the payload as it was', () => {
    const payload = { jobId: 'a', jobstore: 'default' };
    const event = makeEvent('job_added', 'node-1', payload);
    expect(event).toEqual({
      jobId: 'a',
      jobstore: 'default',
      name: 'job_added',
      code: EVENT_JOB_ADDED,
      schedulerId: 'node-1',
    });
    expect(event).not.toBe(payload);
    expect(payload).toEqual({ jobId: 'a', jobstore: 'default' });
  });
});

describe('event fields', () => {
  it('every event has its name, code, the table fields and schedulerId (hostname-pid by default)', async () => {
    const events = await everyEvent();
    for (const [name, code, , fields] of TABLE) {
      const ofName = events.filter((e) => e.name === name);
      expect(ofName.length, name).toBeGreaterThan(0);
      for (const event of ofName) {
        expect(Object.keys(event).sort(), name).toEqual([...fields, 'name', 'schedulerId'].sort());
        expect(event.code, name).toBe(code);
        expect(event.schedulerId).toBe(`${hostname()}-${process.pid}`);
      }
    }
  });

  it('a run’s events list their fields in one order: the payload, name, code, schedulerId, then the times', async () => {
    const events = await everyEvent();
    const keysOf = (name: string) => Object.keys(events.find((e) => e.name === name) ?? {});
    const head = ['jobId', 'jobstore', 'scheduledRunTime', 'attempt'];
    const tail = ['name', 'code', 'schedulerId', 'startedAt', 'finishedAt'];
    expect(keysOf('job_executed')).toEqual([...head, 'retval', ...tail]);
    expect(keysOf('job_error')).toEqual([...head, 'error', 'willRetry', ...tail]);
  });

  it('uses the schedulerId option', async () => {
    const events = await everyEvent('node-7');
    expect(new Set(events.map((e) => e.schedulerId))).toEqual(new Set(['node-7']));
  });

  it('carries the right values', async () => {
    const events = await everyEvent();
    const t1 = at(SECOND).getTime();
    expect(named(events, 'executor_added').map((e) => e.alias)).toEqual(['extra-executor']);
    expect(named(events, 'executor_removed').map((e) => e.alias)).toEqual(['extra-executor']);
    expect(named(events, 'jobstore_added').map((e) => e.alias)).toEqual(['extra-store']);
    expect(named(events, 'jobstore_removed').map((e) => e.alias)).toEqual(['extra-store']);
    expect(named(events, 'all_jobs_removed').map((e) => e.alias)).toEqual(['default']);
    expect(named(events, 'job_added').map((e) => [e.jobId, e.jobstore])).toEqual([
      ['ok', 'default'],
      ['bad', 'default'],
      ['late', 'default'],
      ['slow', 'default'],
    ]);
    expect(named(events, 'job_modified').map((e) => e.jobId)).toEqual(['slow']);
    expect(
      named(events, 'job_executed').map((e) => [e.jobId, e.jobstore, e.scheduledRunTime.getTime(), e.retval]),
    ).toEqual([
      ['ok', 'default', t1, 'ok'],
      ['slow', 'default', t1, undefined],
    ]);
    expect(
      named(events, 'job_error').map((e) => [
        e.jobId,
        e.scheduledRunTime.getTime(),
        (e.error as Error).message,
        e.attempt,
        e.willRetry,
        e.startedAt?.getTime(),
      ]),
    ).toEqual([
      ['bad', t1, 'boom', 1, true, t1],
      ['bad', t1, 'boom', 2, false, t1 + 500],
    ]);
    expect(
      named(events, 'job_retry').map((e) => [
        e.jobId,
        e.scheduledRunTime.getTime(),
        e.attempt,
        e.nextRunTime.getTime(),
      ]),
    ).toEqual([['bad', t1, 2, t1 + 500]]);
    expect(named(events, 'job_missed').map((e) => [e.jobId, e.scheduledRunTime.getTime()])).toEqual([
      ['late', at(-10 * SECOND).getTime()],
    ]);
    expect(
      named(events, 'job_submitted').map((e) => [
        e.jobId,
        e.scheduledRunTimes.map((d) => d.getTime()),
        e.attempt,
      ]),
    ).toEqual([
      ['late', [at(-10 * SECOND).getTime()], 1],
      ['ok', [t1], 1],
      ['bad', [t1], 1],
      ['slow', [t1], 1],
      ['bad', [t1], 2],
    ]);
    expect(
      named(events, 'job_max_instances').map((e) => [e.jobId, e.scheduledRunTimes.map((d) => d.getTime())]),
    ).toEqual([['slow', [at(2 * SECOND).getTime()]]]);
    // Date jobs removed after their run, then the slow one by hand.
    expect(named(events, 'job_removed').map((e) => e.jobId)).toEqual(['late', 'ok', 'bad', 'slow']);
  });

  it('job_submitted comes before the run’s job_executed', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler, EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED);
    await scheduler.addJob(() => 1, 'interval', { seconds: 1 });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(2 * SECOND);
    expect(events.map((e) => e.name)).toEqual([
      'job_submitted',
      'job_executed',
      'job_submitted',
      'job_executed',
    ]);
  });
});

describe('listeners by name', () => {
  it('on/off/once deliver the events of one name', async () => {
    const scheduler = makeScheduler();
    const onCalls: string[] = [];
    const onceCalls: string[] = [];
    const listener = (e: { jobId: string }) => onCalls.push(e.jobId);
    expect(scheduler.on('job_added', listener)).toBe(scheduler);
    scheduler.once('job_added', (e) => onceCalls.push(e.jobId));
    await scheduler.start({ paused: true });
    await scheduler.addJob(() => {}, 'interval', { seconds: 1, id: 'a' });
    await scheduler.addJob(() => {}, 'interval', { seconds: 1, id: 'b' });
    expect(scheduler.off('job_added', listener)).toBe(scheduler);
    await scheduler.addJob(() => {}, 'interval', { seconds: 1, id: 'c' });
    expect(onCalls).toEqual(['a', 'b']);
    expect(onceCalls).toEqual(['a']);
  });

  it('a listener for one name hears nothing else', async () => {
    const scheduler = makeScheduler();
    const heard: string[] = [];
    scheduler.on('scheduler_paused', (e) => heard.push(e.name));
    await scheduler.start();
    await scheduler.addJob(() => {}, 'interval', { seconds: 1 });
    await vi.advanceTimersByTimeAsync(SECOND);
    scheduler.pause();
    scheduler.resume();
    expect(heard).toEqual(['scheduler_paused']);
  });

  it('rejects unknown event names and non-function listeners', () => {
    const scheduler = makeScheduler();
    expect(() => scheduler.on('job_exploded' as never, () => {})).toThrow(/"job_exploded"/);
    expect(() => scheduler.on('job_added', 'nope' as never)).toThrow(/listener.*"nope"/);
  });
});

describe('listeners with masks', () => {
  it('addListener delivers the events in its mask (EVENT_ALL by default); removeListener stops it', async () => {
    const scheduler = makeScheduler();
    const jobs: string[] = [];
    const all: string[] = [];
    const jobListener = (e: SchedulerEventAny) => jobs.push(e.name);
    const allListener = (e: SchedulerEventAny) => all.push(e.name);
    scheduler.addListener(jobListener, EVENT_JOB_ADDED | EVENT_JOB_EXECUTED);
    scheduler.addListener(allListener);
    await scheduler.start();
    await scheduler.addJob(() => 1, 'interval', { seconds: 1 });
    await vi.advanceTimersByTimeAsync(SECOND);
    scheduler.removeListener(jobListener);
    await vi.advanceTimersByTimeAsync(SECOND);
    expect(jobs).toEqual(['job_added', 'job_executed']);
    expect(all).toEqual([
      'scheduler_started',
      'job_added',
      'job_submitted',
      'job_executed',
      'job_submitted',
      'job_executed',
    ]);
  });

  it('rejects masks that select no event or unknown bits', () => {
    const scheduler = makeScheduler();
    for (const mask of [0, -1, EVENT_ALL + 1, 1.5]) {
      expect(() => scheduler.addListener(() => {}, mask)).toThrow(/mask/);
    }
  });
});
