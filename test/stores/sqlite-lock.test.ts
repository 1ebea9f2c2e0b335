/**
 * A SQLite write lock held by another process (here a child node process holding `BEGIN
 * IMMEDIATE`, as a backup or the sqlite3 shell would) must not freeze this process: the event
 * loop keeps turning, a host timer keeps ticking, a memory-store job keeps running, and the
 * SQLite job runs once the lock is let go.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { BackgroundScheduler, MemoryJobStore, registerTask, SqliteJobStore } from '../../src/index.js';
import { waitFor } from '../helpers/wait.js';

const ran: string[] = [];
registerTask('sqlite-lock:record', (tag: string) => {
  ran.push(tag);
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A child process that takes the write lock of `path` and holds it until told to let go. */
async function holdLock(path: string): Promise<{ release(): Promise<void> }> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '-e',
      `const db = new (require('better-sqlite3'))(${JSON.stringify(path)});
       db.exec('BEGIN IMMEDIATE');
       db.exec("UPDATE tickwork_jobs SET state = state");
       process.stdout.write('locked\\n');
       process.stdin.once('data', () => { db.exec('COMMIT'); db.close(); process.exit(0); });`,
    ],
    { cwd: process.cwd(), stdio: ['pipe', 'pipe', 'inherit'] },
  );
  cleanups.push(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
    child.once('exit', (code) => reject(new Error(`lock holder exited with ${code}`)));
  });
  return {
    async release() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin?.write('go\n');
      await exited;
    },
  };
}

it('keeps the event loop turning while another process holds the SQLite write lock', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tickwork-sqlite-lock-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'jobs.db');
  const scheduler = new BackgroundScheduler({
    timezone: 'UTC',
    jobstores: { default: new SqliteJobStore({ path, pollInterval: 0.05 }), memory: new MemoryJobStore() },
  });
  cleanups.push(async () => {
    if (scheduler.running) await scheduler.shutdown({ wait: false });
  });
  await scheduler.start({ paused: true });
  // A SQLite job due while the file is locked, and a memory job running every 50 ms.
  await scheduler.addJob('sqlite-lock:record', 'date', {
    runDate: new Date(Date.now() + 200),
    args: ['sqlite'],
    id: 'sqlite',
    misfireGraceTime: null,
  });
  await scheduler.addJob('sqlite-lock:record', 'interval', {
    seconds: 0.05,
    args: ['memory'],
    jobstore: 'memory',
  });

  const lock = await holdLock(path);
  let ticks = 0;
  let longestGap = 0;
  const lockedAt = performance.now();
  let last = lockedAt;
  const timer = setInterval(() => {
    const now = performance.now();
    longestGap = Math.max(longestGap, now - last);
    last = now;
    ticks += 1;
  }, 10);
  cleanups.push(() => clearInterval(timer));
  scheduler.resume();

  // While the lock is held (past the SQLite job's run time), the host timer and the memory job
  // go on; the SQLite job waits.
  await waitFor(
    () => ticks >= 100 && ran.filter((t) => t === 'memory').length >= 10,
    'ticks and memory runs',
  );
  expect(ran).not.toContain('sqlite');
  console.info(
    `SQLite write lock held ${(performance.now() - lockedAt).toFixed(0)} ms: ${ticks} ticks of a 10 ms timer, longest gap ${longestGap.toFixed(1)} ms`,
  );

  await lock.release();
  await waitFor(() => ran.includes('sqlite'), 'the SQLite job once the lock is let go');
  expect(ran.filter((t) => t === 'sqlite')).toEqual(['sqlite']);
});
