/**
 * The suite every JobStore must pass (SPEC sections 3, 4, 5 and 7), through the public API only:
 * a `BackgroundScheduler` over the store, its job methods and its events. A store's test file
 * calls `describeStoreSuite('SqliteJobStore', { persistent: true, create, reopen, cleanup })`.
 *
 * Time. The tests never sleep and never fake Node's timers. They install a `ManualClock` with
 * `setClock()`: `now()` stands still until a test moves it with `advanceTo()`, and the
 * scheduler's timers (it arms them only through the clock) fire when the clock reaches them.
 * Everything else stays real: `setImmediate`, `process.nextTick`, sockets and files, so a
 * Postgres or Redis driver works exactly as in production. `settle()` waits until the scheduler
 * is quiet: no store call in flight (each call through the `StoreWatch` proxy is counted,
 * without changing what it does), no clock timer due, and a few turns of the event loop with
 * nothing new. `advanceTo()` settles, moves the clock, fires the timers it reached, wakes the
 * scheduler (a store's wake-up hint may have started a pass just before the move, which would
 * still read the old time) and settles again. Each pass therefore sees exactly the instant the
 * test chose, whatever the I/O latency: the outcome of every step is fixed, and no assertion
 * depends on how long anything took. That the scheduler sleeps no longer than until the
 * earliest job is checked through `getNextRunTime`. vitest's fake timers are not used because
 * they replace the globals that database drivers rely on (timeouts, keep-alives, retries).
 *
 * This file is long because the suite is one unit that each store file imports whole.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AndTrigger,
  BackgroundScheduler,
  CalendarIntervalTrigger,
  type Clock,
  ConflictingIdError,
  CronTrigger,
  DateTrigger,
  IntervalTrigger,
  type Job,
  JobLookupError,
  JobPausedError,
  type JobStore,
  OrTrigger,
  PromisePoolExecutor,
  registerTask,
  type SchedulerEventAny,
  SchedulerNotRunningError,
  SerializationError,
  setClock,
  TaskLookupError,
  type Trigger,
} from '../../src/index.js';
import {
  at,
  DAY,
  fakeLogger,
  HOUR,
  iso,
  MINUTE,
  named,
  type RecordingLogger,
  record,
  SECOND,
  T0,
} from '../helpers/scheduler.js';

// ---- the factory ----

interface StoreFactoryBase {
  /** A new, empty store (a fresh database, table, file or key prefix); called before each test. */
  create(): JobStore | Promise<JobStore>;
  /** Frees what `create()` made; called after each test, once its schedulers are shut down. */
  cleanup?(): void | Promise<void>;
}

/** A store whose jobs live as long as the store object (such as `MemoryJobStore`). */
export interface VolatileStoreFactory extends StoreFactoryBase {
  persistent: false;
}

/** A store that keeps jobs across restarts; it also gets the restart, task and serialization tests. */
export interface PersistentStoreFactory extends StoreFactoryBase {
  persistent: true;
  /**
   * Another store object over the storage of this test's `create()`, as a restarted process
   * would make it. Called after the first store was shut down.
   */
  reopen(): JobStore | Promise<JobStore>;
}

/**
 * How the suite gets stores: `create()` before each test, `reopen()` (persistent stores) for a
 * restart within a test, `cleanup()` after each test. To skip when a server is not available,
 * wrap the call: `describe.runIf(url)('Postgres', () => describeStoreSuite(...))`.
 */
export type StoreFactory = VolatileStoreFactory | PersistentStoreFactory;

// ---- time: a clock the test moves ----

interface ClockTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/** A clock whose time moves only in `advanceTo`; its timers fire once the time reaches them. */
class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #scheduled = false;
  readonly #timers = new Map<number, ClockTimer>();
  /** Grows whenever a timer is armed or fires, so `settle` can see that something happened. */
  activity = 0;

  constructor(start: Date) {
    this.#now = start.getTime();
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const seq = ++this.#seq;
    this.#timers.set(seq, { at: this.#now + Math.max(0, ms), fn, seq });
    this.activity++;
    if (ms <= 0) this.#fireSoon();
    return seq;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Moves the time forward and fires the timers it reached, earliest first. */
  moveTo(time: Date): void {
    if (time.getTime() < this.#now)
      throw new Error(`The test clock only moves forward, got ${time.toISOString()}`);
    this.#now = time.getTime();
    this.#fireDue();
  }

  /** True when some timer is due and not fired yet. */
  hasDue(): boolean {
    for (const timer of this.#timers.values()) if (timer.at <= this.#now) return true;
    return false;
  }

  #fireSoon(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#fireDue();
    });
  }

  #fireDue(): void {
    const due = [...this.#timers.values()]
      .filter((t) => t.at <= this.#now)
      .sort((a, b) => a.at - b.at || a.seq - b.seq);
    for (const timer of due) {
      // An earlier callback may have cleared it.
      if (!this.#timers.delete(timer.seq)) continue;
      this.activity++;
      timer.fn();
    }
  }
}

// ---- watching store calls ----

/** Wraps a store in a proxy that counts its calls in flight and changes nothing else. */
class StoreWatch {
  readonly store: JobStore;
  inFlight = 0;
  /** Grows when a call starts or ends. */
  activity = 0;
  #drained: Array<() => void> = [];

  constructor(target: JobStore) {
    this.store = new Proxy(target, {
      get: (object, key) => {
        // The store itself as receiver, so getters over private fields keep working.
        const value: unknown = Reflect.get(object, key, object);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => this.#track(value.apply(object, args));
      },
    });
  }

  #track(result: unknown): unknown {
    if (!(result instanceof Promise)) return result;
    this.inFlight++;
    this.activity++;
    const done = () => {
      this.inFlight--;
      this.activity++;
      if (this.inFlight === 0) for (const resolve of this.#drained.splice(0)) resolve();
    };
    result.then(done, done);
    return result;
  }

  /** Resolves once no call is in flight. */
  drained(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }
}

// ---- tasks: registered, so every store can hold them ----

/** One call of a suite task. */
interface Call {
  task: string;
  args: unknown[];
}

const calls: Call[] = [];

/** Records its arguments. */
const recordTask = registerTask('tickwork-store-suite.record', (...args: unknown[]) => {
  calls.push({ task: 'record', args });
});

/** Records its arguments under another name (for modifyJob's `func`). */
const otherTask = registerTask('tickwork-store-suite.other', (...args: unknown[]) => {
  calls.push({ task: 'other', args });
});

/** Fails its first `failures` calls for `key`, then returns `{ key, try }`. */
const tries = new Map<string, number>();
const flakyTask = registerTask('tickwork-store-suite.flaky', (key: string, failures: number) => {
  const n = (tries.get(key) ?? 0) + 1;
  tries.set(key, n);
  calls.push({ task: 'flaky', args: [key, n] });
  if (n <= failures) throw new Error(`try ${n} of ${key} failed`);
  return { key, try: n };
});

/** Waits until the test opens its gate (`openGates()`), for runs that must still be going. */
const gates: Array<() => void> = [];
const gateTask = registerTask('tickwork-store-suite.gate', async (key: string) => {
  calls.push({ task: 'gate', args: [key] });
  await new Promise<void>((resolve) => gates.push(resolve));
});
const openGates = () => {
  for (const open of gates.splice(0)) open();
};

// ---- helpers ----

/** A scheduler over a watched store, with what the test looks at. */
interface Harness {
  scheduler: BackgroundScheduler;
  events: SchedulerEventAny[];
  logger: RecordingLogger;
}

/** The fields of a job a store must give back, in a comparable form. */
function snapshot(job: Job) {
  return {
    id: job.id,
    name: job.name,
    func: job.func,
    taskRef: job.taskRef,
    args: job.args,
    trigger: job.trigger.toString(),
    triggerJSON: job.trigger.toJSON(),
    executor: job.executor,
    jobstore: job.jobstore,
    misfireGraceTime: job.misfireGraceTime,
    coalesce: job.coalesce,
    maxInstances: job.maxInstances,
    timeout: job.timeout,
    nextRunTime: job.nextRunTime === null ? null : job.nextRunTime.toISOString(),
    pending: job.pending,
  };
}

/** Next fire times of a trigger from a few instants, with and without a previous fire time. */
function fireTimes(trigger: Trigger): Array<string | null> {
  const instants = [T0, at(HOUR + 1), at(40 * DAY + 7 * HOUR + 123)];
  return iso(instants.flatMap((t) => [trigger.getNextFireTime(null, t), trigger.getNextFireTime(t, t)]));
}

const ids = (jobs: Job[]) => jobs.map((j) => j.id);
const times = (dates: Date[]) => dates.map((d) => d.toISOString());

/** Catches what a promise rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('Expected a rejection, but the promise resolved');
}

/** Ids and names that must round-trip exactly (NUL-free, as RELIABILITY.md asks: Postgres text has no NUL). */
const HOSTILE = [
  "it's",
  'say "hi"',
  'back`tick`',
  'C:\\temp\\new',
  '\\',
  "'); DROP TABLE jobs; --",
  '" OR 1=1 --',
  '%',
  'a_b%c',
  '*',
  'job:*',
  '[ab]?',
  '{hash}tag',
  '$date',
  '../../etc/passwd',
  'line\nbreak\ttab\r',
  ' padded ',
  '😀🎉👩‍👩‍👧',
  '中文漢字かな한국어',
  'שלום مرحبا',
  '\u202eevil\u202c',
  'x'.repeat(1024),
  '界'.repeat(1024),
];

/** Runs the JobStore suite on the stores `factory` makes. */
export function describeStoreSuite(name: string, factory: StoreFactory): void {
  describe(`${name} (JobStore suite)`, () => {
    let clock: ManualClock;
    let store: JobStore;
    let watches: StoreWatch[];
    let harnesses: Harness[];

    beforeEach(async () => {
      calls.length = 0;
      tries.clear();
      watches = [];
      harnesses = [];
      clock = new ManualClock(T0);
      setClock(clock);
      store = await factory.create();
    });

    afterEach(async () => {
      try {
        for (const h of harnesses) if (h.scheduler.running) await h.scheduler.shutdown();
        for (const h of harnesses) {
          // Job errors and store failures are logged: none is expected anywhere in the suite.
          expect(h.logger.errors).toEqual([]);
          expect(h.logger.warnings.filter((w) => String(w[1]).startsWith('Error processing'))).toEqual([]);
        }
      } finally {
        setClock();
        await factory.cleanup?.();
      }
    });

    /** Waits until no store call is in flight, no timer is due, and a few loop turns passed quietly. */
    async function settle(): Promise<void> {
      const activity = () => watches.reduce((sum, w) => sum + w.activity, clock.activity);
      for (let round = 0; round < 10_000; round++) {
        await Promise.all(watches.map((w) => w.drained()));
        const mark = activity();
        for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
        if (!clock.hasDue() && watches.every((w) => w.inFlight === 0) && activity() === mark) return;
      }
      throw new Error('The scheduler never became quiet (a pass or a timer keeps going)');
    }

    /**
     * Moves the clock to `time` and waits for the scheduler. The scheduler is quiet first, so no
     * pass reads the old time after the move; the timers the time reached fire; and each running
     * scheduler is woken, because a store's wake-up hint (Postgres NOTIFY, Redis pub/sub) may
     * start a pass at any moment, even just before the move.
     */
    async function advanceTo(time: Date): Promise<void> {
      await settle();
      clock.moveTo(time);
      for (const h of harnesses) if (h.scheduler.running) h.scheduler.wakeup();
      await settle();
    }

    /** A scheduler (UTC, executors `default` and `other`) over `jobStore`, started unless told. */
    async function open(jobStore: JobStore = store, start = true): Promise<Harness> {
      const watch = new StoreWatch(jobStore);
      watches.push(watch);
      const logger = fakeLogger();
      const scheduler = new BackgroundScheduler({
        timezone: 'UTC',
        logger,
        jobstores: { default: watch.store },
        executors: {
          default: new PromisePoolExecutor({ maxWorkers: 10 }),
          other: new PromisePoolExecutor({ maxWorkers: 2 }),
        },
      });
      const harness = { scheduler, events: record(scheduler), logger };
      harnesses.push(harness);
      if (start) {
        await scheduler.start();
        await settle();
      }
      return harness;
    }

    /** Shuts a scheduler down, so its store is closed. */
    async function stop(h: Harness): Promise<void> {
      await h.scheduler.shutdown();
      await settle();
    }

    const executed = (h: Harness) =>
      named(h.events, 'job_executed').map((e) => `${e.jobId}@${e.scheduledRunTime.toISOString()}`);
    const missed = (h: Harness) =>
      named(h.events, 'job_missed').map((e) => `${e.jobId}@${e.scheduledRunTime.toISOString()}`);
    const run = (id: string, time: Date) => `${id}@${time.toISOString()}`;

    describe('jobs and their fields', () => {
      it('getJob and getJobs give back every field addJob stored', async () => {
        const h = await open();
        const full = await h.scheduler.addJob(recordTask, 'interval', {
          minutes: 5,
          startDate: at(90 * SECOND + 7),
          id: 'full',
          name: 'Every field',
          args: [new Date('1999-12-31T23:59:59.999Z'), { nested: { list: [1, 'two', null, true] } }, 'x'],
          executor: 'other',
          misfireGraceTime: 2.5,
          coalesce: false,
          maxInstances: 3,
          timeout: 7.25,
        });
        const sparse = await h.scheduler.addJob(recordTask, 'cron', {
          minute: '*/15',
          id: 'sparse',
          misfireGraceTime: null,
          coalesce: true,
          maxInstances: 1,
          timeout: null,
          nextRunTime: '2026-01-01T00:00:09.876Z',
        });
        const byName = await h.scheduler.addJob('tickwork-store-suite.other', 'date', {
          runDate: at(3 * DAY + 1),
          id: 'by-name',
        });
        await settle();
        expect(full.nextRunTime?.toISOString()).toBe('2026-01-01T00:01:30.007Z');
        expect(snapshot(full)).toMatchObject({ name: 'Every field', taskRef: 'tickwork-store-suite.record' });
        expect(byName.func).toBe(otherTask);
        for (const job of [full, sparse, byName]) {
          const found = await h.scheduler.getJob(job.id);
          expect(found).not.toBeNull();
          expect(snapshot(found as Job)).toStrictEqual(snapshot(job));
        }
        const all = await h.scheduler.getJobs();
        expect(ids(all)).toEqual(['sparse', 'full', 'by-name']);
        expect(all.map(snapshot)).toStrictEqual([sparse, full, byName].map(snapshot));
        expect((all[1].args[0] as Date).getTime()).toBe(Date.UTC(1999, 11, 31, 23, 59, 59, 999));
        expect(all[1].args[0]).toBeInstanceOf(Date);
        expect(named(h.events, 'job_added').map((e) => [e.jobId, e.jobstore])).toEqual([
          ['full', 'default'],
          ['sparse', 'default'],
          ['by-name', 'default'],
        ]);
      });

      it('args keep Dates, nested objects and every value JSON holds', async () => {
        const h = await open();
        const args = [
          new Date(Date.UTC(2026, 1, 3, 4, 5, 6, 7)),
          { deep: { deeper: { list: [new Date(0), { at: new Date(-1) }], empty: {}, none: [] } } },
          '',
          0,
          -1.5e-7,
          Number.MAX_SAFE_INTEGER,
          1e300,
          true,
          false,
          null,
          [[[]]],
          'unicode 😀 中文 עברית \\ " \' `',
          { $date: 'not a date', $object: 1, 'key with "quotes"': 'v', '': 'empty key' },
        ];
        await h.scheduler.addJob(recordTask, 'interval', { hours: 1, id: 'args', args });
        const found = (await h.scheduler.getJob('args')) as Job;
        expect(found.args).toStrictEqual(args);
        expect((await h.scheduler.getJobs())[0].args).toStrictEqual(args);
      });

      it('triggers of every kind keep their description, JSON and fire times', async () => {
        const h = await open();
        const triggers: Record<string, Trigger> = {
          date: new DateTrigger({ runDate: '2026-03-04T05:06:07.089Z', timezone: 'UTC' }),
          interval: new IntervalTrigger({
            hours: 1,
            seconds: 0.25,
            startDate: at(500),
            endDate: at(90 * DAY),
            timezone: 'Asia/Tokyo',
          }),
          cron: new CronTrigger({ hour: '*/6', minute: 30, dayOfWeek: 'mon-fri', timezone: 'Europe/Berlin' }),
          crontab: CronTrigger.fromCrontab('15 9 * * 1-5', { timezone: 'America/New_York' }),
          calendar: new CalendarIntervalTrigger({
            months: 1,
            hour: 9,
            minute: 30,
            startDate: '2026-01-31',
            timezone: 'Europe/Paris',
          }),
          or: new OrTrigger([
            new CronTrigger({ minute: 30, timezone: 'UTC' }),
            new IntervalTrigger({ minutes: 7 }),
          ]),
          and: new AndTrigger([
            new CronTrigger({ minute: '*/10', timezone: 'UTC' }),
            new CronTrigger({ hour: '9-17', timezone: 'UTC' }),
          ]),
        };
        const added: Job[] = [];
        for (const [id, trigger] of Object.entries(triggers)) {
          added.push(await h.scheduler.addJob(recordTask, trigger, { id }));
        }
        await settle();
        // None is due yet, so the stored next run times are the ones computed at addJob.
        expect(calls).toEqual([]);
        for (const job of added) {
          const found = (await h.scheduler.getJob(job.id)) as Job;
          expect(found.trigger.toString()).toBe(job.trigger.toString());
          expect(found.trigger.toJSON()).toStrictEqual(job.trigger.toJSON());
          expect(fireTimes(found.trigger)).toEqual(fireTimes(job.trigger));
          expect(found.nextRunTime?.toISOString()).toBe(job.nextRunTime?.toISOString());
        }
      });

      it('jobs added before start go to the store when it starts', async () => {
        const h = await open(store, false);
        await h.scheduler.addJob(recordTask, 'interval', { seconds: 30, id: 'computed' });
        await h.scheduler.addJob(recordTask, 'interval', {
          seconds: 30,
          id: 'explicit',
          nextRunTime: at(12_345),
        });
        await h.scheduler.addJob(recordTask, 'interval', { seconds: 30, id: 'paused', nextRunTime: null });
        await advanceTo(at(5 * SECOND));
        await h.scheduler.start();
        await settle();
        const jobs = await h.scheduler.getJobs(undefined, false);
        expect(jobs.map((j) => [j.id, j.pending, j.nextRunTime?.toISOString() ?? null])).toEqual([
          ['explicit', false, at(12_345).toISOString()],
          ['computed', false, at(30 * SECOND).toISOString()],
          ['paused', false, null],
        ]);
        expect(await h.scheduler.getJobs(undefined, true)).toEqual([]);
      });
    });

    describe('ids and names', () => {
      it('ids and names with quotes, backslashes, unicode and 1 KB length round-trip exactly', async () => {
        const h = await open();
        for (const [i, text] of HOSTILE.entries()) {
          await h.scheduler.addJob(recordTask, 'date', {
            runDate: at((i + 1) * SECOND),
            id: text,
            name: text,
            misfireGraceTime: null,
          });
        }
        for (const text of HOSTILE) {
          const found = (await h.scheduler.getJob(text)) as Job;
          expect(found).not.toBeNull();
          expect(found.id).toBe(text);
          expect(found.name).toBe(text);
        }
        const all = await h.scheduler.getJobs();
        expect(ids(all)).toEqual(HOSTILE);
        expect(all.map((j) => j.name)).toEqual(HOSTILE);
        // Each of them runs, is reported under its id, and is removed.
        await advanceTo(at(HOUR));
        expect(named(h.events, 'job_executed').map((e) => e.jobId)).toEqual(HOSTILE);
        expect(calls.length).toBe(HOSTILE.length);
        expect(named(h.events, 'job_removed').map((e) => e.jobId)).toEqual(HOSTILE);
        expect(await h.scheduler.getJobs()).toEqual([]);
      });

      it('ids that differ only in case, normalization, spaces or wildcards are different jobs', async () => {
        const h = await open();
        const similar = ['job', 'Job', '\u00e9', 'e\u0301', 'a', 'a ', 'a%', 'a_', 'a*', 'a?', 'ab', 'a\\'];
        for (const [i, id] of similar.entries()) {
          await h.scheduler.addJob(recordTask, 'interval', { hours: 1, id, name: `#${i}` });
        }
        for (const [i, id] of similar.entries()) expect((await h.scheduler.getJob(id))?.name).toBe(`#${i}`);
        for (const absent of ['JOB', 'jo', 'a  ', 'a\u00a0', '%', '_', '*', '?', 'a%b', 'b', 'a\\\\']) {
          expect(await h.scheduler.getJob(absent)).toBeNull();
        }
        await h.scheduler.removeJob('a%');
        await h.scheduler.removeJob('a*');
        await h.scheduler.removeJob('Job');
        expect(ids(await h.scheduler.getJobs()).sort()).toEqual(
          similar.filter((id) => !['a%', 'a*', 'Job'].includes(id)).sort(),
        );
      });

      it('a duplicate id rejects with ConflictingIdError and changes nothing; replaceExisting replaces', async () => {
        const h = await open();
        await h.scheduler.addJob(recordTask, 'interval', { minutes: 1, id: 'dup', name: 'first', args: [1] });
        const error = await rejection(
          h.scheduler.addJob(recordTask, 'interval', { hours: 2, id: 'dup', name: 'second' }),
        );
        expect(error).toBeInstanceOf(ConflictingIdError);
        expect((error as ConflictingIdError).jobId).toBe('dup');
        let jobs = await h.scheduler.getJobs();
        expect(jobs.map((j) => [j.id, j.name, j.trigger.toString(), j.args])).toEqual([
          ['dup', 'first', 'interval[0:01:00]', [1]],
        ]);
        await h.scheduler.addJob(otherTask, 'interval', {
          hours: 2,
          id: 'dup',
          name: 'replaced',
          args: ['new'],
          replaceExisting: true,
        });
        jobs = await h.scheduler.getJobs();
        expect(jobs.map((j) => [j.id, j.name, j.trigger.toString(), j.args, j.func])).toEqual([
          ['dup', 'replaced', 'interval[2:00:00]', ['new'], otherTask],
        ]);
        expect(jobs[0].nextRunTime?.toISOString()).toBe(at(2 * HOUR).toISOString());
        // replaceExisting without a clash just adds.
        await h.scheduler.addJob(recordTask, 'interval', { hours: 3, id: 'fresh', replaceExisting: true });
        expect(ids(await h.scheduler.getJobs())).toEqual(['dup', 'fresh']);
        expect(named(h.events, 'job_added').map((e) => e.jobId)).toEqual(['dup', 'dup', 'fresh']);
      });

      it('unknown ids: getJob gives null and the job methods reject with JobLookupError', async () => {
        const h = await open();
        await h.scheduler.addJob(recordTask, 'interval', { minutes: 1, id: 'known' });
        expect(await h.scheduler.getJob('unknown')).toBeNull();
        const attempts: Array<() => Promise<unknown>> = [
          () => h.scheduler.modifyJob('unknown', { name: 'x' }),
          () => h.scheduler.rescheduleJob('unknown', 'interval', { minutes: 2 }),
          () => h.scheduler.pauseJob('unknown'),
          () => h.scheduler.resumeJob('unknown'),
          () => h.scheduler.removeJob('unknown'),
        ];
        for (const attempt of attempts) {
          const error = await rejection(attempt());
          expect(error).toBeInstanceOf(JobLookupError);
          expect((error as JobLookupError).jobId).toBe('unknown');
        }
        await h.scheduler.removeJob('known');
        expect(await h.scheduler.getJob('known')).toBeNull();
        expect(await rejection(h.scheduler.removeJob('known'))).toBeInstanceOf(JobLookupError);
        expect(await rejection(h.scheduler.pauseJob('known'))).toBeInstanceOf(JobLookupError);
      });
    });

    describe('order and changes', () => {
      it('getJobs orders jobs by next run time, paused jobs last', async () => {
        const h = await open();
        const plan: Array<[string, number | null]> = [
          ['m', 40],
          ['p1', null],
          ['z', 5],
          ['a', 70],
          ['p2', null],
          ['k', 6],
          ['b', 1],
        ];
        for (const [id, s] of plan) {
          await h.scheduler.addJob(recordTask, 'interval', {
            minutes: 10,
            id,
            nextRunTime: s === null ? null : at(s * SECOND + 1),
          });
        }
        const order = async () => {
          const jobs = await h.scheduler.getJobs();
          const running = jobs.filter((j) => j.nextRunTime !== null);
          // Paused jobs come after every scheduled one; among themselves the order is the store's.
          expect(jobs.slice(0, running.length)).toEqual(running);
          return [ids(running), ids(jobs.slice(running.length)).sort()];
        };
        expect(await order()).toEqual([
          ['b', 'z', 'k', 'm', 'a'],
          ['p1', 'p2'],
        ]);
        await h.scheduler.modifyJob('a', { nextRunTime: at(2 * SECOND) });
        await h.scheduler.pauseJob('z');
        await h.scheduler.modifyJob('p1', { nextRunTime: at(30 * SECOND) });
        expect(await order()).toEqual([
          ['b', 'a', 'k', 'p1', 'm'],
          ['p2', 'z'],
        ]);
        // The store keeps the order itself (SPEC section 7), not only the scheduler's sort.
        const stored = await store.getAllJobs();
        expect(ids(stored.slice(0, 5))).toEqual(['b', 'a', 'k', 'p1', 'm']);
        expect(ids(stored.slice(5)).sort()).toEqual(['p2', 'z']);
      });

      it('a paused job keeps its place but does not run; resumeJob schedules it from now', async () => {
        const h = await open();
        await h.scheduler.addJob(recordTask, 'interval', { seconds: 10, id: 'tick' });
        await h.scheduler.addJob(recordTask, 'interval', { hours: 1, id: 'other' });
        const paused = await h.scheduler.pauseJob('tick');
        expect(paused.nextRunTime).toBeNull();
        expect((await h.scheduler.getJob('tick'))?.nextRunTime).toBeNull();
        expect(ids(await h.scheduler.getJobs())).toEqual(['other', 'tick']);
        await advanceTo(at(35 * SECOND));
        expect(executed(h)).toEqual([]);
        const resumed = (await h.scheduler.resumeJob('tick')) as Job;
        expect(resumed.nextRunTime?.toISOString()).toBe(at(40 * SECOND).toISOString());
        expect((await h.scheduler.getJob('tick'))?.nextRunTime?.toISOString()).toBe(
          at(40 * SECOND).toISOString(),
        );
        expect(ids(await h.scheduler.getJobs())).toEqual(['tick', 'other']);
        await advanceTo(at(40 * SECOND));
        expect(executed(h)).toEqual([run('tick', at(40 * SECOND))]);
        expect(named(h.events, 'job_modified').map((e) => e.jobId)).toEqual(['tick', 'tick']);
      });

      it('resumeJob removes a job whose trigger has no fire time left', async () => {
        const h = await open();
        await h.scheduler.addJob(recordTask, 'interval', {
          seconds: 10,
          startDate: at(10 * SECOND),
          endDate: at(15 * SECOND),
          id: 'once',
          nextRunTime: null,
        });
        await advanceTo(at(20 * SECOND));
        expect(await h.scheduler.resumeJob('once')).toBeNull();
        expect(await h.scheduler.getJob('once')).toBeNull();
        expect(await h.scheduler.getJobs()).toEqual([]);
        expect(named(h.events, 'job_removed').map((e) => e.jobId)).toEqual(['once']);
        expect(calls).toEqual([]);
      });

      it('modifyJob changes every field it is given, and the job runs at a changed next run time', async () => {
        const h = await open();
        await h.scheduler.addJob(recordTask, 'interval', { hours: 1, id: 'mod', name: 'before', args: [1] });
        const changed = await h.scheduler.modifyJob('mod', {
          name: 'after',
          func: otherTask,
          args: [new Date(Date.UTC(2030, 0, 1)), { k: ['v'] }],
          executor: 'other',
          misfireGraceTime: null,
          coalesce: false,
          maxInstances: 4,
          timeout: 0.5,
        });
        const found = (await h.scheduler.getJob('mod')) as Job;
        expect(snapshot(found)).toStrictEqual(snapshot(changed));
        expect(snapshot(found)).toMatchObject({
          name: 'after',
          taskRef: 'tickwork-store-suite.other',
          args: [new Date(Date.UTC(2030, 0, 1)), { k: ['v'] }],
          executor: 'other',
          misfireGraceTime: null,
          coalesce: false,
          maxInstances: 4,
          timeout: 0.5,
          nextRunTime: at(HOUR).toISOString(),
        });
        await h.scheduler.modifyJob('mod', { nextRunTime: at(90 * SECOND + 250) });
        expect((await h.scheduler.getJob('mod'))?.nextRunTime?.toISOString()).toBe(
          at(90 * SECOND + 250).toISOString(),
        );
        await advanceTo(at(90 * SECOND + 249));
        expect(executed(h)).toEqual([]);
        await advanceTo(at(90 * SECOND + 250));
        expect(executed(h)).toEqual([run('mod', at(90 * SECOND + 250))]);
        expect(calls).toEqual([{ task: 'other', args: [new Date(Date.UTC(2030, 0, 1)), { k: ['v'] }] }]);
        expect((await h.scheduler.getJob('mod'))?.nextRunTime?.toISOString()).toBe(
          at(HOUR + 90 * SECOND + 250).toISOString(),
        );
      });

      it('rescheduleJob gives the job a new trigger and next run time', async () => {
        const h = await open();
        await h.scheduler.addJob(recordTask, 'interval', { seconds: 10, id: 'resched' });
        await advanceTo(at(2 * SECOND));
        const job = await h.scheduler.rescheduleJob('resched', 'cron', { minute: '*/5', timezone: 'UTC' });
        expect(job.nextRunTime?.toISOString()).toBe(at(5 * MINUTE).toISOString());
        const found = (await h.scheduler.getJob('resched')) as Job;
        expect(found.trigger.toString()).toBe(job.trigger.toString());
        expect(found.trigger.toJSON()).toStrictEqual(job.trigger.toJSON());
        expect(found.nextRunTime?.toISOString()).toBe(at(5 * MINUTE).toISOString());
        await advanceTo(at(MINUTE));
        expect(executed(h)).toEqual([]);
        await advanceTo(at(5 * MINUTE));
        expect(executed(h)).toEqual([run('resched', at(5 * MINUTE))]);
        expect((await h.scheduler.getJob('resched'))?.nextRunTime?.toISOString()).toBe(
          at(10 * MINUTE).toISOString(),
        );
      });

      it('removeJob removes one job, which then never runs; its id may be used again', async () => {
        const h = await open();
        await h.scheduler.addJob(recordTask, 'interval', { seconds: 10, id: 'gone' });
        await h.scheduler.addJob(recordTask, 'interval', { seconds: 10, id: 'kept' });
        await h.scheduler.removeJob('gone');
        expect(await h.scheduler.getJob('gone')).toBeNull();
        expect(ids(await h.scheduler.getJobs())).toEqual(['kept']);
        expect(named(h.events, 'job_removed').map((e) => [e.jobId, e.jobstore])).toEqual([
          ['gone', 'default'],
        ]);
        await advanceTo(at(10 * SECOND));
        expect(executed(h)).toEqual([run('kept', at(10 * SECOND))]);
        await h.scheduler.addJob(recordTask, 'date', { runDate: at(15 * SECOND), id: 'gone', name: 'again' });
        expect((await h.scheduler.getJob('gone'))?.name).toBe('again');
        await advanceTo(at(15 * SECOND));
        expect(executed(h)).toEqual([run('kept', at(10 * SECOND)), run('gone', at(15 * SECOND))]);
      });

      it('removeAllJobs empties the store', async () => {
        const h = await open();
        for (let i = 0; i < 6; i++) {
          await h.scheduler.addJob(recordTask, 'interval', {
            seconds: 10 + i,
            id: `j${i}`,
            nextRunTime: i % 3 === 0 ? null : undefined,
          });
        }
        expect((await h.scheduler.getJobs()).length).toBe(6);
        await h.scheduler.removeAllJobs();
        expect(await h.scheduler.getJobs()).toEqual([]);
        expect(await h.scheduler.getJob('j1')).toBeNull();
        expect(named(h.events, 'all_jobs_removed').map((e) => e.alias)).toEqual(['default']);
        await advanceTo(at(HOUR));
        expect(executed(h)).toEqual([]);
        await h.scheduler.addJob(recordTask, 'interval', { seconds: 10, id: 'j1' });
        expect(ids(await h.scheduler.getJobs())).toEqual(['j1']);
      });
    });

    describe('running jobs', () => {
      it('an interval job fires at its fire times with its args; its next run time advances in the store', async () => {
        const h = await open();
        const args = [new Date(Date.UTC(2026, 5, 1)), { nested: { n: 1 } }];
        await h.scheduler.addJob(recordTask, 'interval', { seconds: 10, id: 'tick', args });
        expect((await h.scheduler.getJob('tick'))?.nextRunTime?.toISOString()).toBe(
          at(10 * SECOND).toISOString(),
        );
        await advanceTo(at(10 * SECOND - 1));
        expect(executed(h)).toEqual([]);
        await advanceTo(at(10 * SECOND));
        expect(executed(h)).toEqual([run('tick', at(10 * SECOND))]);
        expect((await h.scheduler.getJob('tick'))?.nextRunTime?.toISOString()).toBe(
          at(20 * SECOND).toISOString(),
        );
        await advanceTo(at(20 * SECOND));
        await advanceTo(at(25 * SECOND));
        expect(executed(h)).toEqual([run('tick', at(10 * SECOND)), run('tick', at(20 * SECOND))]);
        expect((await h.scheduler.getJob('tick'))?.nextRunTime?.toISOString()).toBe(
          at(30 * SECOND).toISOString(),
        );
        expect(calls).toStrictEqual([
          { task: 'record', args },
          { task: 'record', args },
        ]);
        expect(calls[0].args[0]).toBeInstanceOf(Date);
        expect(named(h.events, 'job_submitted').map((e) => times(e.scheduledRunTimes))).toEqual([
          [at(10 * SECOND).toISOString()],
          [at(20 * SECOND).toISOString()],
        ]);
        expect(missed(h)).toEqual([]);
      });

      it('a date job runs once and is removed', async () => {
        const h = await open();
        await h.scheduler.addJob(recordTask, 'date', {
          runDate: at(5 * SECOND + 5),
          id: 'once',
          args: ['hi'],
        });
        await advanceTo(at(5 * SECOND + 5));
        expect(executed(h)).toEqual([run('once', at(5 * SECOND + 5))]);
        expect(named(h.events, 'job_removed').map((e) => e.jobId)).toEqual(['once']);
        expect(await h.scheduler.getJob('once')).toBeNull();
        expect(await h.scheduler.getJobs()).toEqual([]);
        await advanceTo(at(DAY));
        expect(calls).toEqual([{ task: 'record', args: ['hi'] }]);
      });

      it('getNextRunTime, which the scheduler sleeps until, is the earliest next run time', async () => {
        const h = await open();
        /** Never later than the earliest job; never at or before now while nothing is due. */
        const expectNextRunTime = async (expected: Date | null) => {
          await settle();
          const next = await store.getNextRunTime();
          if (expected === null) {
            expect(next).toBeNull();
            return;
          }
          expect(next).not.toBeNull();
          const ms = (next as Date).getTime();
          // A store shared by several schedulers may answer early (a lease ends), never late.
          if (store.acquireDueJobs === undefined) expect(ms).toBe(expected.getTime());
          expect(ms).toBeLessThanOrEqual(expected.getTime());
          expect(ms).toBeGreaterThan(clock.now());
        };
        await expectNextRunTime(null);
        await h.scheduler.addJob(recordTask, 'interval', { hours: 1, id: 'paused', nextRunTime: null });
        await expectNextRunTime(null);
        await h.scheduler.addJob(recordTask, 'interval', {
          hours: 1,
          id: 'late',
          nextRunTime: at(50 * SECOND + 3),
        });
        await h.scheduler.addJob(recordTask, 'interval', {
          hours: 1,
          id: 'early',
          nextRunTime: at(20 * SECOND + 7),
        });
        await expectNextRunTime(at(20 * SECOND + 7));
        await advanceTo(at(20 * SECOND + 7));
        await expectNextRunTime(at(50 * SECOND + 3));
        await h.scheduler.pauseJob('late');
        await expectNextRunTime(at(HOUR + 20 * SECOND + 7));
        await h.scheduler.removeJob('early');
        await expectNextRunTime(null);
        await h.scheduler.resumeJob('paused');
        await expectNextRunTime(at(HOUR));
        expect(executed(h)).toEqual([run('early', at(20 * SECOND + 7))]);
      });

      it('jobs due together are handed to their executors earliest first', async () => {
        const h = await open();
        for (const [id, s] of [
          ['c', 3],
          ['a', 1],
          ['d', 4],
          ['b', 2],
        ] as const) {
          await h.scheduler.addJob(recordTask, 'date', {
            runDate: at(s * SECOND + 500),
            id,
            misfireGraceTime: null,
          });
        }
        await stop(h);
        await advanceTo(at(MINUTE));
        await h.scheduler.start();
        await settle();
        expect(named(h.events, 'job_submitted').map((e) => e.jobId)).toEqual(['a', 'b', 'c', 'd']);
        expect(executed(h)).toEqual(['a', 'b', 'c', 'd'].map((id, i) => run(id, at((i + 1) * SECOND + 500))));
        expect(await h.scheduler.getJobs()).toEqual([]);
      });

      it('jobs due at the same instant each run once', async () => {
        const h = await open();
        const count = 40;
        for (let i = 0; i < count; i++) {
          await h.scheduler.addJob(recordTask, 'interval', { minutes: 1, id: `same-${i}`, args: [i] });
        }
        await advanceTo(at(MINUTE));
        expect(executed(h).sort()).toEqual(
          Array.from({ length: count }, (_, i) => run(`same-${i}`, at(MINUTE))).sort(),
        );
        expect(calls.map((c) => c.args[0]).sort((a, b) => (a as number) - (b as number))).toEqual(
          Array.from({ length: count }, (_, i) => i),
        );
        const jobs = await h.scheduler.getJobs();
        expect(new Set(jobs.map((j) => j.nextRunTime?.toISOString()))).toEqual(
          new Set([at(2 * MINUTE).toISOString()]),
        );
      });

      it('runs missed while the scheduler was stopped coalesce into one run of the latest', async () => {
        const h = await open();
        await h.scheduler.addJob(recordTask, 'interval', { minutes: 1, id: 'c', misfireGraceTime: 30 });
        await stop(h);
        await advanceTo(at(10 * MINUTE + 10 * SECOND));
        await h.scheduler.start();
        await settle();
        expect(executed(h)).toEqual([run('c', at(10 * MINUTE))]);
        expect(named(h.events, 'job_submitted').map((e) => times(e.scheduledRunTimes))).toEqual([
          [at(10 * MINUTE).toISOString()],
        ]);
        expect(missed(h)).toEqual([]);
        expect((await h.scheduler.getJob('c'))?.nextRunTime?.toISOString()).toBe(
          at(11 * MINUTE).toISOString(),
        );
      });

      it('a missed run older than misfireGraceTime is reported as job_missed and not run', async () => {
        const h = await open();
        await h.scheduler.addJob(recordTask, 'interval', { minutes: 1, id: 'late', misfireGraceTime: 30 });
        await stop(h);
        await advanceTo(at(10 * MINUTE + 45 * SECOND));
        await h.scheduler.start();
        await settle();
        expect(executed(h)).toEqual([]);
        expect(missed(h)).toEqual([run('late', at(10 * MINUTE))]);
        expect(calls).toEqual([]);
        expect((await h.scheduler.getJob('late'))?.nextRunTime?.toISOString()).toBe(
          at(11 * MINUTE).toISOString(),
        );
      });

      it('without coalesce, each missed run within the grace time runs and the older ones are missed', async () => {
        const h = await open();
        await h.scheduler.addJob(recordTask, 'interval', {
          minutes: 1,
          id: 'each',
          coalesce: false,
          misfireGraceTime: 150,
        });
        await stop(h);
        await advanceTo(at(10 * MINUTE));
        await h.scheduler.start();
        await settle();
        expect(executed(h)).toEqual([8, 9, 10].map((m) => run('each', at(m * MINUTE))));
        // The seven missed fire times are one event.
        expect(missed(h)).toEqual([run('each', at(MINUTE))]);
        expect(
          named(h.events, 'job_missed').map((e) => [e.missedCount, e.lastMissedTime.toISOString()]),
        ).toEqual([[7, at(7 * MINUTE).toISOString()]]);
        expect((await h.scheduler.getJob('each'))?.nextRunTime?.toISOString()).toBe(
          at(11 * MINUTE).toISOString(),
        );
      });
    });

    describe('run history and retries', () => {
      /** Takes the job errors a test expects out of the logger, so the afterEach check passes. */
      const takeErrors = (h: Harness) => h.logger.errors.splice(0).map((e) => String(e[1]));

      it('records each run, newest first, with its outcome, times, value and error', async () => {
        const h = await open();
        await h.scheduler.addJob(recordTask, 'interval', {
          seconds: 10,
          id: 'ok',
          name: 'Fine',
          args: ['x'],
        });
        await h.scheduler.addJob(flakyTask, 'date', {
          runDate: at(15 * SECOND),
          id: 'bad',
          args: ['bad', 1],
        });
        await advanceTo(at(10 * SECOND));
        await advanceTo(at(15 * SECOND));
        await advanceTo(at(20 * SECOND));
        const runs = await h.scheduler.getRuns();
        expect(runs.map((r) => [r.jobId, r.outcome, r.scheduledRunTime.toISOString(), r.attempt])).toEqual([
          ['ok', 'success', at(20 * SECOND).toISOString(), 1],
          ['bad', 'error', at(15 * SECOND).toISOString(), 1],
          ['ok', 'success', at(10 * SECOND).toISOString(), 1],
        ]);
        const [latest, failed] = runs;
        expect(latest).toMatchObject({
          jobName: 'Fine',
          jobstore: 'default',
          startedAt: at(20 * SECOND),
          finishedAt: at(20 * SECOND),
          error: null,
          retval: null,
          schedulerId: h.scheduler.schedulerId,
        });
        expect(failed.error).toMatchObject({ name: 'Error', message: 'try 1 of bad failed' });
        expect(failed.error?.stack).toContain('try 1 of bad failed');
        expect(failed.retval).toBeNull();
        // The date job is gone; its run stays in the history.
        expect(await h.scheduler.getJob('bad')).toBeNull();
        expect((await h.scheduler.getRuns({ jobId: 'bad' })).map((r) => r.outcome)).toEqual(['error']);
        expect(
          (await h.scheduler.getRuns({ outcome: ['success'], limit: 1 })).map((r) => r.finishedAt),
        ).toEqual([at(20 * SECOND)]);
        expect(
          (await h.scheduler.getRuns({ since: at(12 * SECOND), until: at(16 * SECOND) })).map((r) => r.jobId),
        ).toEqual(['bad']);
        expect(takeErrors(h)).toEqual(['Job "bad" raised an error']);
      });

      it('tries a failed run again after its delay, with the attempt counted, until it succeeds', async () => {
        const h = await open();
        await h.scheduler.addJob(flakyTask, 'interval', {
          hours: 1,
          id: 'flaky',
          args: ['flaky', 2],
          retry: { attempts: 3, delay: 2, factor: 3 },
        });
        await advanceTo(at(HOUR));
        const errors = named(h.events, 'job_error');
        expect(errors.map((e) => [e.attempt, e.willRetry])).toEqual([[1, true]]);
        expect(named(h.events, 'job_retry').map((e) => [e.attempt, e.nextRunTime.toISOString()])).toEqual([
          [2, at(HOUR + 2 * SECOND).toISOString()],
        ]);
        // The retry does not move the job's next run time, and the store wakes the scheduler for it.
        expect((await h.scheduler.getJob('flaky'))?.nextRunTime).toEqual(at(2 * HOUR));
        await advanceTo(at(HOUR + 2 * SECOND));
        expect(named(h.events, 'job_retry').map((e) => [e.attempt, e.nextRunTime.toISOString()])).toEqual([
          [2, at(HOUR + 2 * SECOND).toISOString()],
          [3, at(HOUR + 8 * SECOND).toISOString()],
        ]);
        await advanceTo(at(HOUR + 8 * SECOND));
        const executed = named(h.events, 'job_executed');
        expect(executed.map((e) => [e.scheduledRunTime.toISOString(), e.attempt, e.retval])).toEqual([
          [at(HOUR).toISOString(), 3, { key: 'flaky', try: 3 }],
        ]);
        const runs = await h.scheduler.getRuns({ jobId: 'flaky' });
        expect(runs.map((r) => [r.attempt, r.outcome, r.scheduledRunTime.toISOString()])).toEqual([
          [3, 'success', at(HOUR).toISOString()],
          [2, 'error', at(HOUR).toISOString()],
          [1, 'error', at(HOUR).toISOString()],
        ]);
        expect(runs[0].retval).toEqual({ key: 'flaky', try: 3 });
        expect(calls.filter((c) => c.task === 'flaky')).toHaveLength(3);
        expect(takeErrors(h)).toHaveLength(2);
      });

      it('stops after the last attempt: job_error says it will not retry', async () => {
        const h = await open();
        await h.scheduler.addJob(flakyTask, 'date', {
          runDate: at(SECOND),
          id: 'hopeless',
          args: ['hopeless', 99],
          retry: { attempts: 1, delay: 5 },
        });
        await advanceTo(at(SECOND));
        await advanceTo(at(6 * SECOND));
        await advanceTo(at(HOUR));
        expect(named(h.events, 'job_error').map((e) => [e.attempt, e.willRetry])).toEqual([
          [1, true],
          [2, false],
        ]);
        expect(calls.filter((c) => c.task === 'flaky')).toHaveLength(2);
        expect(takeErrors(h)).toHaveLength(2);
      });

      it('pausing or removing the job cancels its waiting retry', async () => {
        const h = await open();
        for (const id of ['paused', 'removed']) {
          await h.scheduler.addJob(flakyTask, 'interval', {
            hours: 1,
            id,
            args: [id, 1],
            retry: { attempts: 3, delay: 10 },
          });
        }
        await advanceTo(at(HOUR));
        expect(named(h.events, 'job_retry')).toHaveLength(2);
        await h.scheduler.pauseJob('paused');
        await h.scheduler.removeJob('removed');
        await advanceTo(at(HOUR + 10 * SECOND));
        await h.scheduler.resumeJob('paused');
        await advanceTo(at(HOUR + 30 * SECOND));
        expect(calls.filter((c) => c.task === 'flaky')).toHaveLength(2);
        expect(takeErrors(h)).toHaveLength(2);
      });

      it('prunes the history to maxPerJob', async () => {
        const h = await open(store, false);
        h.scheduler.configure({ runHistory: { maxPerJob: 2 } });
        await h.scheduler.start();
        await settle();
        await h.scheduler.addJob(recordTask, 'interval', { seconds: 1, id: 'often' });
        for (let s = 1; s <= 5; s++) await advanceTo(at(s * SECOND));
        expect(await h.scheduler.getRuns({ jobId: 'often' })).toHaveLength(5);
        await h.scheduler.pauseJob('often');
        // The pruning runs at most once a minute, after a pass (the loop wakes once a minute at
        // least), off the path of any run.
        await advanceTo(at(2 * MINUTE));
        const left = await h.scheduler.getRuns({ jobId: 'often' });
        expect(left.map((r) => r.scheduledRunTime)).toEqual([at(5 * SECOND), at(4 * SECOND)]);
      });
    });

    describe('run now', () => {
      it('runJob runs the job once now, with the usual events and history; its next run time stays', async () => {
        const h = await open();
        await h.scheduler.addJob(recordTask, 'interval', { hours: 1, id: 'hourly', args: ['now'] });
        await advanceTo(at(10 * MINUTE));
        const first = await h.scheduler.runJob('hourly');
        await settle();
        // Asked again in the same millisecond: another run, a millisecond later.
        const second = await h.scheduler.runJob('hourly', 'default');
        await settle();
        expect(first).toEqual(at(10 * MINUTE));
        expect(second).toEqual(new Date(at(10 * MINUTE).getTime() + 1));
        expect(calls).toEqual([
          { task: 'record', args: ['now'] },
          { task: 'record', args: ['now'] },
        ]);
        expect(named(h.events, 'job_submitted').map((e) => [e.scheduledRunTimes, e.attempt])).toEqual([
          [[first], 1],
          [[second], 1],
        ]);
        expect(executed(h)).toEqual([run('hourly', first), run('hourly', second)]);
        expect((await h.scheduler.getJob('hourly'))?.nextRunTime).toEqual(at(HOUR));
        const runs = await h.scheduler.getRuns({ jobId: 'hourly' });
        expect(runs.map((r) => [r.outcome, r.scheduledRunTime, r.attempt])).toEqual([
          ['success', second, 1],
          ['success', first, 1],
        ]);
        // Its schedule goes on as before.
        await advanceTo(at(HOUR));
        expect(executed(h)).toEqual([run('hourly', first), run('hourly', second), run('hourly', at(HOUR))]);
      });

      it('runJob refuses a paused or unknown job and a stopped scheduler; a paused scheduler runs it on resume, however late', async () => {
        const h = await open();
        await h.scheduler.addJob(recordTask, 'interval', { hours: 1, id: 'job', args: ['queued'] });
        await h.scheduler.pauseJob('job');
        const paused = await rejection(h.scheduler.runJob('job'));
        expect(paused).toBeInstanceOf(JobPausedError);
        expect(paused.message).toBe('Job "job" is paused: resume it before running it');
        expect(await rejection(h.scheduler.runJob('nope'))).toBeInstanceOf(JobLookupError);
        await h.scheduler.resumeJob('job');
        h.scheduler.pause();
        await advanceTo(at(MINUTE));
        const queued = await h.scheduler.runJob('job');
        await settle();
        expect(calls).toEqual([]);
        h.scheduler.resume();
        await settle();
        expect(calls).toEqual([{ task: 'record', args: ['queued'] }]);
        expect(executed(h)).toEqual([run('job', queued)]);
        // Taken long after it was asked for (no process ran jobs meanwhile): it still runs, as a
        // queued run does; the grace time is for fire times.
        h.scheduler.pause();
        const late = await h.scheduler.runJob('job');
        await advanceTo(at(2 * MINUTE));
        h.scheduler.resume();
        await settle();
        expect(calls).toHaveLength(2);
        expect(executed(h)).toEqual([run('job', queued), run('job', late)]);
        expect(missed(h)).toEqual([]);
        await stop(h);
        expect(await rejection(h.scheduler.runJob('job'))).toBeInstanceOf(SchedulerNotRunningError);
      });

      it('a run asked for counts for maxInstances', async () => {
        const h = await open();
        await h.scheduler.addJob(gateTask, 'interval', {
          hours: 1,
          id: 'busy',
          args: ['busy'],
          maxInstances: 1,
        });
        await advanceTo(at(HOUR));
        expect(calls).toEqual([{ task: 'gate', args: ['busy'] }]);
        const refused = await h.scheduler.runJob('busy');
        // (On a shared store the run going holds this millisecond's claim: the run asked for
        // takes the next, instead of waiting for that claim to go.)
        await settle();
        expect(named(h.events, 'job_max_instances').map((e) => [e.scheduledRunTimes, e.attempt])).toEqual([
          [[refused], 1],
        ]);
        openGates();
        await settle();
        const again = await h.scheduler.runJob('busy');
        await settle();
        openGates();
        await settle();
        expect(calls).toHaveLength(2);
        expect(executed(h)).toEqual([run('busy', at(HOUR)), run('busy', again)]);
        const runs = await h.scheduler.getRuns({ jobId: 'busy' });
        // By the time each ended: the refused run before the run that held the slot.
        expect(runs.map((r) => [r.outcome, r.scheduledRunTime])).toEqual([
          ['success', again],
          ['success', at(HOUR)],
          ['max_instances', refused],
        ]);
      });
    });

    if (factory.persistent) {
      describe('persistence', () => {
        it('jobs, their fields and next run times survive a restart', async () => {
          const first = await open();
          await first.scheduler.addJob(recordTask, 'interval', {
            seconds: 10,
            id: 'tick',
            name: 'Tick ‘quoted’',
            args: [new Date(Date.UTC(2020, 1, 29, 12)), { deep: { list: [1, { d: new Date(5) }] } }],
            executor: 'other',
            misfireGraceTime: null,
            coalesce: false,
            maxInstances: 2,
            timeout: 1.5,
          });
          await first.scheduler.addJob(recordTask, 'cron', {
            hour: 9,
            minute: 30,
            timezone: 'Europe/Berlin',
            id: 'paused',
            nextRunTime: null,
          });
          await first.scheduler.addJob('tickwork-store-suite.other', 'date', {
            runDate: at(3 * HOUR + 456),
            id: HOSTILE[5],
            name: HOSTILE[17],
          });
          await first.scheduler.addJob(recordTask, 'calendarinterval', {
            days: 1,
            hour: 6,
            timezone: 'America/New_York',
            id: 'daily',
            misfireGraceTime: 0.125,
          });
          await advanceTo(at(10 * SECOND));
          const before = (await first.scheduler.getJobs()).map(snapshot);
          expect(before.map((j) => [j.id, j.nextRunTime])).toEqual([
            ['tick', at(20 * SECOND).toISOString()],
            [HOSTILE[5], at(3 * HOUR + 456).toISOString()],
            ['daily', '2026-01-01T11:00:00.000Z'],
            ['paused', null],
          ]);
          await stop(first);

          const second = await open(await factory.reopen());
          expect((await second.scheduler.getJobs()).map(snapshot)).toStrictEqual(before);
          const tick = (await second.scheduler.getJob('tick')) as Job;
          expect(tick.args[0]).toBeInstanceOf(Date);
          // The restored jobs run in the new scheduler.
          await advanceTo(at(20 * SECOND));
          expect(executed(second)).toEqual([run('tick', at(20 * SECOND))]);
          expect(calls.map((c) => c.args)).toStrictEqual([tick.args, tick.args]);
        });

        it('a run before a restart does not run again; runs missed while down follow the run rules', async () => {
          const first = await open();
          await first.scheduler.addJob(recordTask, 'interval', {
            seconds: 10,
            id: 'tick',
            misfireGraceTime: 30,
          });
          await first.scheduler.addJob(recordTask, 'date', {
            runDate: at(15 * SECOND),
            id: 'once',
            misfireGraceTime: null,
          });
          await first.scheduler.addJob(recordTask, 'interval', {
            seconds: 25,
            id: 'strict',
            misfireGraceTime: 1,
            startDate: at(30 * SECOND),
          });
          await advanceTo(at(10 * SECOND));
          expect(executed(first)).toEqual([run('tick', at(10 * SECOND))]);
          await stop(first);

          // Restarted at the same instant: nothing is due again.
          const second = await open(await factory.reopen());
          expect(executed(second)).toEqual([]);
          expect((await second.scheduler.getJob('tick'))?.nextRunTime?.toISOString()).toBe(
            at(20 * SECOND).toISOString(),
          );
          await stop(second);

          // Down from 10 s to 65 s: tick coalesces into 60 s (5 s late, within 30 s), once runs
          // late (no grace limit) and is removed, strict's 55 s run is 10 s late: missed.
          await advanceTo(at(65 * SECOND));
          const third = await open(await factory.reopen());
          expect(executed(third).sort()).toEqual([
            run('once', at(15 * SECOND)),
            run('tick', at(60 * SECOND)),
          ]);
          expect(missed(third)).toEqual([run('strict', at(55 * SECOND))]);
          expect(named(third.events, 'job_removed').map((e) => e.jobId)).toEqual(['once']);
          expect(
            (await third.scheduler.getJobs()).map((j) => [j.id, j.nextRunTime?.toISOString() ?? null]),
          ).toEqual([
            ['tick', at(70 * SECOND).toISOString()],
            ['strict', at(80 * SECOND).toISOString()],
          ]);
          await stop(third);

          const fourth = await open(await factory.reopen());
          expect(ids(await fourth.scheduler.getJobs()).sort()).toEqual(['strict', 'tick']);
          expect(calls.length).toBe(3);
        });

        it('an unregistered function fails at addJob with TaskLookupError, and nothing is added', async () => {
          const h = await open();
          function notRegistered(): void {}
          const attempts: Array<() => Promise<unknown>> = [
            () => h.scheduler.addJob(notRegistered, 'interval', { seconds: 10, id: 'named' }),
            () => h.scheduler.addJob(() => undefined, 'interval', { seconds: 10, id: 'arrow' }),
            () => h.scheduler.addJob('no-such-task', 'interval', { seconds: 10, id: 'by-name' }),
          ];
          for (const attempt of attempts) expect(await rejection(attempt())).toBeInstanceOf(TaskLookupError);
          expect(await h.scheduler.getJobs()).toEqual([]);
          expect(named(h.events, 'job_added')).toEqual([]);

          // Also while stopped (checked before the job is queued), and in modifyJob.
          await h.scheduler.addJob(recordTask, 'interval', { seconds: 10, id: 'kept', name: 'kept' });
          await stop(h);
          expect(await rejection(attempts[0]())).toBeInstanceOf(TaskLookupError);
          expect(await h.scheduler.getJobs(undefined, true)).toEqual([]);
          await h.scheduler.start();
          await settle();
          const error = await rejection(
            h.scheduler.modifyJob('kept', { func: notRegistered, name: 'changed' }),
          );
          expect(error).toBeInstanceOf(TaskLookupError);
          expect(error.message).toContain('registerTask');
          const kept = (await h.scheduler.getJob('kept')) as Job;
          expect([kept.name, kept.func]).toEqual(['kept', recordTask]);
          expect(ids(await h.scheduler.getJobs())).toEqual(['kept']);
        });

        it('a restarted program that adds its jobs again with replaceExisting keeps one of each', async () => {
          const first = await open();
          await first.scheduler.addJob(recordTask, 'interval', { minutes: 1, id: 'report', args: ['v1'] });
          await first.scheduler.addJob(recordTask, 'interval', { minutes: 5, id: 'cleanup' });
          await stop(first);

          // The program starts again and declares its jobs before start, as APScheduler users do.
          await advanceTo(at(30 * SECOND));
          const second = await open(await factory.reopen(), false);
          await second.scheduler.addJob(recordTask, 'interval', {
            minutes: 2,
            id: 'report',
            args: ['v2'],
            replaceExisting: true,
          });
          await second.scheduler.addJob(recordTask, 'interval', {
            minutes: 5,
            id: 'cleanup',
            replaceExisting: true,
          });
          await second.scheduler.start();
          await settle();
          const jobs = await second.scheduler.getJobs();
          expect(jobs.map((j) => [j.id, j.trigger.toString(), j.args, j.nextRunTime?.toISOString()])).toEqual(
            [
              ['report', 'interval[0:02:00]', ['v2'], at(2 * MINUTE + 30 * SECOND).toISOString()],
              ['cleanup', 'interval[0:05:00]', [], at(5 * MINUTE + 30 * SECOND).toISOString()],
            ],
          );
          await advanceTo(at(2 * MINUTE + 30 * SECOND));
          expect(executed(second)).toEqual([run('report', at(2 * MINUTE + 30 * SECOND))]);
          expect(calls).toEqual([{ task: 'record', args: ['v2'] }]);
        });

        it('start() rejects with ConflictingIdError for a pending job whose id is stored, and starts once fixed', async () => {
          const first = await open();
          await first.scheduler.addJob(recordTask, 'interval', { minutes: 1, id: 'report', args: ['v1'] });
          await stop(first);

          const second = await open(await factory.reopen(), false);
          await second.scheduler.addJob(recordTask, 'interval', { minutes: 5, id: 'cleanup' });
          await second.scheduler.addJob(recordTask, 'interval', { minutes: 2, id: 'report', args: ['v2'] });
          const error = await rejection(second.scheduler.start());
          expect(error).toBeInstanceOf(ConflictingIdError);
          expect(error.message).toContain('"report"');
          expect(second.scheduler.running).toBe(false);
          // Still pending, so the program can fix it.
          expect(ids(await second.scheduler.getJobs(undefined, true))).toEqual(['report']);
          await second.scheduler.addJob(recordTask, 'interval', {
            minutes: 2,
            id: 'report',
            args: ['v3'],
            replaceExisting: true,
          });
          await second.scheduler.start();
          await settle();
          const jobs = await second.scheduler.getJobs();
          expect(jobs.map((j) => [j.id, j.trigger.toString(), j.args])).toEqual([
            ['report', 'interval[0:02:00]', ['v3']],
            ['cleanup', 'interval[0:05:00]', []],
          ]);
          expect(named(second.events, 'scheduler_started')).toHaveLength(1);
        });

        it('args that JSON and Date cannot hold fail at addJob with SerializationError naming where', async () => {
          const h = await open();
          class Connection {
            host = 'db';
          }
          const circular: Record<string, unknown> = { name: 'loop' };
          circular.self = circular;
          const cases: Array<[unknown[], string]> = [
            [['ok', { conn: () => 1 }], 'args[1].conn'],
            [[1, new Connection()], 'args[1]'],
            [[{ list: [1, 2, { big: 10n }] }], 'args[0].list[2].big'],
            [[circular], 'args[0].self'],
            [[Number.NaN], 'args[0]'],
            [[{ n: [Number.POSITIVE_INFINITY] }], 'args[0].n[0]'],
            [[undefined], 'args[0]'],
            [[new Map([[1, 2]])], 'args[0]'],
            [[{ when: new Date(Number.NaN) }], 'args[0].when'],
            [[Symbol('s')], 'args[0]'],
          ];
          for (const [args, path] of cases) {
            const error = await rejection(
              h.scheduler.addJob(recordTask, 'interval', { seconds: 10, id: `bad ${path}`, args }),
            );
            expect(error).toBeInstanceOf(SerializationError);
            expect((error as SerializationError).path).toBe(path);
            expect(error.message).toContain(path);
          }
          expect(await h.scheduler.getJobs()).toEqual([]);
          expect(named(h.events, 'job_added')).toEqual([]);

          await h.scheduler.addJob(recordTask, 'interval', { seconds: 10, id: 'kept', args: ['fine'] });
          const error = await rejection(
            h.scheduler.modifyJob('kept', { args: ['fine', { conn: new Connection() }] }),
          );
          expect(error).toBeInstanceOf(SerializationError);
          expect((error as SerializationError).path).toBe('args[1].conn');
          expect((await h.scheduler.getJob('kept'))?.args).toEqual(['fine']);
          await advanceTo(at(10 * SECOND));
          expect(calls).toEqual([{ task: 'record', args: ['fine'] }]);
        });
      });
    } else {
      describe('in memory', () => {
        it('keeps plain functions and any args as they are', async () => {
          const h = await open();
          class Connection {
            host = 'db';
          }
          const connection = new Connection();
          const seen: unknown[] = [];
          const plain = (conn: Connection, n: bigint) => {
            seen.push(conn, n);
          };
          await h.scheduler.addJob(plain, 'date', {
            runDate: at(SECOND),
            id: 'plain',
            args: [connection, 10n],
          });
          const found = (await h.scheduler.getJob('plain')) as Job;
          expect(found.func).toBe(plain);
          expect(found.taskRef).toBeNull();
          expect(found.args[0]).toBe(connection);
          await advanceTo(at(SECOND));
          expect(seen).toEqual([connection, 10n]);
          expect(seen[0]).toBe(connection);
        });
      });
    }
  });
}
