/**
 * A pass over a shared store works on two batches of due jobs at once: while one batch's release
 * is stored, the next batch is asked for, and the runs of the batch before start. A pass that
 * fails, or a scheduler that pauses or shuts down, hands the batch it asked for and did not
 * release back unchanged, so that any process takes its jobs at once, not once their leases have
 * run out. A batch released already has its runs claimed: a failed pass starts them, and so does
 * a paused scheduler; one shutting down gives them back to the store as waiting runs, which any
 * process takes at once.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { Logger } from '../../src/index.js';
import {
  BackgroundScheduler,
  PromisePoolExecutor,
  registerTask,
  SqliteJobStore,
  STATE_RUNNING,
} from '../../src/index.js';
import type { FinishedRunRow, StoreBackend } from '../../src/stores/backend.js';
import type { StoreHost } from '../../src/stores/base.js';
import { pollUntil } from '../helpers/wait.js';

registerTask('next-batch:noop', () => undefined);

/** A store whose next `failures` writes of finished runs fail. */
class FailingWrites extends SqliteJobStore {
  failures = 0;

  override async completeRuns(runs: FinishedRunRow[]): Promise<void> {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('store is down');
    }
    await super.completeRuns(runs);
  }
}

/**
 * A store whose releases are applied only after the acquire sent next has been answered, as a
 * database serving them on two connections may do.
 */
class LateReleases extends SqliteJobStore {
  protected override async createBackend(host: StoreHost): Promise<StoreBackend> {
    const backend = await super.createBackend(host);
    let acquired: () => void = () => {};
    let nextAcquire = new Promise<void>((resolve) => {
      acquired = resolve;
    });
    let releases = 0;
    return new Proxy(backend, {
      get(target, key, receiver) {
        if (key === 'acquire') {
          return async (...args: Parameters<StoreBackend['acquire']>) => {
            const rows = await target.acquire(...args);
            acquired();
            nextAcquire = new Promise<void>((resolve) => {
              acquired = resolve;
            });
            return rows;
          };
        }
        if (key === 'release') {
          return async (...args: Parameters<StoreBackend['release']>) => {
            // The first two batches' releases wait for the acquire after them.
            if (++releases <= 2) await nextAcquire;
            return target.release(...args);
          };
        }
        const value = Reflect.get(target, key, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }
}

/** An executor that says it can start any number of runs, so that a pass takes full batches. */
class Unbounded extends PromisePoolExecutor {
  override freeSlots(): number {
    return Number.POSITIVE_INFINITY;
  }
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * Two processes on one SQLite file (the first on `firstStore`), both started paused, and 2,500
 * date jobs due `ago` ms ago with `misfireGraceTime`: batches of 1,000, 1,000 and 500. The first takes full batches
 * (`Unbounded`); leases last far longer than the test, so a job left leased to it would not be
 * taken again in the test.
 */
async function twoProcesses<S extends SqliteJobStore>(
  firstStore: (path: string) => S,
  firstOptions: { jobstoreRetryInterval?: number; logger?: Logger },
  ago: number,
  misfireGraceTime: number | null,
) {
  const dir = await mkdtemp(join(tmpdir(), 'tickwork-next-batch-'));
  const path = join(dir, 'jobs.db');
  const store = firstStore(path);
  const first = new BackgroundScheduler({
    timezone: 'UTC',
    jobstores: { default: store },
    executors: { default: new Unbounded() },
    logger: false,
    ...firstOptions,
  });
  const second = new BackgroundScheduler({
    timezone: 'UTC',
    jobstores: { default: new SqliteJobStore({ path, leaseTime: 600 }) },
    logger: false,
  });
  cleanups.push(async () => {
    for (const scheduler of [first, second]) {
      if (scheduler.running) await scheduler.shutdown({ wait: false });
    }
    await rm(dir, { recursive: true, force: true });
  });
  await first.start({ paused: true });
  await second.start({ paused: true });
  const runDate = new Date(Date.now() - ago);
  const ids = Array.from({ length: 2_500 }, (_, i) => `job-${i}`);
  await Promise.all(
    ids.map((id) => first.addJob('next-batch:noop', 'date', { runDate, misfireGraceTime, id })),
  );
  return { first, second, store, ids };
}

/** The ids of the jobs each of the two processes reports `event` for. */
function reportedBy(
  first: BackgroundScheduler,
  second: BackgroundScheduler,
  event: 'job_executed' | 'job_missed',
): [Set<string>, Set<string>] {
  const sets: [Set<string>, Set<string>] = [new Set(), new Set()];
  first.on(event, (e) => sets[0].add(e.jobId));
  second.on(event, (e) => sets[1].add(e.jobId));
  return sets;
}

it('hands back the next batch of a pass that failed, for another process to take at once', async () => {
  // 2,500 fires an hour past their grace time: the first process takes them 1,000 at a time,
  // and writes the rows of the missed runs of each batch while the next one is released. The
  // write for the first batch fails the pass once the second batch is released and the third
  // asked for; its pause after a failure outlasts the test.
  const { first, second, store, ids } = await twoProcesses(
    (path) => new FailingWrites({ path, leaseTime: 600 }),
    { jobstoreRetryInterval: 600 },
    3_600_000,
    1,
  );
  const [missedFirst, missedSecond] = reportedBy(first, second, 'job_missed');
  store.failures = 1;
  first.resume();
  expect(await pollUntil(() => store.failures === 0 && missedFirst.size === 2_000, Date.now() + 20_000)).toBe(
    true,
  );
  // The second batch, claimed already, was still reported by the first process; the third went
  // back to the store as it was: the second process takes it now.
  second.resume();
  expect(await pollUntil(() => missedSecond.size === 500, Date.now() + 20_000)).toBe(true);
  expect(missedFirst.size).toBe(2_000);
  expect(new Set([...missedFirst, ...missedSecond]).size).toBe(ids.length);
  expect(await second.getJobs()).toEqual([]);
}, 60_000);

it('does not run a batch it asked for once shutting down: another process takes it at once', async () => {
  const { first, second, ids } = await twoProcesses(
    (path) => new SqliteJobStore({ path, leaseTime: 600 }),
    {},
    60_000,
    null,
  );
  const [ranFirst, ranSecond] = reportedBy(first, second, 'job_executed');
  let stopping: Promise<unknown> | null = null;
  // The first run of the first batch shuts the first process down; the pass has released the
  // second batch and asked for the third by then.
  first.on('job_submitted', () => {
    stopping ??= first.shutdown();
  });
  first.resume();
  expect(await pollUntil(() => stopping !== null, Date.now() + 20_000)).toBe(true);
  await stopping;
  // The batch being submitted runs to its end; the second batch's claimed runs went back as
  // waiting runs, and the third batch untouched.
  expect(ranFirst.size).toBe(1_000);
  second.resume();
  expect(await pollUntil(() => ranSecond.size === 1_500, Date.now() + 20_000)).toBe(true);
  expect(new Set([...ranFirst, ...ranSecond]).size).toBe(ids.length);
  expect(await second.getJobs()).toEqual([]);
}, 60_000);

it('does not take back its own jobs whose release is under way when it asks for the next batch', async () => {
  // Taken back by the next acquire, a job would get a new token, and its release under way be
  // refused: the pass logs it as changed elsewhere, and the job's run waits for another batch.
  const changed: unknown[] = [];
  const logger: Logger = {
    debug: () => {},
    info: (fields: unknown, message: unknown) => {
      if (String(message).includes('changed or was taken')) changed.push(fields);
    },
    warn: () => {},
    error: () => {},
  };
  const { first, ids } = await twoProcesses(
    (path) => new LateReleases({ path, leaseTime: 600 }),
    { logger },
    60_000,
    null,
  );
  const ran: string[] = [];
  first.on('job_executed', (e) => ran.push(e.jobId));
  first.resume();
  expect(await pollUntil(() => ran.length >= ids.length, Date.now() + 20_000)).toBe(true);
  expect(changed).toEqual([]);
  expect(ran.length).toBe(ids.length);
  expect(new Set(ran).size).toBe(ids.length);
}, 60_000);

it('pausing starts the runs a released batch claimed, and hands back the batch it asked for', async () => {
  const { first, second, ids } = await twoProcesses(
    (path) => new SqliteJobStore({ path, leaseTime: 600 }),
    {},
    60_000,
    null,
  );
  const [ranFirst, ranSecond] = reportedBy(first, second, 'job_executed');
  // The first run of the first batch pauses the first process: the second batch is released by
  // then (its runs claimed, and started as held runs start when paused), the third asked for.
  first.on('job_submitted', () => {
    if (first.state === STATE_RUNNING) first.pause();
  });
  first.resume();
  expect(await pollUntil(() => ranFirst.size === 2_000, Date.now() + 20_000)).toBe(true);
  second.resume();
  expect(await pollUntil(() => ranSecond.size === 500, Date.now() + 20_000)).toBe(true);
  expect(ranFirst.size).toBe(2_000);
  expect(new Set([...ranFirst, ...ranSecond]).size).toBe(ids.length);
  expect(await second.getJobs()).toEqual([]);
}, 60_000);
