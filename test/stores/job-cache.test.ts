/**
 * The job cache of a persistent store stays bounded when other processes add, replace and remove
 * jobs: a full read drops the jobs another process removed, and the cache never holds more than
 * JOB_CACHE_LIMIT jobs however many the store holds.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import { BackgroundScheduler, JOB_CACHE_LIMIT, registerTask, SqliteJobStore } from '../../src/index.js';

registerTask('churn:noop', () => undefined);

const run = promisify(execFile);
const FIXTURE = join(import.meta.dirname, '../fixtures/stores/churn-process.ts');
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Runs the churn process: another scheduler process changing the store. */
async function otherProcess(path: string, prefix: string, add: number, removeAll: boolean): Promise<void> {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', FIXTURE, JSON.stringify({ path, prefix, add, removeAll })],
    {
      cwd: process.cwd(),
    },
  );
  expect(stdout).toBe('done\n');
}

it('drops jobs other processes removed, and holds at most JOB_CACHE_LIMIT jobs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tickwork-cache-'));
  const path = join(dir, 'jobs.db');
  const store = new SqliteJobStore({ path });
  const scheduler = new BackgroundScheduler({ timezone: 'UTC', jobstores: { default: store } });
  cleanups.push(async () => {
    if (scheduler.running) await scheduler.shutdown({ wait: false });
    await rm(dir, { recursive: true, force: true });
  });
  await scheduler.start({ paused: true });

  // Rounds of another process replacing every job: this process reads each round.
  for (const round of ['a', 'b', 'c']) {
    await otherProcess(path, `${round}-`, 2_000, true);
    expect(await scheduler.getJobs()).toHaveLength(2_000);
    expect(store.cachedJobCount).toBe(2_000);
  }
  await otherProcess(path, 'none-', 0, true);
  expect(await scheduler.getJobs()).toEqual([]);
  expect(store.cachedJobCount).toBe(0);

  await otherProcess(path, 'many-', JOB_CACHE_LIMIT + 1_500, false);
  expect(await scheduler.getJobs()).toHaveLength(JOB_CACHE_LIMIT + 1_500);
  expect(store.cachedJobCount).toBe(JOB_CACHE_LIMIT);
}, 120_000);
