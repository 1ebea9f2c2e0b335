/**
 * PostgresBackend's run history and retries on a real, throwaway PostgreSQL server: claims
 * completed with their history row and retry, retries taken by concurrent processes, pauses and
 * removals cancelling retries (also while another statement holds the job row), history queries
 * and pruning served by indexes, and a schema of version 1 upgraded in place. Each test has a
 * table of its own.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/index.js';
import type { FinishedRunRow, RetryRow, RunRecordRow } from '../../src/stores/backend.js';
import {
  nextRunTimeSql,
  PostgresBackend,
  pruneRunsSql,
  runsQuery,
} from '../../src/stores/postgres/backend.js';
import { MIGRATIONS, migrate, TABLE_NAME_PATTERN, tableNames } from '../../src/stores/postgres/migrations.js';
import { type PostgresServer, startPostgres } from '../helpers/postgres-server.js';
import { waitFor } from '../helpers/wait.js';

let server: PostgresServer;
// Direct access to the tables, to set up rows and check what the backend wrote.
let admin: pg.Pool;

beforeAll(async () => {
  server = await startPostgres();
  admin = new pg.Pool({ connectionString: server.connectionString, max: 4 });
  admin.on('error', () => undefined);
});

afterAll(async () => {
  await admin?.end();
  await server?.destroy();
});

let tableCount = 0;
function freshTable(): string {
  tableCount += 1;
  // Mixed case: every name the backend derives must be quoted consistently.
  return `Hist_${process.pid}_${tableCount}`;
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const opened: PostgresBackend[] = [];
const pools: pg.Pool[] = [];

afterEach(async () => {
  for (const backend of opened.splice(0)) await backend.close();
  for (const pool of pools.splice(0)) await pool.end();
});

function newPool(): pg.Pool {
  const pool = new pg.Pool({ connectionString: server.connectionString, max: 3 });
  pool.on('error', () => undefined);
  pools.push(pool);
  return pool;
}

/** A backend on a pool of its own, as one scheduler process has. */
async function open(table: string): Promise<PostgresBackend> {
  const backend = new PostgresBackend({
    pool: newPool(),
    ownedPool: null,
    names: tableNames(table),
    logger: silent,
  });
  await backend.open();
  opened.push(backend);
  return backend;
}

async function count(table: string, where = 'true', values: unknown[] = []): Promise<number> {
  const result = await admin.query<{ n: string }>(
    `SELECT count(*) AS n FROM "${table}" WHERE ${where}`,
    values,
  );
  return Number(result.rows[0].n);
}

interface ClaimRow {
  job_id: string;
  run_time: string;
  attempt: number;
  scheduler_id: string;
  expires_at: string;
}

async function claims(table: string): Promise<Array<[string, number, number, string]>> {
  const result = await admin.query<ClaimRow>(
    `SELECT * FROM "${table}_runs" ORDER BY job_id, run_time, attempt`,
  );
  return result.rows.map((r) => [r.job_id, Number(r.run_time), r.attempt, r.scheduler_id]);
}

/** The waiting retries, by due time; `state` only where there is one. */
async function retries(table: string): Promise<RetryRow[]> {
  const result = await admin.query<{
    job_id: string;
    run_time: string;
    attempt: number;
    due_at: string;
    state: string | null;
  }>(`SELECT * FROM "${table}_retries" ORDER BY due_at, job_id, run_time, attempt`);
  return result.rows.map((r) => ({
    jobId: r.job_id,
    runTime: Number(r.run_time),
    attempt: r.attempt,
    dueAt: Number(r.due_at),
    ...(r.state === null ? {} : { state: r.state }),
  }));
}

/** Inserts a claim as `release` or `takeRetries` would have. */
async function claim(table: string, jobId: string, runTime: number, attempt = 1, owner = 'a'): Promise<void> {
  await admin.query(
    `INSERT INTO "${table}_runs" (job_id, run_time, attempt, scheduler_id, expires_at) VALUES ($1, $2, $3, $4, 10000)`,
    [jobId, runTime, attempt, owner],
  );
}

async function addRetry(table: string, retry: RetryRow): Promise<void> {
  await admin.query(
    `INSERT INTO "${table}_retries" (job_id, run_time, attempt, due_at, state) VALUES ($1, $2, $3, $4, $5)`,
    [retry.jobId, retry.runTime, retry.attempt, retry.dueAt, retry.state ?? null],
  );
}

/** Jobs j0000..j(n-1), due at 1000 + i. */
async function fillJobs(table: string, n: number): Promise<void> {
  await admin.query(
    `INSERT INTO "${table}" (id, next_run_time, state)
     SELECT 'j' || lpad(i::text, 4, '0'), 1000 + i, '{}' FROM generate_series(0, $1::int - 1) AS i`,
    [n],
  );
}

function record(jobId: string, finishedAt: number, fields: Partial<RunRecordRow> = {}): RunRecordRow {
  return {
    jobId,
    jobName: `name of ${jobId}`,
    scheduledRunTime: finishedAt - 5,
    startedAt: finishedAt - 3,
    finishedAt,
    outcome: 'success',
    error: null,
    retval: null,
    attempt: 1,
    schedulerId: 'a',
    ...fields,
  };
}

/** Writes history rows through claims and `completeRuns`, in order (one claim each). */
async function writeHistory(backend: PostgresBackend, table: string, records: RunRecordRow[]): Promise<void> {
  const runs: FinishedRunRow[] = [];
  for (const [i, rec] of records.entries()) {
    const runTime = 1_000_000 + i;
    await claim(table, rec.jobId, runTime);
    runs.push({ jobId: rec.jobId, runTime, attempt: 1, record: rec });
  }
  await backend.completeRuns(runs);
}

/** Server sessions waiting for a row lock on a statement naming `table`. */
async function lockWaiters(table: string): Promise<number> {
  const result = await admin.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_stat_activity
     WHERE wait_event_type = 'Lock' AND datname = current_database() AND query LIKE $1`,
    [`%${table}%`],
  );
  return Number(result.rows[0].n);
}

describe('PostgresBackend run history and retries', () => {
  it('derives names of at most 63 bytes, all distinct, from the longest table name', async () => {
    const table = `T${'x'.repeat(46)}`;
    expect(table).toMatch(TABLE_NAME_PATTERN);
    const names = Object.values(tableNames(table));
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(Buffer.byteLength(name.replaceAll('"', ''))).toBeLessThanOrEqual(63);
    await open(table);
    const made = await admin.query<{ relname: string }>(
      `SELECT relname FROM pg_class WHERE relname LIKE $1 ORDER BY relname`,
      [`${table}%`],
    );
    const expected = Object.entries(tableNames(table))
      .filter(([key]) => key !== 'channel')
      .map(([, name]) => name.replaceAll('"', ''));
    expect(made.rows.map((r) => r.relname)).toEqual(expect.arrayContaining(expected));
  });

  it('completes a claim once, with its history row and retry, and only the claim of that attempt', async () => {
    const table = freshTable();
    const backend = await open(table);
    await backend.insert({ id: 'x', nextRunTime: 1_000, state: '{}' });
    const [x] = await backend.acquire('a', 1_000, 5_000, 10);
    expect(
      await backend.release(
        'a',
        [{ id: 'x', token: x.token, nextRunTime: 2_000, remove: false, runTimes: [1_000] }],
        9_000,
      ),
    ).toEqual([[true]]);
    expect(await claims(table)).toEqual([['x', 1_000, 1, 'a']]);

    const failed = record('x', 1_010, {
      scheduledRunTime: 1_000,
      startedAt: 1_002,
      outcome: 'error',
      error: '{"name":"Error","message":"boom","stack":"Error: boom"}',
      schedulerId: 'a',
    });
    const retry = { jobId: 'x', runTime: 1_000, attempt: 2, dueAt: 1_500 };
    // Another attempt's claim is not this one: nothing is written, the claim stays.
    await backend.completeRuns([{ jobId: 'x', runTime: 1_000, attempt: 2, record: failed, retry }]);
    expect(await claims(table)).toEqual([['x', 1_000, 1, 'a']]);
    expect(await count(`${table}_history`)).toBe(0);
    expect(await retries(table)).toEqual([]);

    await backend.completeRuns([{ jobId: 'x', runTime: 1_000, attempt: 1, record: failed, retry }]);
    expect(await claims(table)).toEqual([]);
    expect(await backend.runs({ limit: 10 })).toEqual([failed]);
    expect(await retries(table)).toEqual([retry]);

    // Completed already (reported abandoned by another process, say): writes nothing.
    await backend.completeRuns([
      { jobId: 'x', runTime: 1_000, attempt: 1, record: { ...failed, outcome: 'abandoned' }, retry },
    ]);
    expect(await backend.runs({ limit: 10 })).toEqual([failed]);
    expect(await retries(table)).toEqual([retry]);

    // One claim named twice in a call is completed once, by its first entry.
    await claim(table, 'x', 3_000);
    await backend.completeRuns([
      { jobId: 'x', runTime: 3_000, attempt: 1, record: record('x', 3_010, { retval: '42' }) },
      { jobId: 'x', runTime: 3_000, attempt: 1, record: record('x', 3_010, { retval: '43' }) },
    ]);
    expect((await backend.runs({ limit: 10 })).map((r) => r.retval)).toEqual(['42', null]);

    // Without a record or a retry the claim just goes.
    await claim(table, 'x', 4_000);
    await backend.completeRuns([{ jobId: 'x', runTime: 4_000, attempt: 1 }]);
    expect(await claims(table)).toEqual([]);
    expect(await count(`${table}_history`)).toBe(2);
  });

  it('keeps a retry already waiting, adds none for a paused job and one with its state for a job that ended', async () => {
    const table = freshTable();
    const backend = await open(table);
    await backend.insert({ id: 'live', nextRunTime: 1_000, state: '{}' });
    await backend.insert({ id: 'paused', nextRunTime: null, state: '{}' });
    await backend.insert({ id: 'removed', nextRunTime: 1_000, state: '{}' });
    await addRetry(table, { jobId: 'live', runTime: 200, attempt: 2, dueAt: 999, state: '{"old":true}' });
    // 'ended' is a job whose trigger has ended: gone from the jobs table, its run still claimed.
    for (const id of ['live', 'paused', 'ended', 'removed']) await claim(table, id, 200);
    // Removing a job takes its claims: its run writes nothing.
    expect(await backend.remove('removed')).toBe(true);
    await backend.completeRuns(
      ['live', 'paused', 'ended', 'removed'].map((id) => ({
        jobId: id,
        runTime: 200,
        attempt: 1,
        record: record(id, 300, { outcome: 'error' }),
        retry: { jobId: id, runTime: 200, attempt: 2, dueAt: 400, state: `{"id":"${id}"}` },
      })),
    );
    expect(await claims(table)).toEqual([]);
    expect(await retries(table)).toEqual([
      { jobId: 'ended', runTime: 200, attempt: 2, dueAt: 400, state: '{"id":"ended"}' },
      { jobId: 'live', runTime: 200, attempt: 2, dueAt: 999, state: '{"old":true}' },
    ]);
    // The history is written all the same, later written first.
    expect((await backend.runs({ limit: 10 })).map((r) => r.jobId)).toEqual(['ended', 'paused', 'live']);
  });

  it('takes due retries by due time up to the limit, as claims of the taker that expire as abandoned', async () => {
    const table = freshTable();
    const backend = await open(table);
    for (const id of ['a', 'b', 'c'])
      await backend.insert({ id, nextRunTime: 5_000, state: `{"id":"${id}"}` });
    await backend.insert({ id: 'p', nextRunTime: null, state: '{}' });
    await addRetry(table, { jobId: 'a', runTime: 10, attempt: 2, dueAt: 300 });
    await addRetry(table, { jobId: 'b', runTime: 10, attempt: 3, dueAt: 100 });
    await addRetry(table, { jobId: 'c', runTime: 10, attempt: 2, dueAt: 200 });
    await addRetry(table, { jobId: 'a', runTime: 20, attempt: 2, dueAt: 900 });
    // A job that ended: its retry runs from the state it keeps (the job's own state wins while
    // the job is there: 'c' above has none in its retry).
    await addRetry(table, { jobId: 'ended', runTime: 10, attempt: 2, dueAt: 150, state: '{"id":"ended"}' });
    // Never taken: the job is paused; or gone without a state (dropped once due).
    await addRetry(table, { jobId: 'p', runTime: 10, attempt: 2, dueAt: 50, state: '{}' });
    await addRetry(table, { jobId: 'zz', runTime: 10, attempt: 2, dueAt: 50 });
    await addRetry(table, { jobId: 'yy', runTime: 10, attempt: 2, dueAt: 5_000 });

    expect(await backend.takeRetries('me', 99, 5_000, 10)).toEqual([]);
    expect((await retries(table)).map((r) => r.jobId)).toEqual(['p', 'b', 'ended', 'c', 'a', 'a', 'yy']);
    expect(await backend.takeRetries('me', 250, 5_000, 10)).toEqual([
      { row: { id: 'b', nextRunTime: 5_000, state: '{"id":"b"}' }, runTime: 10, attempt: 3, dueAt: 100 },
      {
        row: { id: 'ended', nextRunTime: null, state: '{"id":"ended"}' },
        runTime: 10,
        attempt: 2,
        dueAt: 150,
      },
      { row: { id: 'c', nextRunTime: 5_000, state: '{"id":"c"}' }, runTime: 10, attempt: 2, dueAt: 200 },
    ]);
    expect(await backend.takeRetries('me', 1_000, 6_000, 1)).toEqual([
      { row: { id: 'a', nextRunTime: 5_000, state: '{"id":"a"}' }, runTime: 10, attempt: 2, dueAt: 300 },
    ]);
    expect((await retries(table)).map((r) => [r.jobId, r.runTime])).toEqual([
      ['p', 10],
      ['a', 20],
      ['yy', 10],
    ]);
    expect(await claims(table)).toEqual([
      ['a', 10, 2, 'me'],
      ['b', 10, 3, 'me'],
      ['c', 10, 2, 'me'],
      ['ended', 10, 2, 'me'],
    ]);

    // The claims expire when the taker said: then they are reported, with their attempts.
    expect(await backend.takeAbandonedRuns(5_000, 9_000)).toEqual([]);
    const abandoned = await backend.takeAbandonedRuns(5_001, 9_000);
    expect(abandoned.sort((l, r) => (l.jobId < r.jobId ? -1 : 1))).toEqual([
      { jobId: 'b', runTime: 10, attempt: 3, schedulerId: 'me' },
      { jobId: 'c', runTime: 10, attempt: 2, schedulerId: 'me' },
      { jobId: 'ended', runTime: 10, attempt: 2, schedulerId: 'me' },
    ]);
    expect(await backend.takeAbandonedRuns(6_001, 9_000)).toEqual([
      { jobId: 'a', runTime: 10, attempt: 2, schedulerId: 'me' },
    ]);
    // A taken retry's claim is completed by its attempt.
    await backend.completeRuns([{ jobId: 'b', runTime: 10, attempt: 2 }]);
    expect(await count(`${table}_runs`, "job_id = 'b'")).toBe(1);
    await backend.completeRuns([
      { jobId: 'b', runTime: 10, attempt: 3, record: record('b', 6_000, { attempt: 3 }) },
    ]);
    expect(await count(`${table}_runs`, "job_id = 'b'")).toBe(0);
    expect((await backend.runs({ limit: 1 }))[0]).toMatchObject({ jobId: 'b', attempt: 3 });
  });

  it('leaves a retry waiting while its run time is claimed', async () => {
    const table = freshTable();
    const backend = await open(table);
    await backend.insert({ id: 'x', nextRunTime: 5_000, state: '{}' });
    await addRetry(table, { jobId: 'x', runTime: 10, attempt: 2, dueAt: 100 });
    // Run time 10 claimed again (its job was set back to it, say).
    await claim(table, 'x', 10, 1, 'other');
    expect(await backend.takeRetries('me', 1_000, 5_000, 10)).toEqual([]);
    expect(await retries(table)).toHaveLength(1);
    // Not work to look for: the next run time is the job's own.
    expect(await backend.nextRunTime(1_000)).toBe(5_000);
    await backend.completeRuns([{ jobId: 'x', runTime: 10, attempt: 1 }]);
    expect(await backend.nextRunTime(1_000)).toBe(100);
    expect(await backend.takeRetries('me', 1_000, 5_000, 10)).toEqual([
      { row: { id: 'x', nextRunTime: 5_000, state: '{}' }, runTime: 10, attempt: 2, dueAt: 100 },
    ]);
    expect(await claims(table)).toEqual([['x', 10, 2, 'me']]);
  });

  it('hands each due retry to exactly one of two processes taking them at once', async () => {
    const table = freshTable();
    const first = await open(table);
    const second = await open(table);
    const total = 300;
    await fillJobs(table, total);
    await admin.query(
      `INSERT INTO "${table}_retries" (job_id, run_time, attempt, due_at)
       SELECT id, next_run_time, 2, (next_run_time * 7) % 101 FROM "${table}"`,
    );
    const taken: string[] = [];
    const counts = { p1: 0, p2: 0 };
    // Three takers per process, each taking small batches until none is left.
    const taker = async (backend: PostgresBackend, owner: 'p1' | 'p2') => {
      for (;;) {
        const batch = await backend.takeRetries(owner, 1_000, 60_000, 7);
        if (batch.length === 0) return;
        counts[owner] += batch.length;
        for (const t of batch) taken.push(`${t.row.id}@${t.runTime}#${t.attempt}`);
      }
    };
    await Promise.all([
      ...[1, 2, 3].map(() => taker(first, 'p1')),
      ...[1, 2, 3].map(() => taker(second, 'p2')),
    ]);
    expect(taken).toHaveLength(total);
    expect(new Set(taken).size).toBe(total);
    expect(counts.p1 + counts.p2).toBe(total);
    expect(await count(`${table}_retries`)).toBe(0);
    expect(await count(`${table}_runs`)).toBe(total);
    expect(await count(`${table}_runs`, 'attempt = 2')).toBe(total);
    const owners = await admin.query<{ scheduler_id: string; n: string }>(
      `SELECT scheduler_id, count(*) AS n FROM "${table}_runs" GROUP BY scheduler_id`,
    );
    expect(Object.fromEntries(owners.rows.map((r) => [r.scheduler_id, Number(r.n)]))).toEqual(
      Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0)),
    );
  });

  it('counts the earliest waiting retry of a job not paused in the next run time, from the indexes', async () => {
    const table = freshTable();
    const backend = await open(table);
    await backend.insert({ id: 'x', nextRunTime: 10_000, state: '{}' });
    await backend.insert({ id: 'p', nextRunTime: null, state: '{}' });
    expect(await backend.nextRunTime(0)).toBe(10_000);
    await claim(table, 'x', 100);
    await backend.completeRuns([
      { jobId: 'x', runTime: 100, attempt: 1, retry: { jobId: 'x', runTime: 100, attempt: 2, dueAt: 700 } },
    ]);
    expect(await backend.nextRunTime(0)).toBe(700);
    // Retries of a paused job, or of no job and no state, are not work (they would wake the
    // scheduler forever).
    await addRetry(table, { jobId: 'p', runTime: 100, attempt: 2, dueAt: 300, state: '{}' });
    await addRetry(table, { jobId: 'gone', runTime: 100, attempt: 2, dueAt: 300 });
    expect(await backend.nextRunTime(0)).toBe(700);
    // The retry of a job that ended, with its state, is.
    await addRetry(table, { jobId: 'ended', runTime: 100, attempt: 2, dueAt: 650, state: '{}' });
    expect(await backend.nextRunTime(0)).toBe(650);
    await backend.takeRetries('me', 650, 900, 10);
    expect(await backend.nextRunTime(0)).toBe(700);
    // Leased by another scheduler: its retry still counts.
    await backend.update({ id: 'x', nextRunTime: 50, state: '{}' });
    await backend.acquire('other', 60, 20_000, 10);
    expect(await backend.nextRunTime(60)).toBe(700);

    await fillJobs(table, 5_000);
    await admin.query(
      `INSERT INTO "${table}_retries" (job_id, run_time, attempt, due_at)
       SELECT id, next_run_time, 2, next_run_time + 500 FROM "${table}" WHERE id LIKE 'j%'`,
    );
    // Runs going on: the retries' run times are not among them.
    await admin.query(
      `INSERT INTO "${table}_runs" (job_id, run_time, attempt, scheduler_id, expires_at)
       SELECT id, next_run_time - 1, 1, 'a', 99999 FROM "${table}" WHERE id LIKE 'j%'`,
    );
    await admin.query(`ANALYZE "${table}"; ANALYZE "${table}_retries"; ANALYZE "${table}_runs"`);
    expect(await backend.nextRunTime(0)).toBe(700);
    const plan = await admin.query(`EXPLAIN ${nextRunTimeSql(tableNames(table))}`, [250]);
    expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).not.toMatch(/Seq Scan/);
  });

  it('cancels waiting retries on pause and removal; removeAll keeps the history', async () => {
    const table = freshTable();
    const backend = await open(table);
    for (const id of ['x', 'y', 'z']) {
      await backend.insert({ id, nextRunTime: 5_000, state: '{}' });
      await addRetry(table, { jobId: id, runTime: 10, attempt: 2, dueAt: 100 });
      await claim(table, id, 20);
    }
    await writeHistory(backend, table, [record('x', 1), record('y', 2), record('z', 3)]);

    // A change that keeps the job scheduled keeps its retries.
    expect(await backend.update({ id: 'x', nextRunTime: 6_000, state: '{"v":2}' })).toBe(true);
    expect(await count(`${table}_retries`, "job_id = 'x'")).toBe(1);
    expect(await backend.update({ id: 'x', nextRunTime: null, state: '{"v":3}' })).toBe(true);
    expect(await backend.get('x')).toEqual({ id: 'x', nextRunTime: null, state: '{"v":3}' });
    expect(await count(`${table}_retries`, "job_id = 'x'")).toBe(0);
    // Resumed: the cancelled retry does not come back; the claim of a running run stays.
    expect(await backend.update({ id: 'x', nextRunTime: 6_000, state: '{}' })).toBe(true);
    expect(await count(`${table}_retries`, "job_id = 'x'")).toBe(0);
    expect(await count(`${table}_runs`, "job_id = 'x'")).toBe(1);
    expect(await backend.update({ id: 'nobody', nextRunTime: null, state: '{}' })).toBe(false);

    expect(await backend.remove('y')).toBe(true);
    expect(await count(`${table}_retries`, "job_id = 'y'")).toBe(0);
    expect(await count(`${table}_runs`, "job_id = 'y'")).toBe(0);
    expect(await backend.remove('y')).toBe(false);
    expect(await retries(table)).toEqual([{ jobId: 'z', runTime: 10, attempt: 2, dueAt: 100 }]);

    await backend.removeAll();
    expect(await backend.all()).toEqual([]);
    expect(await count(`${table}_retries`)).toBe(0);
    expect(await count(`${table}_runs`)).toBe(0);
    expect((await backend.runs({ limit: 10 })).map((r) => r.jobId)).toEqual(['z', 'y', 'x']);
  });

  it('adds no retry when a pause is under way, and a pause deletes a retry added while it waited', async () => {
    const table = freshTable();
    const backend = await open(table);
    await backend.insert({ id: 'x', nextRunTime: 5_000, state: '{}' });
    const retry = { jobId: 'x', runTime: 10, attempt: 2, dueAt: 100 };

    // Another process pausing the job holds its row: completeRuns waits, then adds no retry.
    await claim(table, 'x', 10);
    const pausing = await admin.connect();
    try {
      await pausing.query('BEGIN');
      await pausing.query(`UPDATE "${table}" SET next_run_time = NULL, token = token + 1 WHERE id = 'x'`);
      const completing = backend.completeRuns([
        { jobId: 'x', runTime: 10, attempt: 1, record: record('x', 50, { outcome: 'error' }), retry },
      ]);
      await waitFor(async () => (await lockWaiters(table)) > 0, 'completeRuns waiting for the job row');
      await pausing.query(`DELETE FROM "${table}_retries" WHERE job_id = 'x'`);
      await pausing.query('COMMIT');
      await completing;
    } finally {
      // Closed, not pooled: a failed step leaves no transaction holding the row.
      pausing.release(true);
    }
    expect(await retries(table)).toEqual([]);
    expect(await claims(table)).toEqual([]);
    expect(await count(`${table}_history`)).toBe(1);

    // Another process completing a run holds the job row: the pause waits for it, then deletes
    // the retry it added.
    await backend.update({ id: 'x', nextRunTime: 5_000, state: '{}' });
    const completing = await admin.connect();
    try {
      await completing.query('BEGIN');
      await completing.query(`SELECT 1 FROM "${table}" WHERE id = 'x' FOR SHARE`);
      const pausing = backend.update({ id: 'x', nextRunTime: null, state: '{}' });
      await waitFor(async () => (await lockWaiters(table)) > 0, 'the pause waiting for the job row');
      await completing.query(
        `INSERT INTO "${table}_retries" (job_id, run_time, attempt, due_at) VALUES ('x', 10, 2, 100)`,
      );
      await completing.query('COMMIT');
      expect(await pausing).toBe(true);
    } finally {
      // Closed, not pooled: a failed step leaves no transaction holding the row.
      completing.release(true);
    }
    expect(await retries(table)).toEqual([]);

    // The same for a removal.
    await backend.update({ id: 'x', nextRunTime: 5_000, state: '{}' });
    const other = await admin.connect();
    try {
      await other.query('BEGIN');
      await other.query(`SELECT 1 FROM "${table}" WHERE id = 'x' FOR SHARE`);
      const removing = backend.remove('x');
      await waitFor(async () => (await lockWaiters(table)) > 0, 'the removal waiting for the job row');
      await other.query(
        `INSERT INTO "${table}_retries" (job_id, run_time, attempt, due_at) VALUES ('x', 10, 2, 100)`,
      );
      await other.query(
        `INSERT INTO "${table}_runs" (job_id, run_time, attempt, scheduler_id, expires_at) VALUES ('x', 20, 1, 'a', 1)`,
      );
      await other.query('COMMIT');
      expect(await removing).toBe(true);
    } finally {
      // Closed, not pooled: a failed step leaves no transaction holding the row.
      other.release(true);
    }
    expect(await retries(table)).toEqual([]);
    expect(await claims(table)).toEqual([]);
  });

  it('returns history rows newest first, filtered by job, outcomes and an inclusive time range', async () => {
    const table = freshTable();
    const backend = await open(table);
    const rows = [
      record('a', 100),
      record('b', 200, { outcome: 'error', error: '{"name":"Error","message":"m","stack":null}' }),
      record('a', 300, { outcome: 'timeout', startedAt: 290 }),
      record('a', 300, { outcome: 'missed', startedAt: null, attempt: 2, schedulerId: 'b' }),
      record('b', 400, { retval: '{"ok":true}', jobName: 'renamed' }),
      record('c', 300, { outcome: 'abandoned', startedAt: null }),
    ];
    await writeHistory(backend, table, rows);
    const [a100, b200, a300t, a300m, b400, c300] = rows;
    // Ties of finish time: the later written first.
    expect(await backend.runs({ limit: 100 })).toEqual([b400, c300, a300m, a300t, b200, a100]);
    expect(await backend.runs({ limit: 2 })).toEqual([b400, c300]);
    expect(await backend.runs({ limit: 0 })).toEqual([]);
    expect(await backend.runs({ jobId: 'a', limit: 100 })).toEqual([a300m, a300t, a100]);
    expect(await backend.runs({ jobId: 'nobody', limit: 100 })).toEqual([]);
    expect(await backend.runs({ outcomes: ['error', 'timeout'], limit: 100 })).toEqual([a300t, b200]);
    expect(await backend.runs({ outcomes: [], limit: 100 })).toEqual([]);
    expect(await backend.runs({ since: 200, until: 300, limit: 100 })).toEqual([c300, a300m, a300t, b200]);
    expect(await backend.runs({ since: 301, limit: 100 })).toEqual([b400]);
    expect(await backend.runs({ until: 199, limit: 100 })).toEqual([a100]);
    expect(
      await backend.runs({ jobId: 'a', outcomes: ['success', 'missed'], since: 100, until: 300, limit: 1 }),
    ).toEqual([a300m]);
    expect(
      await backend.runs({ since: Number.NEGATIVE_INFINITY, until: Number.POSITIVE_INFINITY, limit: 100 }),
    ).toHaveLength(6);
    expect(await backend.runs({ limit: Number.POSITIVE_INFINITY })).toHaveLength(6);
  });

  it('prunes history by age, oldest first, in batches', async () => {
    const table = freshTable();
    const backend = await open(table);
    await writeHistory(
      backend,
      table,
      Array.from({ length: 25 }, (_, i) => record(['a', 'b', 'c'][i % 3], i + 1)),
    );
    expect(await backend.pruneRuns(11, Number.POSITIVE_INFINITY, 4)).toBe(4);
    const left = async () =>
      (await backend.runs({ limit: 100 })).map((r) => r.finishedAt).sort((l, r) => l - r);
    expect((await left())[0]).toBe(5);
    expect(await backend.pruneRuns(11, Number.POSITIVE_INFINITY, 4)).toBe(4);
    expect(await backend.pruneRuns(11, Number.POSITIVE_INFINITY, 4)).toBe(2);
    expect(await backend.pruneRuns(11, Number.POSITIVE_INFINITY, 4)).toBe(0);
    expect(await left()).toEqual(Array.from({ length: 15 }, (_, i) => i + 11));
    // No age limit, no count limit: nothing to do.
    expect(await backend.pruneRuns(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, 100)).toBe(0);
  });

  it('prunes each job beyond its newest rows, counting every row once, in batches', async () => {
    const table = freshTable();
    const backend = await open(table);
    // None of these jobs is in the jobs table: the history of removed jobs is pruned the same.
    const rows = [
      // a: 10 rows, two finished in the same millisecond (the later written is the newer).
      ...Array.from({ length: 9 }, (_, i) => record('a', 100 + i * 10)),
      record('a', 180, { retval: '"second at 180"' }),
      ...Array.from({ length: 3 }, (_, i) => record('b', 100 + i)),
      ...Array.from({ length: 7 }, (_, i) => record('c', 500 + i)),
    ];
    await writeHistory(backend, table, rows);
    const batches: number[] = [];
    for (;;) {
      const deleted = await backend.pruneRuns(Number.NEGATIVE_INFINITY, 4, 3);
      batches.push(deleted);
      if (deleted < 3) break;
    }
    expect(batches).toEqual([3, 3, 3, 0]);
    const kept = async (jobId: string) =>
      (await backend.runs({ jobId, limit: 100 })).map((r) => [r.finishedAt, r.retval]);
    expect(await kept('a')).toEqual([
      [180, '"second at 180"'],
      [180, null],
      [170, null],
      [160, null],
    ]);
    expect((await kept('b')).map(([t]) => t)).toEqual([102, 101, 100]);
    expect((await kept('c')).map(([t]) => t)).toEqual([506, 505, 504, 503]);

    // Both rules at once: a row both too old and beyond the count is deleted (and counted) once.
    // Too old (< 170): a@160, b@100..102; beyond the newest 2 at 170 or later: a@170, c@503, c@504.
    expect(await backend.pruneRuns(170, 2, 100)).toBe(7);
    expect((await kept('a')).map(([t]) => t)).toEqual([180, 180]);
    expect(await kept('b')).toEqual([]);
    expect((await kept('c')).map(([t]) => t)).toEqual([506, 505]);
    expect(await backend.pruneRuns(170, 0, 100)).toBe(4);
    expect(await count(`${table}_history`)).toBe(0);
  });

  it('queries and prunes the history through its indexes', async () => {
    const table = freshTable();
    const backend = await open(table);
    const h = `"${table}_history"`;
    await admin.query(
      `INSERT INTO ${h} (job_id, job_name, scheduled_run_time, started_at, finished_at, outcome, error,
         retval, attempt, scheduler_id)
       SELECT 'j' || (i % 200), 'name', i, i, i, 'success', NULL, NULL, 1, 'a'
       FROM generate_series(1, 20000) AS i`,
    );
    await admin.query(`ANALYZE ${h}`);
    const noSeqScan = async (text: string, values: unknown[]) => {
      const plan = await admin.query(`EXPLAIN ${text}`, values);
      const lines = plan.rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(lines).not.toMatch(/Seq Scan/);
    };
    const n = tableNames(table);
    for (const query of [
      { limit: 50 },
      { jobId: 'j7', limit: 50 },
      { jobId: 'j7', since: 1_000, until: 5_000, limit: 50 },
    ]) {
      const { text, values } = runsQuery(n, query);
      await noSeqScan(text, values);
    }
    await noSeqScan(pruneRunsSql(n), [10_000, 50, 1_000]);
    await noSeqScan(pruneRunsSql(n), [Number.MIN_SAFE_INTEGER, 50, 1_000]);
    await noSeqScan(pruneRunsSql(n), [10_000, null, 1_000]);
    // What the plans are for: 200 jobs, 100 rows each, half before 10,001.
    expect(await backend.pruneRuns(10_001, 20, 100_000)).toBe(10_000 + 200 * 30);
    expect(await count(`${table}_history`)).toBe(200 * 20);
  });

  it('upgrades a table of schema version 1 in place, keeping its jobs and claims', async () => {
    const table = freshTable();
    const names = tableNames(table);
    const pool = newPool();
    await migrate(
      pool,
      names,
      MIGRATIONS.filter((m) => m.version === 1),
    );
    await admin.query(
      `INSERT INTO "${table}" (id, next_run_time, state) VALUES ('x', 100, '{"v":1}'), ('p', NULL, '{}')`,
    );
    await admin.query(
      `INSERT INTO "${table}_runs" (job_id, run_time, scheduler_id, expires_at) VALUES ('x', 50, 'old', 10)`,
    );
    expect((await admin.query(`SELECT to_regclass($1) AS t`, [`"${table}_history"`])).rows[0].t).toBeNull();

    const backend = await open(table);
    const applied = await admin.query(`SELECT version FROM "${table}_migrations" ORDER BY version`);
    expect(applied.rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(MIGRATIONS.map((m) => m.version)).toContain(2);
    expect(await backend.all()).toEqual([
      { id: 'x', nextRunTime: 100, state: '{"v":1}' },
      { id: 'p', nextRunTime: null, state: '{}' },
    ]);
    // The old claim is a first attempt.
    expect(await backend.takeAbandonedRuns(11, 500)).toEqual([
      { jobId: 'x', runTime: 50, attempt: 1, schedulerId: 'old' },
    ]);
    await backend.completeRuns([
      {
        jobId: 'x',
        runTime: 50,
        attempt: 1,
        record: record('x', 60, { outcome: 'abandoned', startedAt: null }),
        retry: { jobId: 'x', runTime: 50, attempt: 2, dueAt: 70 },
      },
    ]);
    expect(await backend.nextRunTime(0)).toBe(70);
    expect((await backend.takeRetries('new', 80, 500, 10)).map((t) => [t.row.id, t.attempt])).toEqual([
      ['x', 2],
    ]);
    expect(await backend.runs({ limit: 10 })).toHaveLength(1);

    // Opened again: nothing left to apply.
    await open(table);
    expect(await count(`${table}_migrations`)).toBe(MIGRATIONS.length);
  });
});
