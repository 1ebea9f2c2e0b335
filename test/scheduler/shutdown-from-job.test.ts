/**
 * A job that shuts its own scheduler down (and awaits it) does not deadlock: shutdown waits for
 * every other run, not for the caller's, and the caller's run still ends as job_executed.
 */
import { expect, it, vi } from 'vitest';
import type { BackgroundScheduler } from '../../src/index.js';
import { makeScheduler, named, record, SECOND, useFakeTime } from '../helpers/scheduler.js';

useFakeTime();

it('a job awaiting scheduler.shutdown() lets it finish, and other runs are waited for', async () => {
  const scheduler: BackgroundScheduler = makeScheduler();
  const events = record(scheduler);
  const order: string[] = [];
  await scheduler.addJob(
    async () => {
      await new Promise((resolve) => setTimeout(resolve, 3 * SECOND));
      order.push('other run ended');
    },
    'date',
    { runDate: new Date(Date.now() + SECOND), id: 'other' },
  );
  await scheduler.addJob(
    async () => {
      await scheduler.shutdown();
      order.push('shutdown returned');
      return 'stopped';
    },
    'date',
    { runDate: new Date(Date.now() + 2 * SECOND), id: 'stopper' },
  );
  await scheduler.start();
  await vi.advanceTimersByTimeAsync(5 * SECOND);
  expect(order).toEqual(['other run ended', 'shutdown returned']);
  expect(scheduler.running).toBe(false);
  expect(named(events, 'scheduler_shutdown')).toHaveLength(1);
  expect(named(events, 'job_executed').map((e) => [e.jobId, e.retval])).toEqual([
    ['other', undefined],
    ['stopper', 'stopped'],
  ]);
});

it('a BlockingScheduler shut down by its own job ends its process normally', async () => {
  vi.useRealTimers();
  const { execFile } = await import('node:child_process');
  const { join } = await import('node:path');
  const fixture = join(import.meta.dirname, '../fixtures/scheduler/blocking-self-shutdown.ts');
  const result = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', fixture],
      { timeout: 20_000 },
      (error, stdout) =>
        resolve({ code: error === null ? 0 : ((error as { code?: number }).code ?? null), stdout }),
    );
    child.stdin?.end();
  });
  expect(result).toEqual({ code: 0, stdout: 'start returned\nexecuted stopper after-shutdown\n' });
}, 30_000);
