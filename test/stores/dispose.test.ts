/**
 * `await using` on job stores, on real time (a SQLite store's file must really be closed): stores
 * and executors are disposed after the scheduler that uses them, and disposing a store its
 * scheduler shut down already is harmless.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import {
  BackgroundScheduler,
  MemoryJobStore,
  PromisePoolExecutor,
  registerTask,
  SqliteJobStore,
} from '../../src/index.js';

let dir: string | null = null;

afterEach(async () => {
  if (dir !== null) await rm(dir, { recursive: true, force: true });
  dir = null;
});

it('disposes stores and executors after the scheduler that uses them; the file is closed cleanly', async () => {
  dir = await mkdtemp(join(tmpdir(), 'tickwork-dispose-'));
  const path = join(dir, 'jobs.db');
  registerTask('tickwork-dispose-test', () => {});
  const ends: string[] = [];
  let release: () => void = () => {};
  let begin: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    begin = resolve;
  });
  let schedulerRef: BackgroundScheduler | null = null;
  {
    await using store = new SqliteJobStore({ path });
    await using memory = new MemoryJobStore();
    await using executor = new PromisePoolExecutor();
    await using scheduler = new BackgroundScheduler({
      timezone: 'UTC',
      jobstores: { default: store, memory },
      executors: { default: executor },
    });
    schedulerRef = scheduler;
    await scheduler.addJob(
      async () => {
        begin();
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        ends.push('finished');
      },
      'date',
      { jobstore: 'memory' },
    );
    await scheduler.addJob('tickwork-dispose-test', 'interval', { id: 'kept', hours: 1 });
    await scheduler.start();
    await started;
    // Released while the scheduler's disposal waits for it.
    queueMicrotask(() => release());
  }
  expect(ends).toEqual(['finished']);
  expect(schedulerRef?.running).toBe(false);
  // A new store opens the same file and finds the job the first one wrote.
  {
    await using store = new SqliteJobStore({ path });
    await using scheduler = new BackgroundScheduler({ timezone: 'UTC', jobstores: { default: store } });
    await scheduler.start({ paused: true });
    expect((await scheduler.getJobs()).map((j) => j.id)).toEqual(['kept']);
  }
});
