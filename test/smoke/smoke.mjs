// A smoke run of the built package on Bun, Deno or any Node: the memory store with cron,
// interval and date triggers, events, shutdown with a timeout, `await using`-style disposal, a
// SQLite store on the runtime's default driver, and worker threads. Real time, about 3 s.
//   bun test/smoke/smoke.mjs | deno run -A test/smoke/smoke.mjs | node test/smoke/smoke.mjs
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BackgroundScheduler,
  getJobContext,
  registerTask,
  SqliteJobStore,
  WorkerThreadExecutor,
} from '../../dist/index.js';

const runtime =
  typeof globalThis.Bun !== 'undefined'
    ? `Bun ${globalThis.Bun.version}`
    : typeof globalThis.Deno !== 'undefined'
      ? `Deno ${globalThis.Deno.version.deno}`
      : `Node ${process.version}`;
const results = [];
const dispose = Symbol.asyncDispose ?? Symbol.for('nodejs.asyncDispose');

async function check(name, fn) {
  const started = Date.now();
  await fn();
  results.push(`ok ${name} (${Date.now() - started} ms)`);
}

const waitFor = async (condition, what, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

await check('memory store: date, interval and cron jobs run; events', async () => {
  const scheduler = new BackgroundScheduler({ timezone: 'UTC' });
  const runs = { date: 0, interval: 0, cron: 0 };
  const events = [];
  scheduler.on('job_executed', (e) => events.push(e.jobId));
  await scheduler.addJob(() => runs.date++, 'date', { id: 'date' });
  await scheduler.addJob(() => runs.interval++, 'interval', { id: 'interval', seconds: 0.1 });
  await scheduler.addJob(() => runs.cron++, 'cron', { id: 'cron', second: '*' });
  await scheduler.start();
  await waitFor(() => runs.date === 1 && runs.interval >= 3 && runs.cron >= 1, 'the jobs to run', 2500);
  await scheduler.shutdown();
  assert.ok(events.includes('date') && events.includes('interval') && events.includes('cron'));
  assert.equal(await scheduler.getJob('date'), null);
});

await check('shutdown({ timeout }) aborts a running job through its signal', async () => {
  const scheduler = new BackgroundScheduler({ timezone: 'UTC' });
  let aborted = null;
  let started = false;
  await scheduler.addJob(
    () =>
      new Promise((_, reject) => {
        started = true;
        getJobContext().signal.addEventListener('abort', (event) => {
          aborted = event.target.reason.name;
          reject(event.target.reason);
        });
      }),
    'date',
  );
  await scheduler.start();
  await waitFor(() => started, 'the job to start');
  assert.equal(await scheduler.shutdown({ timeout: 0.05 }), 1);
  assert.equal(aborted, 'AbortError');
});

await check('Symbol.asyncDispose shuts a scheduler down', async () => {
  const scheduler = new BackgroundScheduler({ timezone: 'UTC' });
  await scheduler.start();
  await scheduler[dispose]();
  assert.equal(scheduler.running, false);
});

registerTask('smoke-count', () => {});

await check('SQLite store on the default driver: jobs survive a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tickwork-smoke-'));
  try {
    const path = join(dir, 'jobs.db');
    const first = new SqliteJobStore({ path });
    const scheduler = new BackgroundScheduler({ timezone: 'UTC', jobstores: { default: first } });
    await scheduler.addJob('smoke-count', 'interval', { id: 'kept', hours: 1, args: [1, 'two'] });
    await scheduler.start();
    await scheduler.shutdown();
    const second = new SqliteJobStore({ path });
    const again = new BackgroundScheduler({ timezone: 'UTC', jobstores: { default: second } });
    await again.start({ paused: true });
    const jobs = await again.getJobs();
    await again.shutdown();
    assert.deepEqual(
      jobs.map((j) => [j.id, j.args]),
      [['kept', [1, 'two']]],
    );
    results.push(`   (SQLite driver: ${second.driver})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

await check('worker threads run a task reference', async () => {
  const task = `${fileURLToPath(new URL('./smoke-task.mjs', import.meta.url))}#square`;
  const scheduler = new BackgroundScheduler({
    timezone: 'UTC',
    executors: { default: new WorkerThreadExecutor({ maxWorkers: 1 }) },
  });
  const values = [];
  scheduler.on('job_executed', (e) => values.push(e.retval));
  scheduler.on('job_error', (e) => values.push(e.error));
  await scheduler.addJob(task, 'date', { args: [7] });
  await scheduler.start();
  await waitFor(() => values.length > 0, 'the worker job');
  await scheduler.shutdown();
  assert.deepEqual(values, [49]);
});

console.log(`tickwork smoke on ${runtime}\n${results.join('\n')}`);
process.exit(0);
