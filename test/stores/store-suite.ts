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
 * The tests are in `store-suite/`, one file per area; each gets the helpers below as a `Suite`.
 */
import { afterEach, beforeEach, describe, expect } from 'vitest';
import { BackgroundScheduler, type JobStore, PromisePoolExecutor, setClock } from '../../src/index.js';
import { fakeLogger, named, record, T0 } from '../helpers/scheduler.js';
import { describeClaimAheadTests } from './store-suite/claim-ahead.js';
import {
  calls,
  type Harness,
  ManualClock,
  type StoreFactory,
  StoreWatch,
  type Suite,
  tries,
} from './store-suite/harness.js';
import { describeHistoryTests } from './store-suite/history.js';
import { describeJobTests } from './store-suite/jobs.js';
import { describePersistenceTests } from './store-suite/persistence.js';
import { describeRunTests } from './store-suite/running.js';

export type { PersistentStoreFactory, StoreFactory, VolatileStoreFactory } from './store-suite/harness.js';

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

    const suite: Suite = {
      factory,
      get clock() {
        return clock;
      },
      get store() {
        return store;
      },
      open,
      stop,
      settle,
      advanceTo,
      executed,
      missed,
      run,
    };
    describeJobTests(suite);
    describeRunTests(suite);
    describeHistoryTests(suite);
    describePersistenceTests(suite);
    describeClaimAheadTests(suite);
  });
}
