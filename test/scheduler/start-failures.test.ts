/**
 * start() failure paths: a store that fails to start fails start() after the stores and
 * executors already started are shut down again (retries leak no Postgres connection), and a
 * logger that throws cannot leave the scheduler marked running without its loop.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BackgroundScheduler, type Logger, PostgresJobStore, RedisJobStore } from '../../src/index.js';
import { freePort } from '../helpers/ports.js';
import { type PostgresServer, startPostgres } from '../helpers/postgres-server.js';
import { waitFor } from '../helpers/wait.js';

let postgres: PostgresServer;
let admin: pg.Pool;

beforeAll(async () => {
  postgres = await startPostgres();
  admin = new pg.Pool({ connectionString: postgres.connectionString, max: 1 });
}, 60_000);

afterAll(async () => {
  await admin?.end();
  await postgres?.destroy();
});

async function connections(): Promise<number> {
  const { rows } = await admin.query(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
  );
  return rows[0].n as number;
}

it('a store that fails to start closes the stores already started, so retries leak nothing', async () => {
  const refused = `redis://127.0.0.1:${await freePort()}`;
  const scheduler = new BackgroundScheduler({
    timezone: 'UTC',
    jobstores: {
      default: new PostgresJobStore({
        connectionString: postgres.connectionString,
        tableName: 'start_failures',
      }),
      cache: new RedisJobStore({ url: refused }),
    },
  });
  const before = await connections();
  for (let attempt = 0; attempt < 5; attempt++) {
    await expect(scheduler.start()).rejects.toThrow(/cannot connect|ECONNREFUSED|closed/);
    expect(scheduler.running).toBe(false);
  }
  await waitFor(async () => (await connections()) === before, 'every connection closed');
});

it('a logger that throws does not leave the scheduler running without its loop', async () => {
  const ran: number[] = [];
  const throwing: Logger = {
    debug: () => undefined,
    info: () => {
      throw new Error('logger down');
    },
    warn: () => undefined,
    error: () => undefined,
  };
  const scheduler = new BackgroundScheduler({ timezone: 'UTC', logger: throwing });
  await scheduler.addJob(() => ran.push(Date.now()), 'interval', { seconds: 0.05 });
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.message);
  process.on('warning', onWarning);
  try {
    await scheduler.start();
    expect(scheduler.running).toBe(true);
    await waitFor(() => ran.length >= 2, 'the job running (the loop is there)');
    await waitFor(() => warnings.some((w) => /logger threw: Error: logger down/.test(w)), 'the warning');
  } finally {
    process.off('warning', onWarning);
    await scheduler.shutdown({ wait: false }).catch(() => undefined);
  }
});

it('a SQLite file this process cannot write fails start(), not every pass', async () => {
  const { execFileSync } = await import('node:child_process');
  const { chmodSync } = await import('node:fs');
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { SqliteJobStore } = await import('../../src/index.js');
  const dir = await mkdtemp(join(tmpdir(), 'tickwork-readonly-'));
  const path = join(dir, 'jobs.db');
  const setup = new BackgroundScheduler({
    timezone: 'UTC',
    jobstores: { default: new SqliteJobStore({ path }) },
  });
  await setup.start({ paused: true });
  await setup.shutdown();
  // Read-only even for root: the immutable attribute where it can be set, else the mode.
  let immutable = false;
  try {
    execFileSync('chattr', ['+i', path], { stdio: 'ignore' });
    immutable = true;
  } catch {
    chmodSync(path, 0o444);
  }
  try {
    const scheduler = new BackgroundScheduler({
      timezone: 'UTC',
      jobstores: { default: new SqliteJobStore({ path }) },
    });
    await expect(scheduler.start()).rejects.toThrow(/readonly|read-only|permission|not permitted/i);
    expect(scheduler.running).toBe(false);
  } finally {
    if (immutable) execFileSync('chattr', ['-i', path], { stdio: 'ignore' });
    await rm(dir, { recursive: true, force: true });
  }
});
