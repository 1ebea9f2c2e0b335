/**
 * A pass over a shared store asks for its next batch of due jobs while the current batch's runs
 * start. A pass that fails, or a scheduler that pauses or shuts down, after asking hands that
 * batch back unchanged, so that any process takes its jobs at once, not once their leases have
 * run out.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { BackgroundScheduler, PromisePoolExecutor, registerTask, SqliteJobStore } from '../../src/index.js';
import type { FinishedRunRow } from '../../src/stores/backend.js';
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
 * Two processes on one SQLite file (the first on `firstStore`), both started paused, and 1,500
 * date jobs due `ago` ms ago with `misfireGraceTime`. The first takes full batches
 * (`Unbounded`); leases last far longer than the test, so a job left leased to it would not be
 * taken again in the test.
 */
async function twoProcesses<S extends SqliteJobStore>(
  firstStore: (path: string) => S,
  firstOptions: { jobstoreRetryInterval?: number },
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
  const ids = Array.from({ length: 1_500 }, (_, i) => `job-${i}`);
  await Promise.all(
    ids.map((id) => first.addJob('next-batch:noop', 'date', { runDate, misfireGraceTime, id })),
  );
  return { first, second, store, ids };
}

it('hands back the next batch of a pass that failed, for another process to take at once', async () => {
  // 1,500 fires an hour past their grace time: the first process takes them 1,000 at a time,
  // and writes the rows of the missed runs after each batch. That write fails the pass after it
  // has asked for the second batch; its pause after a failure outlasts the test.
  const { first, second, store, ids } = await twoProcesses(
    (path) => new FailingWrites({ path, leaseTime: 600 }),
    { jobstoreRetryInterval: 600 },
    3_600_000,
    1,
  );
  const missedFirst = new Set<string>();
  const missedSecond = new Set<string>();
  first.on('job_missed', (e) => missedFirst.add(e.jobId));
  second.on('job_missed', (e) => missedSecond.add(e.jobId));
  store.failures = 1;
  first.resume();
  expect(await pollUntil(() => store.failures === 0, Date.now() + 20_000)).toBe(true);
  expect(missedFirst.size).toBe(1_000);
  // The other 500 went back to the store as they were: the second process takes them now.
  second.resume();
  expect(await pollUntil(() => missedSecond.size === 500, Date.now() + 20_000)).toBe(true);
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
  const ranFirst = new Set<string>();
  const ranSecond = new Set<string>();
  let stopping: Promise<unknown> | null = null;
  // The first run of the first batch shuts the first process down; the pass has asked for the
  // second batch by then.
  first.on('job_submitted', () => {
    stopping ??= first.shutdown();
  });
  first.on('job_executed', (e) => ranFirst.add(e.jobId));
  second.on('job_executed', (e) => ranSecond.add(e.jobId));
  first.resume();
  expect(await pollUntil(() => stopping !== null, Date.now() + 20_000)).toBe(true);
  await stopping;
  // The batch being submitted runs to its end; the one asked for went back untouched.
  expect(ranFirst.size).toBe(1_000);
  second.resume();
  expect(await pollUntil(() => ranSecond.size === 500, Date.now() + 20_000)).toBe(true);
  expect(new Set([...ranFirst, ...ranSecond]).size).toBe(ids.length);
  expect(await second.getJobs()).toEqual([]);
}, 60_000);
