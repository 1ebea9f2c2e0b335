/**
 * Bad input to the scheduler: each a TypeError or RangeError naming the option and the value,
 * and nothing half-added.
 */
import { describe, expect, it } from 'vitest';
import {
  BackgroundScheduler,
  BlockingScheduler,
  CronTrigger,
  IntervalTrigger,
  MemoryJobStore,
  PostgresJobStore,
  PromisePoolExecutor,
  SqliteJobStore,
  WorkerThreadExecutor,
} from '../../src/index.js';
import { makeScheduler, record, useFakeTime } from '../helpers/scheduler.js';

useFakeTime();

function noop(): void {}

type ErrorClass = typeof TypeError | typeof RangeError | typeof Error;

describe('addJob', () => {
  const cases: Array<[string, unknown, unknown, unknown, ErrorClass, RegExp]> = [
    ['unknown trigger alias', noop, 'weekly', undefined, TypeError, /trigger.*"weekly"/],
    ['trigger of the wrong type', noop, 42, undefined, TypeError, /trigger.*42/],
    ['unknown option', noop, 'interval', { seconds: 1, colour: 'red' }, TypeError, /"colour"/],
    ['option of another trigger', noop, 'cron', { hours: 1 }, TypeError, /"hours"/],
    [
      'trigger option with a Trigger instance',
      noop,
      new CronTrigger({ hour: 1, timezone: 'UTC' }),
      { hour: 2 },
      TypeError,
      /"hour"/,
    ],
    // The trigger module decides between TypeError and RangeError here; both are fine.
    ['wrong trigger option type', noop, 'interval', { seconds: 'ten' }, Error, /seconds.*"ten"/],
    ['bad cron field', noop, 'cron', { hour: 25 }, RangeError, /hour.*25/],
    ['zero interval', noop, 'interval', { seconds: 0 }, RangeError, /interval.*0/],
    ['bad timezone', noop, 'cron', { hour: 1, timezone: 'Mars/Base' }, RangeError, /timezone.*"Mars\/Base"/],
    ['options not an object', noop, 'interval', 5, TypeError, /options.*5/],
    [
      'maxInstances 0',
      noop,
      'interval',
      { seconds: 1, maxInstances: 0 },
      RangeError,
      /^Expected maxInstances to be an integer from 1 and up, got 0 \(number\)$/,
    ],
    [
      'maxInstances 1.5',
      noop,
      'interval',
      { seconds: 1, maxInstances: 1.5 },
      RangeError,
      /maxInstances.*1\.5/,
    ],
    ['coalesce not boolean', noop, 'interval', { seconds: 1, coalesce: 'yes' }, TypeError, /coalesce.*"yes"/],
    [
      'negative grace',
      noop,
      'interval',
      { seconds: 1, misfireGraceTime: -1 },
      RangeError,
      /^Expected misfireGraceTime to be a number of seconds above 0 or null, got -1 \(number\)$/,
    ],
    ['timeout 0', noop, 'interval', { seconds: 1, timeout: 0 }, RangeError, /timeout.*0/],
    ['args not an array', noop, 'interval', { seconds: 1, args: 5 }, TypeError, /args.*5/],
    ['id not a string', noop, 'interval', { seconds: 1, id: 7 }, TypeError, /id.*7/],
    ['empty id', noop, 'interval', { seconds: 1, id: '' }, TypeError, /id.*""/],
    ['name not a string', noop, 'interval', { seconds: 1, name: 1 }, TypeError, /name.*1/],
    [
      'bad nextRunTime',
      noop,
      'interval',
      { seconds: 1, nextRunTime: 'soon' },
      RangeError,
      /nextRunTime.*"soon"/,
    ],
    [
      'replaceExisting not boolean',
      noop,
      'interval',
      { seconds: 1, replaceExisting: 1 },
      TypeError,
      /replaceExisting.*1/,
    ],
    [
      'unknown store alias',
      noop,
      'interval',
      { seconds: 1, jobstore: 'nope' },
      TypeError,
      /jobstore.*"nope"/,
    ],
    [
      'unknown executor alias',
      noop,
      'interval',
      { seconds: 1, executor: 'nope' },
      TypeError,
      /executor.*"nope"/,
    ],
    [
      'misspelled job option',
      noop,
      'cron',
      { hour: 9, misfireGracetime: 5 },
      TypeError,
      /^Unknown option "misfireGracetime" for a cron trigger \(did you mean "misfireGraceTime"\?/,
    ],
    [
      'misspelled trigger option',
      noop,
      'interval',
      { minuts: 5 },
      TypeError,
      /^Unknown option "minuts" for an interval trigger \(did you mean "minutes"\?/,
    ],
    [
      'misspelled option in another case',
      noop,
      'cron',
      { hour: 9, MaxInstances: 2 },
      TypeError,
      /did you mean "maxInstances"\?/,
    ],
    ['func a number', 42, 'interval', { seconds: 1 }, TypeError, /func.*42/],
    ['func an object', {}, 'interval', { seconds: 1 }, TypeError, /func/],
    ['func null', null, 'interval', { seconds: 1 }, TypeError, /func.*null/],
  ];

  for (const [title, func, trigger, options, kind, message] of cases) {
    it(`${title}: ${kind.name} naming it, nothing added`, async () => {
      for (const paused of [false, true]) {
        const scheduler = makeScheduler();
        const events = record(scheduler);
        if (paused) await scheduler.start({ paused: true });
        const error = await scheduler.addJob(func as string, trigger as never, options as never).then(
          () => null,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(kind);
        expect(error instanceof TypeError || error instanceof RangeError).toBe(true);
        expect((error as Error).message).toMatch(message);
        expect(await scheduler.getJobs()).toEqual([]);
        expect(events.filter((e) => e.name === 'job_added')).toEqual([]);
      }
    });
  }
});

describe('scheduler options', () => {
  const cases: Array<[string, unknown, ErrorClass, RegExp]> = [
    ['unknown option', { colour: 'blue' }, TypeError, /"colour"/],
    ['options not an object', 5, TypeError, /options.*5/],
    ['bad timezone', { timezone: 'Nowhere/Land' }, RangeError, /timezone.*"Nowhere\/Land"/],
    ['jobDefaults not an object', { jobDefaults: 5 }, TypeError, /jobDefaults.*5/],
    ['unknown job default', { jobDefaults: { foo: 1 } }, TypeError, /jobDefaults.*"foo"|"foo".*jobDefaults/],
    [
      'bad jobDefaults.maxInstances',
      { jobDefaults: { maxInstances: -1 } },
      RangeError,
      /jobDefaults\.maxInstances.*-1/,
    ],
    ['bad jobDefaults.coalesce', { jobDefaults: { coalesce: 1 } }, TypeError, /jobDefaults\.coalesce.*1/],
    [
      'bad jobDefaults.misfireGraceTime',
      { jobDefaults: { misfireGraceTime: 0 } },
      RangeError,
      /jobDefaults\.misfireGraceTime.*0/,
    ],
    ['bad jobstoreRetryInterval', { jobstoreRetryInterval: 0 }, RangeError, /jobstoreRetryInterval.*0/],
    ['bad daemon', { daemon: 'yes' }, TypeError, /daemon.*"yes"/],
    ['bad logger', { logger: {} }, TypeError, /logger/],
    ['bad schedulerId', { schedulerId: '' }, TypeError, /schedulerId.*""/],
    ['not a job store', { jobstores: { x: {} } }, TypeError, /jobstore "x"/],
    ['not an executor', { executors: { x: 5 } }, TypeError, /executor "x" to be an Executor, got 5/],
    [
      'not a job store, with its article',
      { jobstores: { x: 5 } },
      TypeError,
      /jobstore "x" to be a JobStore/,
    ],
    [
      'misspelled job default',
      { jobDefaults: { misfireGracetime: 1 } },
      TypeError,
      /"misfireGracetime" in jobDefaults \(did you mean "misfireGraceTime"\?/,
    ],
    ['jobstores not an object', { jobstores: 5 }, TypeError, /jobstores.*5/],
  ];
  for (const [title, options, kind, message] of cases) {
    it(`${title}: ${kind.name} naming it`, () => {
      for (const make of [
        () => new BackgroundScheduler(options as never),
        () => new BlockingScheduler(options as never),
        () => makeScheduler().configure(options as never),
      ]) {
        let error: unknown = null;
        try {
          make();
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(kind);
        expect((error as Error).message).toMatch(message);
      }
    });
  }
});

describe('stores, executors and ids', () => {
  it('rejects bad aliases and plugins', async () => {
    const scheduler = makeScheduler();
    await expect(scheduler.addJobstore({} as never, 'x')).rejects.toThrow(/jobstore "x"/);
    await expect(scheduler.addJobstore(new MemoryJobStore(), '' as never)).rejects.toThrow(/alias.*""/);
    await expect(scheduler.addExecutor({} as never, 'x')).rejects.toThrow(/executor "x"/);
    await expect(scheduler.removeJobstore('nope')).rejects.toThrow(/"nope"/);
    await expect(scheduler.removeExecutor('nope')).rejects.toThrow(/"nope"/);
    await expect(scheduler.getJob(5 as never)).rejects.toThrow(/id.*5/);
  });

  it('PromisePoolExecutor options', () => {
    expect(() => new PromisePoolExecutor({ maxWorkers: 0 })).toThrow(RangeError);
    expect(() => new PromisePoolExecutor({ maxWorkers: 0 })).toThrow(/maxWorkers.*0 \(number\)/);
  });
});

describe('numeric options: TypeError for a value that is not a number, RangeError for a number out of range', () => {
  const add = (options: Record<string, unknown>) =>
    makeScheduler().addJob(noop, 'interval', { seconds: 1, ...options } as never);
  // Each case: the option as its message names it, and how to give it a value.
  const cases: Array<[string, (value: unknown) => unknown]> = [
    ['misfireGraceTime', (v) => add({ misfireGraceTime: v })],
    ['maxInstances', (v) => add({ maxInstances: v })],
    ['timeout', (v) => add({ timeout: v })],
    ['retry.delay', (v) => add({ retry: { attempts: 2, delay: v } })],
    ['retry.attempts', (v) => add({ retry: { attempts: v } })],
    ['jitter', (v) => add({ jitter: v })],
    ['jitter', (v) => new CronTrigger({ hour: 1, timezone: 'UTC', jitter: v as number })],
    ['seconds', (v) => new IntervalTrigger({ seconds: v as number, timezone: 'UTC' })],
    [
      'misfireGraceTime',
      async (v) => {
        const scheduler = makeScheduler();
        await scheduler.addJob(noop, 'interval', { seconds: 1, id: 'j' });
        await scheduler.modifyJob('j', { misfireGraceTime: v as number });
      },
    ],
    [
      'jobDefaults.misfireGraceTime',
      (v) => new BackgroundScheduler({ jobDefaults: { misfireGraceTime: v as number } }),
    ],
    [
      'jobDefaults.maxInstances',
      (v) => new BackgroundScheduler({ jobDefaults: { maxInstances: v as number } }),
    ],
    [
      'jobDefaults.retry.jitter',
      (v) => new BackgroundScheduler({ jobDefaults: { retry: { attempts: 1, jitter: v as number } } }),
    ],
    ['runHistory.maxAge', (v) => new BackgroundScheduler({ runHistory: { maxAge: v as number } })],
    ['jobstoreRetryInterval', (v) => new BackgroundScheduler({ jobstoreRetryInterval: v as number })],
    ['leaseTime', (v) => new SqliteJobStore({ path: 'never.db', leaseTime: v as number })],
    [
      'pollInterval',
      (v) => new PostgresJobStore({ connectionString: 'postgres://x', pollInterval: v as number }),
    ],
    ['idleTimeout', (v) => new WorkerThreadExecutor({ idleTimeout: v as number })],
    ['maxWorkers', (v) => new WorkerThreadExecutor({ maxWorkers: v as number })],
    ['maxWorkers', (v) => new PromisePoolExecutor({ maxWorkers: v as number })],
    [
      'timeout',
      async (v) => {
        const scheduler = makeScheduler();
        await scheduler.start();
        await scheduler.shutdown({ timeout: v as number });
      },
    ],
  ];

  async function thrown(give: () => unknown): Promise<unknown> {
    try {
      await give();
    } catch (error) {
      return error;
    }
    return null;
  }

  for (const [option, give] of cases) {
    it(`${option}: "5" is a TypeError, -1 a RangeError, each naming ${option} and the value`, async () => {
      const wrongType = await thrown(() => give('5'));
      expect(wrongType).toBeInstanceOf(TypeError);
      expect((wrongType as Error).message).toMatch(
        new RegExp(`^Expected ${option.replaceAll('.', '\\.')} to be .*, got "5" \\(string\\)$`),
      );
      const outOfRange = await thrown(() => give(-1));
      expect(outOfRange).toBeInstanceOf(RangeError);
      expect((outOfRange as Error).message).toMatch(
        new RegExp(`^Expected ${option.replaceAll('.', '\\.')} to be .*, got -1 \\(number\\)$`),
      );
      // The same wording for both: only the class tells the two mistakes apart.
      expect((outOfRange as Error).message.replace('-1 (number)', '"5" (string)')).toBe(
        (wrongType as Error).message,
      );
    });
  }

  it('NaN and Infinity are numbers out of range', async () => {
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(await thrown(() => add({ misfireGraceTime: value }))).toBeInstanceOf(RangeError);
      expect(await thrown(() => new WorkerThreadExecutor({ idleTimeout: value }))).toBeInstanceOf(RangeError);
    }
    expect(() => new PromisePoolExecutor({ maxWorkers: Number.POSITIVE_INFINITY })).not.toThrow();
  });
});
