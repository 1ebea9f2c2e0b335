/**
 * What every part of the JobStore suite shares: the store factory types, the manual clock, the
 * store watch that tells when the scheduler is quiet, the registered tasks and small helpers.
 */
import {
  type BackgroundScheduler,
  type Clock,
  type Job,
  type JobStore,
  registerTask,
  type SchedulerEventAny,
  type Trigger,
} from '../../../src/index.js';
import { at, DAY, HOUR, iso, type RecordingLogger, T0 } from '../../helpers/scheduler.js';

// ---- the factory ----

export interface StoreFactoryBase {
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

export interface ClockTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/** A clock whose time moves only in `advanceTo`; its timers fire once the time reaches them. */
export class ManualClock implements Clock {
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
export class StoreWatch {
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
export interface Call {
  task: string;
  args: unknown[];
}

export const calls: Call[] = [];

/** Records its arguments. */
export const recordTask = registerTask('tickwork-store-suite.record', (...args: unknown[]) => {
  calls.push({ task: 'record', args });
});

/** Records its arguments under another name (for modifyJob's `func`). */
export const otherTask = registerTask('tickwork-store-suite.other', (...args: unknown[]) => {
  calls.push({ task: 'other', args });
});

/** Fails its first `failures` calls for `key`, then returns `{ key, try }`. */
export const tries = new Map<string, number>();
export const flakyTask = registerTask('tickwork-store-suite.flaky', (key: string, failures: number) => {
  const n = (tries.get(key) ?? 0) + 1;
  tries.set(key, n);
  calls.push({ task: 'flaky', args: [key, n] });
  if (n <= failures) throw new Error(`try ${n} of ${key} failed`);
  return { key, try: n };
});

/** Waits until the test opens its gate (`openGates()`), for runs that must still be going. */
export const gates: Array<() => void> = [];
export const gateTask = registerTask('tickwork-store-suite.gate', async (key: string) => {
  calls.push({ task: 'gate', args: [key] });
  await new Promise<void>((resolve) => gates.push(resolve));
});
export const openGates = () => {
  for (const open of gates.splice(0)) open();
};

// ---- helpers ----

/** A scheduler over a watched store, with what the test looks at. */
export interface Harness {
  scheduler: BackgroundScheduler;
  events: SchedulerEventAny[];
  logger: RecordingLogger;
}

/** The fields of a job a store must give back, in a comparable form. */
export function snapshot(job: Job) {
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
export function fireTimes(trigger: Trigger): Array<string | null> {
  const instants = [T0, at(HOUR + 1), at(40 * DAY + 7 * HOUR + 123)];
  return iso(instants.flatMap((t) => [trigger.getNextFireTime(null, t), trigger.getNextFireTime(t, t)]));
}

export const ids = (jobs: Job[]) => jobs.map((j) => j.id);
export const times = (dates: Date[]) => dates.map((d) => d.toISOString());

/** Catches what a promise rejects with (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('Expected a rejection, but the promise resolved');
}

/** Ids and names that must round-trip exactly (NUL-free, as RELIABILITY.md asks: Postgres text has no NUL). */
export const HOSTILE = [
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

/** What each part of the suite gets from `describeStoreSuite`. */
export interface Suite {
  factory: StoreFactory;
  /** This test's clock (a new one per test). */
  readonly clock: ManualClock;
  /** This test's store, from `factory.create()`. */
  readonly store: JobStore;
  /** A scheduler (UTC, executors `default` and `other`) over `jobStore`, started unless told. */
  open(jobStore?: JobStore, start?: boolean): Promise<Harness>;
  /** Shuts a scheduler down, so its store is closed. */
  stop(h: Harness): Promise<void>;
  /** Waits until no store call is in flight, no timer is due, and the loop is quiet. */
  settle(): Promise<void>;
  /** Moves the clock to `time` and waits for the scheduler (see the suite's doc). */
  advanceTo(time: Date): Promise<void>;
  /** `jobId@scheduledRunTime` of each job_executed event. */
  executed(h: Harness): string[];
  /** `jobId@scheduledRunTime` of each job_missed event. */
  missed(h: Harness): string[];
  /** `id@time`, as `executed` and `missed` give them. */
  run(id: string, time: Date): string;
}
