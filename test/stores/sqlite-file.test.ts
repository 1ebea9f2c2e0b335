/**
 * A SQLite file deleted or replaced while a store has it open is noticed at the next heartbeat:
 * reported as a store error, the orphaned file no longer written, and a new file at the path
 * opened once there is one.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { BackgroundScheduler, registerTask, SqliteJobStore } from '../../src/index.js';
import { fakeLogger } from '../helpers/scheduler.js';
import { waitFor } from '../helpers/wait.js';

registerTask('sqlite-file:noop', () => undefined);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const said = (lines: unknown[][], pattern: RegExp) =>
  lines.some((args) =>
    args.some((a) => {
      // Loggers are called as (context, message): the error is the context's `err`.
      const err = (a as { err?: unknown } | null)?.err;
      const text = err instanceof Error ? err.message : a instanceof Error ? a.message : String(a);
      return pattern.test(text);
    }),
  );

it('notices its file deleted, stops writing the orphan, and opens the file put back', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tickwork-sqlite-file-'));
  const path = join(dir, 'jobs.db');
  const logger = fakeLogger();
  const scheduler = new BackgroundScheduler({
    timezone: 'UTC',
    logger,
    jobstores: { default: new SqliteJobStore({ path, leaseTime: 0.3, pollInterval: 0.05 }) },
  });
  cleanups.push(async () => {
    if (scheduler.running) await scheduler.shutdown({ wait: false });
    await rm(dir, { recursive: true, force: true });
  });
  await scheduler.start();
  await scheduler.addJob('sqlite-file:noop', 'interval', { hours: 1, id: 'before' });

  for (const suffix of ['', '-wal', '-shm']) await rm(`${path}${suffix}`, { force: true });
  await waitFor(() => said(logger.warnings, /jobs\.db" was deleted while open/), 'the deletion reported');
  // Nothing more goes to the orphan: calls fail with the reason.
  await expect(scheduler.addJob('sqlite-file:noop', 'interval', { hours: 1, id: 'lost' })).rejects.toThrow(
    /was deleted while open/,
  );

  // A database file is put back (a restore, another process): it is opened and used.
  const other = new BackgroundScheduler({
    timezone: 'UTC',
    jobstores: { default: new SqliteJobStore({ path }) },
  });
  await other.start({ paused: true });
  await other.addJob('sqlite-file:noop', 'interval', { hours: 1, id: 'restored' });
  await other.shutdown();
  await waitFor(
    async () => (await scheduler.getJobs().catch(() => [])).map((j) => j.id).join() === 'restored',
    'the new file in use',
  );
  await scheduler.addJob('sqlite-file:noop', 'interval', { hours: 1, id: 'after' });
  const db = new Database(path, { readonly: true });
  const ids = (db.prepare('SELECT id FROM tickwork_jobs ORDER BY id').all() as Array<{ id: string }>).map(
    (r) => r.id,
  );
  db.close();
  expect(ids).toEqual(['after', 'restored']);
});

it('notices its file replaced by another', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tickwork-sqlite-file-'));
  const path = join(dir, 'jobs.db');
  const logger = fakeLogger();
  const scheduler = new BackgroundScheduler({
    timezone: 'UTC',
    logger,
    jobstores: { default: new SqliteJobStore({ path, leaseTime: 0.3 }) },
  });
  cleanups.push(async () => {
    if (scheduler.running) await scheduler.shutdown({ wait: false });
    await rm(dir, { recursive: true, force: true });
  });
  await scheduler.start();
  await scheduler.addJob('sqlite-file:noop', 'interval', { hours: 1, id: 'old' });
  // Another database moved over the path (as a restore from a backup does).
  const replacement = join(dir, 'replacement.db');
  const other = new BackgroundScheduler({
    timezone: 'UTC',
    jobstores: { default: new SqliteJobStore({ path: replacement }) },
  });
  await other.start({ paused: true });
  await other.addJob('sqlite-file:noop', 'interval', { hours: 1, id: 'new' });
  await other.shutdown();
  const { rename } = await import('node:fs/promises');
  for (const suffix of ['-wal', '-shm']) await rm(`${path}${suffix}`, { force: true });
  await rename(replacement, path);
  await waitFor(() => said(logger.warnings, /jobs\.db" was replaced while open/), 'the replacement reported');
  await waitFor(
    async () => (await scheduler.getJobs().catch(() => [])).map((j) => j.id).join() === 'new',
    'the new file in use',
  );
});
