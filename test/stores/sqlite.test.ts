/**
 * SqliteJobStore through the shared JobStore suite (see store-suite.ts), once on each SQLite
 * driver this runtime has (better-sqlite3 where its addon loads, `node:sqlite` on Node 22.13+):
 * each test gets a new database file in a directory of its own, removed afterwards with its WAL
 * files. The same for SqliteBackend through the StoreBackend contract (see backend-suite.ts). Then
 * the driver choice itself.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BackgroundScheduler,
  DriverMissingError,
  registerTask,
  SchemaVersionError,
  type SqliteDriverName,
  SqliteJobStore,
} from '../../src/index.js';
import { SqliteBackend } from '../../src/stores/sqlite/backend.js';
import { loadSqliteDriver } from '../../src/stores/sqlite/drivers.js';
import { type BackendFactory, describeBackendSuite } from './backend-suite.js';
import { describeStoreSuite } from './store-suite.js';

let dir: string | null = null;

function path(): string {
  if (dir === null) throw new Error('No database file: create() was not called');
  return join(dir, 'jobs.db');
}

/** The drivers that work here: better-sqlite3 when its addon loads, node:sqlite when built in. */
async function availableDrivers(): Promise<SqliteDriverName[]> {
  const drivers: SqliteDriverName[] = [];
  try {
    const { default: Database } = await import('better-sqlite3');
    new Database(':memory:').close();
    drivers.push('better-sqlite3');
  } catch {
    // Not built for this runtime's ABI.
  }
  try {
    await import('node:sqlite' as string);
    drivers.push('node:sqlite');
  } catch {
    // Node before 22.13.
  }
  return drivers;
}

const drivers = await availableDrivers();
registerTask('tickwork-sqlite-driver-test', () => {});

it('runs on at least one driver here', () => {
  expect(drivers.length).toBeGreaterThan(0);
});

for (const driver of drivers) {
  describeStoreSuite(`SqliteJobStore on ${driver}`, {
    persistent: true,
    async create() {
      dir = await mkdtemp(join(tmpdir(), 'tickwork-sqlite-suite-'));
      return new SqliteJobStore({ path: path(), driver });
    },
    reopen: () => new SqliteJobStore({ path: path(), driver }),
    async cleanup() {
      if (dir !== null) await rm(dir, { recursive: true, force: true });
      dir = null;
    },
  });
}

/** SqliteBackends on one file, each with a connection of its own (as another process would have). */
function sqliteBackends(driver: SqliteDriverName): BackendFactory {
  let backendDir: string | null = null;
  const opened: SqliteBackend[] = [];
  const openOne = async (): Promise<SqliteBackend> => {
    if (backendDir === null) throw new Error('No database file: create() was not called');
    const { open } = await loadSqliteDriver(driver);
    const backend = new SqliteBackend(open, join(backendDir, 'jobs.db'), 'tickwork_jobs');
    await backend.open();
    opened.push(backend);
    return backend;
  };
  return {
    async create() {
      backendDir = await mkdtemp(join(tmpdir(), 'tickwork-sqlite-backend-'));
      return openOne();
    },
    peer: openOne,
    async cleanup() {
      for (const backend of opened.splice(0)) await backend.close();
      if (backendDir !== null) await rm(backendDir, { recursive: true, force: true });
      backendDir = null;
    },
  };
}

for (const driver of drivers) describeBackendSuite(`SqliteBackend on ${driver}`, sqliteBackends(driver));

describe('SqliteJobStore drivers', () => {
  afterEach(async () => {
    if (dir !== null) await rm(dir, { recursive: true, force: true });
    dir = null;
  });

  it('uses better-sqlite3 by default (it is installed here), and says which driver it uses', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tickwork-sqlite-driver-'));
    const store = new SqliteJobStore({ path: path() });
    expect(store.driver).toBeNull();
    const scheduler = new BackgroundScheduler({ timezone: 'UTC', jobstores: { default: store } });
    if (!drivers.includes('better-sqlite3')) {
      // Installed but built for another Node: its own error says so, rather than another driver.
      await expect(scheduler.start({ paused: true })).rejects.toThrow(/better_sqlite3\.node/);
      return;
    }
    await scheduler.start({ paused: true });
    try {
      expect(store.driver).toBe('better-sqlite3');
    } finally {
      await scheduler.shutdown();
    }
  });

  it('a file written through one driver is read through another', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tickwork-sqlite-driver-'));
    const order = [...drivers, ...drivers].slice(0, 2);
    const write = new BackgroundScheduler({
      timezone: 'UTC',
      jobstores: { default: new SqliteJobStore({ path: path(), driver: order[0] }) },
    });
    await write.addJob('tickwork-sqlite-driver-test', 'interval', { id: 'kept', hours: 1, args: [1, 'two'] });
    await write.start({ paused: true });
    await write.shutdown();
    const read = new BackgroundScheduler({
      timezone: 'UTC',
      jobstores: { default: new SqliteJobStore({ path: path(), driver: order[1] }) },
    });
    await read.start({ paused: true });
    try {
      expect((await read.getJobs()).map((j) => [j.id, j.args])).toEqual([['kept', [1, 'two']]]);
    } finally {
      await read.shutdown();
    }
  });

  it('rejects an unknown driver with a TypeError naming it', () => {
    expect(() => new SqliteJobStore({ path: 'x.db', driver: 'sqlite3' as never })).toThrow(
      new TypeError(
        'Expected driver to be one of "better-sqlite3", "node:sqlite", "bun:sqlite", got "sqlite3" (string)',
      ),
    );
  });

  it('bun:sqlite outside Bun fails at start, saying so', async () => {
    const scheduler = new BackgroundScheduler({
      timezone: 'UTC',
      jobstores: { default: new SqliteJobStore({ path: 'never.db', driver: 'bun:sqlite' }) },
    });
    const error = await scheduler.start().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DriverMissingError);
    expect(error).toMatchObject({
      store: 'SqliteJobStore',
      driver: 'bun:sqlite',
      message: 'SqliteJobStore: the "bun:sqlite" driver runs only on Bun',
    });
  });

  it('node:sqlite runs where Node has it, and fails at start with a DriverMissingError where not', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tickwork-sqlite-driver-'));
    const store = new SqliteJobStore({ path: path(), driver: 'node:sqlite' });
    const scheduler = new BackgroundScheduler({ timezone: 'UTC', jobstores: { default: store } });
    const error = await scheduler.start({ paused: true }).then(
      () => null,
      (e: unknown) => e,
    );
    if (drivers.includes('node:sqlite')) {
      expect(error).toBeNull();
      expect(store.driver).toBe('node:sqlite');
      await scheduler.shutdown();
    } else {
      expect(error).toBeInstanceOf(DriverMissingError);
      expect(String(error)).toMatch(/SqliteJobStore: the "node:sqlite" driver needs Node 22\.13 or later/);
    }
  });
});

describe('SqliteJobStore start', () => {
  it('refuses a file whose schema is newer than this code, with SchemaVersionError', async () => {
    const base = await mkdtemp(join(tmpdir(), 'tickwork-sqlite-newer-'));
    try {
      const path = join(base, 'jobs.db');
      const first = new BackgroundScheduler({
        timezone: 'UTC',
        logger: false,
        jobstores: { default: new SqliteJobStore({ path }) },
      });
      await first.start({ paused: true });
      await first.shutdown();
      // Written with whichever driver this runtime has (as by a later version's migration).
      const db = (await loadSqliteDriver(undefined)).open(path);
      db.prepare(
        `INSERT INTO "tickwork_jobs_migrations" (version, name, applied_at) VALUES (99, 'future', 0)`,
      ).run();
      db.close();
      const second = new BackgroundScheduler({
        timezone: 'UTC',
        logger: false,
        jobstores: { default: new SqliteJobStore({ path }) },
      });
      const error = await second.start().then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SchemaVersionError);
      expect(error).toMatchObject({ found: 99 });
      expect(String(error)).toMatch(
        /schema version 99, newer than this tickwork knows \(\d+\): upgrade tickwork/,
      );
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  it("names the file and the missing folder when the file's folder does not exist", async () => {
    const base = await mkdtemp(join(tmpdir(), 'tickwork-sqlite-missing-'));
    try {
      const path = join(base, 'not', 'there', 'jobs.db');
      const scheduler = new BackgroundScheduler({
        timezone: 'UTC',
        logger: false,
        jobstores: { default: new SqliteJobStore({ path }) },
      });
      const error = await scheduler.start().then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(TypeError);
      expect(String(error)).toContain(JSON.stringify(path));
      expect(String(error)).toContain(
        `its folder ${JSON.stringify(join(base, 'not', 'there'))} does not exist`,
      );
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});
