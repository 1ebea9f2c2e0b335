/**
 * Runs that end while their shared store is slow to record them wait in the process, and reach
 * the store in calls of at most 2,500 runs once it answers: a backlog never becomes one call that
 * outlasts the store's query timeout, or holds a Redis server for long. Past 10,000 such runs
 * the process takes no new work from that store until it has caught up, so the backlog (and what
 * a crash would leave to report as abandoned) stays bounded. Writes that failed are written later:
 * a retry with nothing left to write does not stop the writes after it, and a scheduler started
 * again after its last write failed writes what was left before it takes more. Each store is
 * written on its own: one whose writes hang holds up no other, and one removed from the scheduler
 * gets what is queued for it first.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import {
  BackgroundScheduler,
  type Clock,
  getJobContext,
  PromisePoolExecutor,
  registerTask,
  SqliteJobStore,
  setClock,
} from '../../src/index.js';
import type { FinishedRunRow } from '../../src/stores/backend.js';
import { fakeLogger } from '../helpers/scheduler.js';
import { pollUntil } from '../helpers/wait.js';

registerTask('complete-batches:noop', () => undefined);
// A run of this task lasts until `finishHeld()`; `heldAborted` is set when its signal aborts.
let finishHeld: () => void = () => {};
let heldAborted = false;
registerTask('complete-batches:held', () => {
  heldAborted = false;
  getJobContext()?.signal.addEventListener('abort', () => {
    heldAborted = true;
  });
  return new Promise<void>((resolve) => {
    finishHeld = resolve;
  });
});

const JOBS = 12_500;
const LIMIT = 10_000;

/**
 * A store that counts the runs of each write of finished runs (`calls`) and those written; its
 * writes fail while `down`, and with `holdFirstWrite()` its first write waits until `open()`. At
 * each end of a pass (`getNextRunTime`) it notes how many runs had ended (`ended()`).
 */
class WatchedWrites extends SqliteJobStore {
  readonly calls: number[] = [];
  readonly endedAtPassEnd: number[] = [];
  written = 0;
  shutdowns = 0;
  down = false;
  ended: () => number = () => 0;
  #gate: Promise<void> | null = null;
  #open: () => void = () => {};

  holdFirstWrite(): void {
    this.#gate = new Promise<void>((resolve) => {
      this.#open = resolve;
    });
  }

  open(): void {
    this.#open();
  }

  override async completeRuns(runs: FinishedRunRow[]): Promise<void> {
    this.calls.push(runs.length);
    if (this.down) throw new Error('store is down');
    if (this.calls.length === 1 && this.#gate !== null) await this.#gate;
    await super.completeRuns(runs);
    this.written += runs.length;
  }

  override async shutdown(): Promise<void> {
    this.shutdowns++;
    await super.shutdown();
  }

  override async getNextRunTime(): Promise<Date | null> {
    this.endedAtPassEnd.push(this.ended());
    return super.getNextRunTime();
  }
}

/** An executor that says it can start any number of runs, so that a pass takes full batches. */
class Unbounded extends PromisePoolExecutor {
  override freeSlots(): number {
    return Number.POSITIVE_INFINITY;
  }
}

let dir = '';
afterEach(async () => {
  setClock();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

/**
 * A store in a fresh directory (polling every 600 s, so that only the store catching up wakes
 * the loop) and a scheduler on it, started paused, that counts the runs ended.
 */
async function setup(options: { executor?: PromisePoolExecutor; jobstoreRetryInterval?: number } = {}) {
  dir = await mkdtemp(join(tmpdir(), 'tickwork-complete-batches-'));
  const store = new WatchedWrites({ path: join(dir, 'jobs.db'), pollInterval: 600 });
  const scheduler = new BackgroundScheduler({
    timezone: 'UTC',
    jobstores: { default: store },
    executors: { default: options.executor ?? new Unbounded() },
    jobstoreRetryInterval: options.jobstoreRetryInterval ?? 600,
    logger: false,
  });
  const counts = { executed: 0 };
  scheduler.on('job_executed', () => {
    counts.executed++;
  });
  store.ended = () => counts.executed;
  await scheduler.start({ paused: true });
  return { store, scheduler, counts };
}

/** Adds `count` date jobs due a second ago, numbered from `first`. */
async function addDue(scheduler: BackgroundScheduler, count: number, first = 0): Promise<void> {
  const runDate = new Date(Date.now() - 1_000);
  for (let start = first; start < first + count; start += 2_500) {
    await Promise.all(
      Array.from({ length: Math.min(2_500, first + count - start) }, (_, i) =>
        scheduler.addJob('complete-batches:noop', 'date', {
          runDate,
          misfireGraceTime: null,
          id: `job-${start + i}`,
        }),
      ),
    );
  }
}

it('takes no new work past 10,000 unrecorded runs, and writes the backlog in calls of at most 2,500', async () => {
  const { store, scheduler, counts } = await setup();
  try {
    await addDue(scheduler, JOBS);
    store.holdFirstWrite();
    scheduler.resume();
    // The first write waits: the pass stops once 10,000 runs have ended unrecorded, with the
    // batches it had in hand started, and the rest of the jobs not taken.
    expect(await pollUntil(() => store.endedAtPassEnd.some((n) => n >= LIMIT), Date.now() + 30_000)).toBe(
      true,
    );
    expect(store.calls.length).toBe(1);
    expect(counts.executed).toBeGreaterThanOrEqual(LIMIT);
    expect(counts.executed).toBeLessThan(JOBS);
    store.open();
    expect(
      await pollUntil(() => store.written === JOBS && counts.executed === JOBS, Date.now() + 30_000),
    ).toBe(true);
    expect((await scheduler.getRuns({ limit: LIMIT })).length).toBe(LIMIT);
    expect(store.calls.reduce((a, b) => a + b, 0)).toBe(JOBS);
    expect(Math.max(...store.calls)).toBeLessThanOrEqual(2_500);
    expect(store.calls.length).toBeGreaterThanOrEqual(5);
  } finally {
    store.open();
    if (scheduler.running) await scheduler.shutdown({ wait: false });
  }
}, 60_000);

it('a failed write tried again when nothing is left to write does not stop the writes after it', async () => {
  // The retries of failed writes (jobstoreRetryInterval 7.777 s) wait until the test fires them.
  const retries: Array<() => void> = [];
  const tokens: object[] = [];
  const cleared: unknown[] = [];
  const system: Clock = {
    now: () => Date.now(),
    setTimeout: (fn, ms, unref) => {
      if (ms === 7_777) {
        retries.push(fn);
        const token = {};
        tokens.push(token);
        return token;
      }
      const handle = setTimeout(fn, ms);
      if (unref) handle.unref();
      return handle;
    },
    clearTimeout: (handle) => {
      cleared.push(handle);
      clearTimeout(handle as ReturnType<typeof setTimeout>);
    },
  };
  setClock(system);
  const { store, scheduler } = await setup({
    executor: new PromisePoolExecutor(),
    jobstoreRetryInterval: 7.777,
  });
  try {
    scheduler.resume();
    // The first run's write fails: a retry is armed.
    store.down = true;
    await addDue(scheduler, 1, 0);
    expect(await pollUntil(() => retries.length === 1, Date.now() + 10_000)).toBe(true);
    // The next run's write takes both; the retry then finds nothing left.
    store.down = false;
    await addDue(scheduler, 1, 1);
    expect(await pollUntil(() => store.written === 2, Date.now() + 10_000)).toBe(true);
    // Nothing is left to try again: the retry is cleared. Fired all the same, it finds nothing.
    expect(cleared).toContain(tokens[0]);
    retries[0]();
    // A run after it is still written.
    await addDue(scheduler, 1, 2);
    expect(await pollUntil(() => store.written === 3, Date.now() + 10_000)).toBe(true);
    expect((await scheduler.getRuns()).map((r) => r.jobId).sort()).toEqual(['job-0', 'job-1', 'job-2']);
  } finally {
    store.down = false;
    if (scheduler.running) await scheduler.shutdown({ wait: false });
  }
}, 60_000);

it('a scheduler started again after its last write failed writes what was left, then takes more', async () => {
  const { store, scheduler, counts } = await setup();
  try {
    await addDue(scheduler, JOBS);
    store.down = true;
    scheduler.resume();
    // Every write fails: the process stops taking jobs past 10,000 unrecorded runs (the pass
    // that stops has started every batch it took), and its last write at shutdown fails too.
    expect(await pollUntil(() => store.endedAtPassEnd.some((n) => n >= LIMIT), Date.now() + 30_000)).toBe(
      true,
    );
    await scheduler.shutdown();
    expect(store.written).toBe(0);
    expect(counts.executed).toBeLessThan(JOBS);
    store.down = false;
    // start() writes the rows left; once the store has caught up, the rest runs.
    await scheduler.start();
    expect(
      await pollUntil(() => counts.executed === JOBS && store.written === JOBS, Date.now() + 30_000),
    ).toBe(true);
  } finally {
    store.down = false;
    if (scheduler.running) await scheduler.shutdown({ wait: false });
  }
}, 60_000);

/** Two stores (`default` and `other`) under one scheduler, running, with the logger recording. */
async function twoStores(jobstoreRetryInterval = 600) {
  dir = await mkdtemp(join(tmpdir(), 'tickwork-complete-batches-'));
  const main = new WatchedWrites({ path: join(dir, 'main.db'), pollInterval: 600 });
  const other = new WatchedWrites({ path: join(dir, 'other.db'), pollInterval: 600 });
  const logger = fakeLogger();
  const scheduler = new BackgroundScheduler({
    timezone: 'UTC',
    jobstores: { default: main, other },
    executors: { default: new PromisePoolExecutor() },
    jobstoreRetryInterval,
    logger,
  });
  await scheduler.start();
  const addDueTo = (jobstore: string, id: string) =>
    scheduler.addJob('complete-batches:noop', 'date', {
      runDate: new Date(Date.now() - 1_000),
      misfireGraceTime: null,
      id,
      jobstore,
    });
  return { main, other, scheduler, logger, addDueTo };
}

it('a store whose writes hang holds up no other store', async () => {
  const { main, other, scheduler, addDueTo } = await twoStores();
  try {
    other.holdFirstWrite();
    await addDueTo('other', 'held');
    expect(await pollUntil(() => other.calls.length === 1, Date.now() + 10_000)).toBe(true);
    // While that write hangs, the runs of the other store are recorded.
    await Promise.all(['a', 'b', 'c'].map((id) => addDueTo('default', id)));
    expect(await pollUntil(() => main.written === 3, Date.now() + 10_000)).toBe(true);
    expect(other.written).toBe(0);
    expect((await scheduler.getRuns({ jobstore: 'default' })).map((r) => r.jobId).sort()).toEqual([
      'a',
      'b',
      'c',
    ]);
    other.open();
    expect(await pollUntil(() => other.written === 1, Date.now() + 10_000)).toBe(true);
  } finally {
    other.open();
    if (scheduler.running) await scheduler.shutdown({ wait: false });
  }
}, 30_000);

it('a store removed from the scheduler first gets the ends of runs queued for it', async () => {
  const { main, other, scheduler, logger, addDueTo } = await twoStores();
  try {
    // The write fails; the retry would come in 600 s.
    other.down = true;
    await addDueTo('other', 'queued');
    expect(await pollUntil(() => other.calls.length === 1, Date.now() + 10_000)).toBe(true);
    other.down = false;
    await scheduler.removeJobstore('other');
    expect(other.written).toBe(1);
    expect(logger.errors).toEqual([]);
    // A later write to another store does not go to the removed one.
    await addDueTo('default', 'after');
    expect(await pollUntil(() => main.written === 1, Date.now() + 10_000)).toBe(true);
    expect(other.calls).toEqual([1, 1]);
  } finally {
    other.down = false;
    if (scheduler.running) await scheduler.shutdown({ wait: false });
  }
}, 30_000);

it('what a removed store fails to record is dropped with an error, and never tried again', async () => {
  // The retries of failed writes (jobstoreRetryInterval 7.777 s) are recorded, never fired.
  const armed: object[] = [];
  const cleared: unknown[] = [];
  setClock({
    now: () => Date.now(),
    setTimeout: (fn, ms, unref) => {
      if (ms === 7_777) {
        const token = {};
        armed.push(token);
        return token;
      }
      const handle = setTimeout(fn, ms);
      if (unref) handle.unref();
      return handle;
    },
    clearTimeout: (handle) => {
      cleared.push(handle);
      clearTimeout(handle as ReturnType<typeof setTimeout>);
    },
  });
  const { main, other, scheduler, logger, addDueTo } = await twoStores(7.777);
  try {
    other.down = true;
    await addDueTo('other', 'lost');
    expect(await pollUntil(() => other.calls.length === 1 && armed.length === 1, Date.now() + 10_000)).toBe(
      true,
    );
    await scheduler.removeJobstore('other');
    expect(other.calls).toEqual([1, 1]);
    // The removal's own failed write armed a retry too: both are cleared.
    expect(armed).toHaveLength(2);
    expect(armed.every((token) => cleared.includes(token))).toBe(true);
    expect(logger.errors.map((e) => e[1])).toEqual([
      'The ends of 1 run(s) were not recorded in the job store "other", which was removed; their claims stay until they run out, and then a scheduler on the store reports them as abandoned',
    ]);
    await addDueTo('default', 'after');
    expect(await pollUntil(() => main.written === 1, Date.now() + 10_000)).toBe(true);
    expect(other.calls).toEqual([1, 1]);
  } finally {
    other.down = false;
    if (scheduler.running) await scheduler.shutdown({ wait: false });
  }
}, 30_000);

it('a run that ends after its store was removed says so in a warning', async () => {
  const { other, scheduler, logger } = await twoStores();
  try {
    let started = false;
    scheduler.on('job_submitted', () => {
      started = true;
    });
    await scheduler.addJob('complete-batches:held', 'date', {
      runDate: new Date(Date.now() - 1_000),
      misfireGraceTime: null,
      id: 'long',
      jobstore: 'other',
    });
    expect(await pollUntil(() => started, Date.now() + 10_000)).toBe(true);
    await scheduler.removeJobstore('other');
    let executed = false;
    scheduler.on('job_executed', () => {
      executed = true;
    });
    finishHeld();
    expect(await pollUntil(() => executed, Date.now() + 10_000)).toBe(true);
    expect(logger.warnings.map((w) => w[1])).toEqual([
      'Job "long" ended after its job store "other" was removed: its end is not recorded there',
    ]);
    expect(other.calls).toEqual([]);
  } finally {
    finishHeld();
    if (scheduler.running) await scheduler.shutdown({ wait: false });
  }
}, 30_000);

it("shutdown waits for the write of runs that end during another store's last write", async () => {
  const { main, other, scheduler, addDueTo } = await twoStores();
  let stopped = false;
  try {
    let started = false;
    scheduler.on('job_submitted', (e) => {
      if (e.jobId === 'long') started = true;
    });
    await scheduler.addJob('complete-batches:held', 'date', {
      runDate: new Date(Date.now() - 1_000),
      misfireGraceTime: null,
      id: 'long',
      jobstore: 'other',
    });
    expect(await pollUntil(() => started, Date.now() + 10_000)).toBe(true);
    main.holdFirstWrite();
    other.holdFirstWrite();
    await addDueTo('default', 'quick');
    expect(await pollUntil(() => main.calls.length === 1, Date.now() + 10_000)).toBe(true);
    // The last write of main hangs; the long run, aborted, ends a turn later, once the last
    // writes have begun.
    const stopping = scheduler.shutdown({ wait: false }).then(() => {
      stopped = true;
    });
    expect(await pollUntil(() => heldAborted, Date.now() + 10_000)).toBe(true);
    finishHeld();
    expect(await pollUntil(() => other.calls.length === 1, Date.now() + 10_000)).toBe(true);
    main.open();
    expect(await pollUntil(() => main.written === 1, Date.now() + 10_000)).toBe(true);
    // Shutdown waits for other's write before it closes the store.
    expect(await pollUntil(() => stopped, Date.now() + 300)).toBe(false);
    other.open();
    await stopping;
    expect(other.written).toBe(1);
  } finally {
    finishHeld();
    main.open();
    other.open();
    if (scheduler.running) await scheduler.shutdown({ wait: false });
  }
}, 30_000);

it('a store being removed when the scheduler shuts down is shut down, after its write', async () => {
  const { main, other, scheduler, addDueTo } = await twoStores();
  try {
    other.holdFirstWrite();
    await addDueTo('other', 'held');
    expect(await pollUntil(() => other.calls.length === 1, Date.now() + 10_000)).toBe(true);
    // The removal waits for that write, and the scheduler shuts down meanwhile.
    let done = false;
    const ending = Promise.all([scheduler.removeJobstore('other'), scheduler.shutdown()]).then(() => {
      done = true;
    });
    expect(await pollUntil(() => done, Date.now() + 300)).toBe(false);
    expect(other.shutdowns).toBe(0);
    other.open();
    await ending;
    expect(other.written).toBe(1);
    expect(main.shutdowns).toBe(1);
    expect(other.shutdowns).toBeGreaterThanOrEqual(1);
  } finally {
    other.open();
    if (scheduler.running) await scheduler.shutdown({ wait: false });
  }
}, 30_000);
