/**
 * PostgresJobStore on a real, throwaway PostgreSQL server: the job API through a scheduler,
 * restarts, hostile ids, runs shared by two schedulers, broken rows, wake-up hints, a server
 * outage; the backend's migrations, plans and hints, and the StoreBackend contract (see
 * backend-suite.ts). Each test has a table of its own.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  BackgroundScheduler,
  ConflictingIdError,
  JobLookupError,
  type Logger,
  MemoryJobStore,
  PostgresJobStore,
  type PostgresJobStoreOptions,
  registerTask,
  type SchedulerEventAny,
  type SchedulerOptions,
  SchemaVersionError,
  SerializationError,
  TaskLookupError,
} from '../../src/index.js';
import { nextRunTimeSql, PostgresBackend } from '../../src/stores/postgres/backend.js';
import { MIGRATIONS, tableNames } from '../../src/stores/postgres/migrations.js';
import { type PostgresServer, startPostgres } from '../helpers/postgres-server.js';
import { waitFor } from '../helpers/wait.js';
import { describeBackendSuite } from './backend-suite.js';
import { describeStoreSuite } from './store-suite.js';

let server: PostgresServer;
// Direct access to the tables, to check what the store wrote and to corrupt rows by hand.
let admin: pg.Pool;

beforeAll(async () => {
  server = await startPostgres();
  admin = new pg.Pool({ connectionString: server.connectionString, max: 3 });
  // The outage test cuts its idle connections: they must not crash the test process.
  admin.on('error', () => undefined);
});

afterAll(async () => {
  await admin?.end();
  await server?.destroy();
});

let tableCount = 0;
function freshTable(): string {
  tableCount += 1;
  // Mixed case: every name the store derives must be quoted consistently.
  return `Jobs_${process.pid}_${tableCount}`;
}

const schedulers: BackgroundScheduler[] = [];

afterEach(async () => {
  for (const scheduler of schedulers.splice(0)) {
    if (scheduler.running) await scheduler.shutdown({ wait: false });
  }
});

function makeStore(tableName: string, options: { pollInterval?: number } = {}): PostgresJobStore {
  return new PostgresJobStore({
    connectionString: server.connectionString,
    tableName,
    pollInterval: 0.1,
    ...options,
  });
}

function makeScheduler(store: PostgresJobStore, options: SchedulerOptions = {}): BackgroundScheduler {
  const scheduler = new BackgroundScheduler({ timezone: 'UTC', jobstores: { default: store }, ...options });
  schedulers.push(scheduler);
  return scheduler;
}

/** Polls `condition` until it holds; fails with `what` after `timeoutMs`. */

interface StoredRow {
  id: string;
  next_run_time: string | null;
  state: string;
  acquired_by: string | null;
  token: string;
}

async function rows(table: string): Promise<StoredRow[]> {
  return (await admin.query<StoredRow>(`SELECT * FROM "${table}" ORDER BY id`)).rows;
}

async function count(table: string): Promise<number> {
  return Number((await admin.query<{ n: string }>(`SELECT count(*) AS n FROM "${table}"`)).rows[0].n);
}

function recordingLogger(): Logger & { warnings: unknown[][]; errors: unknown[][] } {
  const logger = {
    warnings: [] as unknown[][],
    errors: [] as unknown[][],
    debug: () => undefined,
    info: () => undefined,
    warn: (...args: unknown[]) => logger.warnings.push(args),
    error: (...args: unknown[]) => logger.errors.push(args),
  };
  return logger;
}

const reports: Array<{ label: string; when: Date | number }> = [];
registerTask('pg.report', (label: string, when: Date | number) => {
  reports.push({ label, when });
});
const fired = new Map<string, number>();
registerTask('pg.count', (key: string) => {
  fired.set(key, (fired.get(key) ?? 0) + 1);
});
const ranBy: string[] = [];
registerTask('pg.once', (id: string) => {
  ranBy.push(id);
});

describe('PostgresJobStore options', () => {
  it('needs a connection string or a pool, not both', () => {
    expect(() => new PostgresJobStore({} as PostgresJobStoreOptions)).toThrow(
      /Expected connectionString to be a non-empty string .*got undefined/,
    );
    expect(
      () =>
        new PostgresJobStore({
          connectionString: 'postgres://x',
          pool: admin,
        } as unknown as PostgresJobStoreOptions),
    ).toThrow(/connectionString or pool, not both/);
    expect(() => new PostgresJobStore({ connectionString: '' })).toThrow(
      /connectionString .*got "" \(string\)/,
    );
    expect(() => new PostgresJobStore({ connectionString: 5 } as unknown as PostgresJobStoreOptions)).toThrow(
      /connectionString .*got 5 \(number\)/,
    );
    expect(() => new PostgresJobStore({ pool: {} } as unknown as PostgresJobStoreOptions)).toThrow(
      /Expected pool to be a pg.Pool .*got \{\} \(Object\)/,
    );
    expect(() => new PostgresJobStore(null as unknown as PostgresJobStoreOptions)).toThrow(
      /Expected PostgresJobStore options to be an object, got null/,
    );
  });

  it('rejects table names that are not short SQL identifiers, naming the value', () => {
    const bad = ['', 'bad-name', 'x"; DROP TABLE y; --', '1abc', 'a'.repeat(48), 'jöbs'];
    for (const tableName of bad) {
      expect(() => new PostgresJobStore({ connectionString: 'postgres://x', tableName })).toThrow(
        new RegExp(
          `Expected tableName to match .*got ${JSON.stringify(JSON.stringify(tableName)).slice(1, -1)}`,
        ),
      );
    }
    expect(
      () =>
        new PostgresJobStore({
          connectionString: 'postgres://x',
          tableName: 7,
        } as unknown as PostgresJobStoreOptions),
    ).toThrow(/tableName .*got 7 \(number\)/);
    expect(
      new PostgresJobStore({ connectionString: 'postgres://x', tableName: 'a'.repeat(47) }).tableName,
    ).toHaveLength(47);
    expect(new PostgresJobStore({ connectionString: 'postgres://x' }).tableName).toBe('tickwork_jobs');
  });

  it('rejects unknown options and bad lease and poll times', () => {
    expect(
      () =>
        new PostgresJobStore({
          connectionString: 'postgres://x',
          table: 'x',
        } as unknown as PostgresJobStoreOptions),
    ).toThrow(/Unknown PostgresJobStore option "table"/);
    expect(() => new PostgresJobStore({ connectionString: 'postgres://x', leaseTime: 0 })).toThrow(
      /leaseTime .*got 0 \(number\)/,
    );
    expect(() => new PostgresJobStore({ connectionString: 'postgres://x', pollInterval: -1 })).toThrow(
      /pollInterval .*got -1 \(number\)/,
    );
    expect(() => new PostgresJobStore({ connectionString: 'postgres://x', claimAhead: -0.1 })).toThrow(
      /claimAhead .*got -0.1 \(number\)/,
    );
    expect(
      () => new PostgresJobStore({ connectionString: 'postgres://x', claimAhead: '1' as unknown as number }),
    ).toThrow(/claimAhead .*got "1"/);
    expect(
      () => new PostgresJobStore({ connectionString: 'postgres://x', leaseTime: 2, claimAhead: 1.5 }),
    ).toThrow('Expected claimAhead to be at most half of leaseTime (1 s), got 1.5');
    // 0.25 s by default, or half the lease when that is shorter; 0 claims runs when due.
    expect(new PostgresJobStore({ connectionString: 'postgres://x' }).claimAheadMs).toBe(250);
    expect(new PostgresJobStore({ connectionString: 'postgres://x', leaseTime: 0.2 }).claimAheadMs).toBe(100);
    expect(new PostgresJobStore({ connectionString: 'postgres://x', claimAhead: 0 }).claimAheadMs).toBe(0);
  });
});

describe('PostgresJobStore through the scheduler', () => {
  it('adds, gets, modifies, pauses, resumes and removes jobs, as readable rows', async () => {
    const table = freshTable();
    const scheduler = makeScheduler(makeStore(table));
    await scheduler.start({ paused: true });
    const when = new Date('2030-05-06T07:08:09.010Z');
    const job = await scheduler.addJob('pg.report', 'interval', {
      minutes: 5,
      id: 'r1',
      name: 'Report',
      args: ['weekly', when],
    });
    await expect(
      scheduler.addJob('pg.report', 'interval', { minutes: 5, id: 'r1', args: ['x', 1] }),
    ).rejects.toThrow(ConflictingIdError);

    const [stored] = await scheduler.getJobs();
    expect(stored.id).toBe('r1');
    expect(stored.name).toBe('Report');
    expect(stored.args).toEqual(['weekly', when]);
    expect(stored.nextRunTime?.getTime()).toBe(job.nextRunTime?.getTime());

    const [row] = await rows(table);
    expect(Number(row.next_run_time)).toBe(job.nextRunTime?.getTime());
    const state = JSON.parse(row.state);
    expect(state).toMatchObject({ id: 'r1', name: 'Report', task: 'pg.report' });

    await scheduler.modifyJob('r1', { name: 'Renamed', args: ['daily', 42] });
    const modified = await scheduler.getJob('r1');
    expect(modified?.name).toBe('Renamed');
    expect(modified?.args).toEqual(['daily', 42]);

    await scheduler.pauseJob('r1');
    expect((await rows(table))[0].next_run_time).toBeNull();
    expect((await scheduler.getJob('r1'))?.nextRunTime).toBeNull();
    await scheduler.resumeJob('r1');
    expect((await rows(table))[0].next_run_time).not.toBeNull();

    await scheduler.rescheduleJob('r1', 'cron', { hour: 3, minute: 0 });
    expect((await scheduler.getJob('r1'))?.nextRunTime?.getUTCHours()).toBe(3);

    await scheduler.removeJob('r1');
    expect(await scheduler.getJob('r1')).toBeNull();
    expect(await count(table)).toBe(0);
    await expect(scheduler.removeJob('r1')).rejects.toThrow(JobLookupError);
  });

  it('keeps jobs across a restart with a new store object, paused ones last', async () => {
    const table = freshTable();
    const first = makeScheduler(makeStore(table));
    await first.start({ paused: true });
    const when = new Date('2031-01-02T03:04:05.678Z');
    await first.addJob('pg.report', 'interval', { hours: 2, id: 'b', args: ['two', when] });
    await first.addJob('pg.report', 'cron', { day: 1, hour: 9, id: 'a', args: ['cron', 1.5] });
    await first.addJob('pg.report', 'interval', {
      hours: 1,
      id: 'p',
      args: ['paused', 0],
      nextRunTime: null,
    });
    const before = await first.getJobs();
    await first.shutdown();

    const second = makeScheduler(makeStore(table));
    await second.start({ paused: true });
    const after = await second.getJobs();
    expect(after.map((j) => j.id)).toEqual(before.map((j) => j.id));
    expect(after.map((j) => j.id).at(-1)).toBe('p');
    expect(after.map((j) => j.nextRunTime?.getTime() ?? null)).toEqual(
      before.map((j) => j.nextRunTime?.getTime() ?? null),
    );
    expect(after.map((j) => j.args)).toEqual(before.map((j) => j.args));
    expect(after.map((j) => j.trigger.toString())).toEqual(before.map((j) => j.trigger.toString()));
    expect((await second.getJob('b'))?.args[1]).toEqual(when);
  });

  it('round-trips ids with quotes, unicode and 1 KB length', async () => {
    const table = freshTable();
    const scheduler = makeScheduler(makeStore(table));
    await scheduler.start({ paused: true });
    const ids = [
      `it's "quoted" \\ and ; -- not SQL`,
      "'); DROP TABLE jobs; --",
      'ジョブ 🚀 ünïcödé ∑',
      'k'.repeat(1024),
    ];
    for (const id of ids) await scheduler.addJob('pg.report', 'interval', { seconds: 30, id, args: [id, 0] });
    expect((await scheduler.getJobs()).map((j) => j.id).sort()).toEqual([...ids].sort());
    expect((await rows(table)).map((r) => r.id).sort()).toEqual([...ids].sort());
    for (const id of ids) {
      expect((await scheduler.getJob(id))?.args[0]).toBe(id);
      await scheduler.modifyJob(id, { name: `name of ${id}` });
      expect((await scheduler.getJob(id))?.name).toBe(`name of ${id}`);
      await scheduler.pauseJob(id);
      await scheduler.removeJob(id);
      expect(await scheduler.getJob(id)).toBeNull();
    }
    expect(await count(table)).toBe(0);
  });

  it('refuses ids PostgreSQL text cannot hold, at addJob', async () => {
    const scheduler = makeScheduler(makeStore(freshTable()));
    await expect(
      scheduler.addJob('pg.report', 'interval', { seconds: 1, id: 'a\0b', args: ['x', 0] }),
    ).rejects.toThrow(SerializationError);
    await expect(
      scheduler.addJob('pg.report', 'interval', { seconds: 1, id: 'a\ud800b', args: ['x', 0] }),
    ).rejects.toThrow(/Cannot store id: .*surrogate/);
  });

  it('fails at addJob for an unregistered function, and for args that cannot be stored', async () => {
    const table = freshTable();
    const scheduler = makeScheduler(makeStore(table));
    // Checked even before the store is started.
    await expect(scheduler.addJob(() => 1, 'interval', { seconds: 1 })).rejects.toThrow(TaskLookupError);
    await scheduler.start({ paused: true });
    await expect(scheduler.addJob(function unnamed() {}, 'interval', { seconds: 1 })).rejects.toThrow(
      /registerTask/,
    );
    const error = await scheduler
      .addJob('pg.report', 'interval', {
        seconds: 1,
        args: ['x', { nested: [1, { callback: () => 1 }] }],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SerializationError);
    expect((error as SerializationError).path).toBe('args[1].nested[1].callback');
    expect((error as Error).message).toContain('args[1].nested[1].callback');
    expect(await count(table)).toBe(0);
  });

  it('runs an interval job, advancing its next run time in the table, and a date job once', async () => {
    const table = freshTable();
    const scheduler = makeScheduler(makeStore(table));
    await scheduler.start();
    const key = `tick-${table}`;
    await scheduler.addJob('pg.count', 'interval', { seconds: 0.15, id: 'tick', args: [key] });
    const firstNext = Number((await rows(table))[0].next_run_time);
    await waitFor(() => (fired.get(key) ?? 0) >= 3, 'three ticks');
    const later = await rows(table);
    expect(Number(later[0].next_run_time)).toBeGreaterThan(firstNext);

    const once = `once-${table}`;
    await scheduler.addJob('pg.count', 'date', {
      runDate: new Date(Date.now() + 100),
      id: 'once',
      args: [once],
    });
    await waitFor(
      async () => fired.get(once) === 1 && (await count(table)) === 1,
      'the date job run and removed',
    );
    await scheduler.removeJob('tick');
    // Finished runs give their claims back.
    await waitFor(async () => (await count(`${table}_runs`)) === 0, 'run claims completed');
    expect(fired.get(once)).toBe(1);
  });

  it('runs each date job exactly once with two schedulers on one table', async () => {
    const table = freshTable();
    const a = makeScheduler(makeStore(table), { schedulerId: 'sched-a' });
    const b = makeScheduler(makeStore(table), { schedulerId: 'sched-b' });
    const executed: Array<{ jobId: string; schedulerId: string }> = [];
    for (const s of [a, b]) {
      s.on('job_executed', (e) => executed.push({ jobId: e.jobId, schedulerId: e.schedulerId }));
    }
    await a.start();
    await b.start();
    const runDate = new Date(Date.now() + 400);
    const ids = Array.from({ length: 30 }, (_, i) => `${table}-${i}`);
    for (const [i, id] of ids.entries()) {
      await (i % 2 === 0 ? a : b).addJob('pg.once', 'date', { runDate, id, args: [id] });
    }
    await waitFor(async () => executed.length >= ids.length && (await count(table)) === 0, 'every job run');
    // Both schedulers have looked at the table again since: nothing runs twice.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(executed.map((e) => e.jobId).sort()).toEqual([...ids].sort());
    expect(ranBy.filter((id) => id.startsWith(`${table}-`)).sort()).toEqual([...ids].sort());
    await waitFor(async () => (await count(`${table}_runs`)) === 0, 'run claims completed');
  });

  it('reports rows it cannot restore as job_error, keeps them, and keeps running', async () => {
    const table = freshTable();
    const setup = makeScheduler(makeStore(table));
    await setup.start({ paused: true });
    const key = `survivor-${table}`;
    await setup.addJob('pg.count', 'interval', { seconds: 0.1, id: 'good', args: [key] });
    const template = JSON.parse((await rows(table))[0].state);
    await setup.shutdown();
    const now = Date.now();
    await admin.query(`INSERT INTO "${table}" (id, next_run_time, state) VALUES ($1, $2, $3), ($4, $5, $6)`, [
      'bad-json',
      now,
      '{"version": 1, "task": ',
      'unknown-task',
      now,
      JSON.stringify({ ...template, id: 'unknown-task', task: 'pg.no-such-task' }),
    ]);

    const errors: Array<Extract<SchedulerEventAny, { name: 'job_error' }>> = [];
    const scheduler = makeScheduler(makeStore(table), { logger: recordingLogger() });
    scheduler.on('job_error', (e) => errors.push(e));
    await scheduler.start();
    await waitFor(
      () => errors.some((e) => e.jobId === 'bad-json') && errors.some((e) => e.jobId === 'unknown-task'),
      'both broken rows reported',
    );
    expect(String(errors.find((e) => e.jobId === 'bad-json')?.error)).toMatch(/not JSON/);
    expect(String(errors.find((e) => e.jobId === 'unknown-task')?.error)).toMatch(/pg\.no-such-task/);
    const ticksBefore = fired.get(key) ?? 0;
    await waitFor(() => (fired.get(key) ?? 0) >= ticksBefore + 2, 'the good job running on');
    expect((await scheduler.getJobs()).map((j) => [j.id, j.broken === null]).sort()).toEqual([
      ['bad-json', false],
      ['good', true],
      ['unknown-task', false],
    ]);
    expect((await rows(table)).map((r) => r.id)).toEqual(['bad-json', 'good', 'unknown-task']);
    // Reported once, not on every look.
    expect(errors.filter((e) => e.jobId === 'bad-json')).toHaveLength(1);
  });

  it('wakes on another process changing jobs, without waiting for the poll', async () => {
    const table = freshTable();
    const runner = makeScheduler(makeStore(table, { pollInterval: 30 }));
    const editor = makeScheduler(makeStore(table, { pollInterval: 30 }));
    await runner.start();
    await editor.start({ paused: true });
    const key = `hinted-${table}`;
    // Let the runner settle into its 30 s sleep first.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const addedAt = Date.now();
    await editor.addJob('pg.count', 'date', { runDate: new Date(addedAt), id: 'hinted', args: [key] });
    await waitFor(() => fired.get(key) === 1, 'the hinted job run', 5_000);
    expect(Date.now() - addedAt).toBeLessThan(5_000);
  });

  it('uses a pool of your own without ending it, and gives its connections back', async () => {
    const pool = new pg.Pool({ connectionString: server.connectionString, max: 4 });
    pool.on('error', () => undefined);
    try {
      const scheduler = makeScheduler(
        new PostgresJobStore({ pool, tableName: freshTable(), pollInterval: 0.1 }),
      );
      await scheduler.start();
      await scheduler.addJob('pg.report', 'interval', { seconds: 30, id: 'mine', args: ['x', 0] });
      expect((await scheduler.getJobs()).map((j) => j.id)).toEqual(['mine']);
      // A second change inside the hint window leaves a hint owed, sent as the store shuts down:
      // shutdown resolves only when that query has given its connection back too.
      await Promise.all([
        scheduler.addJob('pg.report', 'interval', { seconds: 30, id: 'also-mine', args: ['y', 0] }),
        scheduler.addJob('pg.report', 'interval', { seconds: 30, id: 'mine-too', args: ['z', 0] }),
      ]);
      await scheduler.shutdown();
      expect(pool.totalCount - pool.idleCount).toBe(0);
      expect((await pool.query('SELECT 1 AS one')).rows[0].one).toBe(1);
      expect(pool.totalCount - pool.idleCount).toBe(0);
    } finally {
      await pool.end();
    }
  });

  it('keeps other stores running through a server outage and resumes without a restart', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      const table = freshTable();
      const logger = recordingLogger();
      const memTicks: number[] = [];
      const pgTicks: number[] = [];
      registerTask('pg.outage', () => {
        pgTicks.push(Date.now());
      });
      const store = makeStore(table, { pollInterval: 30 });
      const scheduler = makeScheduler(store, {
        jobstores: { default: store, memory: new MemoryJobStore() },
        jobstoreRetryInterval: 0.5,
        logger,
      });
      await scheduler.start();
      await scheduler.addJob('pg.outage', 'interval', { seconds: 0.2, id: 'in-postgres' });
      await scheduler.addJob(() => memTicks.push(Date.now()), 'interval', {
        seconds: 0.2,
        id: 'in-memory',
        jobstore: 'memory',
      });
      await waitFor(() => pgTicks.length >= 2 && memTicks.length >= 2, 'both jobs running');

      await server.stop();
      const stoppedAt = Date.now();
      const memBefore = memTicks.length;
      const warningsBefore = logger.warnings.length;
      // The outage lasts while the scheduler retries the store a few times.
      await waitFor(
        () => memTicks.length >= memBefore + 6 && logger.warnings.length >= warningsBefore + 2,
        'the memory job running on during the outage',
      );
      expect(pgTicks.filter((t) => t > stoppedAt + 300)).toEqual([]);
      await server.start();
      const restartedAt = Date.now();

      await waitFor(
        () => pgTicks.filter((t) => t > restartedAt).length >= 2,
        'the Postgres job running again',
        8_000,
      );
      expect((await scheduler.getJobs()).map((j) => j.id).sort()).toEqual(['in-memory', 'in-postgres']);
      expect((await rows(table)).map((r) => r.id)).toEqual(['in-postgres']);
      expect(scheduler.running).toBe(true);

      // The wake-up hint connection came back too.
      await waitFor(
        async () =>
          Number(
            (
              await admin.query<{ n: string }>(
                'SELECT count(*) AS n FROM pg_stat_activity WHERE query = $1 AND datname = current_database()',
                [`LISTEN "${table}_wakeup"`],
              )
            ).rows[0].n,
          ) >= 1,
        'the LISTEN connection restored',
        8_000,
      );
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });
});

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const backendsOpened: PostgresBackend[] = [];
const backendPools: pg.Pool[] = [];

/** A backend on a pool of its own (as another process would have), on `table`. */
async function open(table: string): Promise<PostgresBackend> {
  const pool = new pg.Pool({ connectionString: server.connectionString, max: 3 });
  pool.on('error', () => undefined);
  backendPools.push(pool);
  const backend = new PostgresBackend({ pool, ownedPool: null, names: tableNames(table), logger: silent });
  await backend.open();
  backendsOpened.push(backend);
  return backend;
}

async function closeBackends(): Promise<void> {
  for (const backend of backendsOpened.splice(0)) await backend.close();
  for (const pool of backendPools.splice(0)) await pool.end();
}

describe('PostgresBackend', () => {
  afterEach(closeBackends);

  async function fill(table: string, n: number): Promise<void> {
    await admin.query(
      `INSERT INTO "${table}" (id, next_run_time, state)
       SELECT 'j' || lpad(i::text, 6, '0'), 1000 + i, '{}' FROM generate_series(1, $1::int) AS i`,
      [n],
    );
  }

  it('migrates once when several processes open a fresh table together', async () => {
    const table = freshTable();
    await Promise.all(Array.from({ length: 5 }, () => open(table)));
    const applied = await admin.query(`SELECT version, name FROM "${table}_migrations"`);
    expect(applied.rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it('refuses a schema newer than this code', async () => {
    const table = freshTable();
    await open(table);
    await admin.query(`INSERT INTO "${table}_migrations" (version, name) VALUES (99, 'future')`);
    const error = await open(table).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SchemaVersionError);
    expect(error).toMatchObject({ found: 99, supported: MIGRATIONS[MIGRATIONS.length - 1].version });
    expect(String(error)).toMatch(/schema version 99, newer than this tickwork knows/);
  });

  it("acquires rows written by hand, a new row's first acquisition having token 1", async () => {
    const table = freshTable();
    const backend = await open(table);
    await fill(table, 3);
    const acquired = await backend.acquire('me', 20_000, 60_000, 10);
    expect(acquired[0]).toMatchObject({ id: 'j000001', nextRunTime: 1001, token: 1 });
  });

  it('answers the next run time from the indexes', async () => {
    const table = freshTable();
    const backend = await open(table);
    await backend.insert({ id: 'early', nextRunTime: 100, state: '{}' });
    await backend.insert({ id: 'late', nextRunTime: 200, state: '{}' });
    await backend.insert({ id: 'paused', nextRunTime: null, state: '{}' });
    await backend.acquire('other', 150, 1_000, 1);
    await backend.acquire('another', 250, 900, 1);
    await fill(table, 5_000);
    await admin.query(`ANALYZE "${table}"`);
    const plan = await admin.query(`EXPLAIN ${nextRunTimeSql(tableNames(table)).replaceAll('$1', '250')}`);
    const text = plan.rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(text).not.toMatch(/Seq Scan/);
  });

  it('passes wake-up hints between backends, not to the sender', async () => {
    const table = freshTable();
    const a = await open(table);
    const b = await open(table);
    let wokeA = 0;
    let wokeB = 0;
    await a.listen(() => wokeA++);
    await b.listen(() => wokeB++);
    a.notify();
    await waitFor(() => wokeB === 1, 'the hint reaching b');
    b.notify();
    await waitFor(() => wokeA === 1, 'the hint reaching a');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect([wokeA, wokeB]).toEqual([1, 1]);
    await a.close();
    // Closed: no throw, no rejection.
    a.notify();
  });
});

let backendTable = '';
describeBackendSuite('PostgresBackend', {
  create: () => open((backendTable = freshTable())),
  peer: () => open(backendTable),
  async cleanup() {
    await closeBackends();
    if (backendTable === '') return;
    const n = tableNames(backendTable);
    backendTable = '';
    await admin.query(
      `DROP TABLE IF EXISTS ${n.jobs}, ${n.runs}, ${n.retries}, ${n.history}, ${n.migrations}`,
    );
  },
});

let suiteTable = '';
describeStoreSuite('PostgresJobStore', {
  persistent: true,
  create: () =>
    new PostgresJobStore({
      connectionString: server.connectionString,
      tableName: (suiteTable = freshTable()),
    }),
  reopen: () =>
    new PostgresJobStore({
      connectionString: server.connectionString,
      tableName: suiteTable,
    }),
  async cleanup() {
    const t = suiteTable;
    await admin.query(`DROP TABLE IF EXISTS "${t}", "${t}_runs", "${t}_migrations"`);
  },
});
