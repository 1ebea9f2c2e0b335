/**
 * The SQLite backend's run history and retries, called directly on a database file of each
 * test's own: a claim's history row and retry written only with the claim of that attempt,
 * retries taken once each and turned into claims (a retry of a job whose trigger ended running
 * from its own state), the next run time they add, cancelled when their job is paused or removed,
 * history queries and pruning, and a database of the first schema upgraded in place.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RetryRow, RunOutcomeName, RunRecordRow } from '../../src/stores/backend.js';
import { SqliteBackend, type SqliteDatabase, type SqliteOpen } from '../../src/stores/sqlite/backend.js';
import { loadSqliteDriver, type SqliteDriverName } from '../../src/stores/sqlite/drivers.js';
import { MIGRATIONS } from '../../src/stores/sqlite/migrations.js';

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
const TABLE = 'tickwork_jobs';
const FAR = 1e12;

it('runs on at least one driver here', () => {
  expect(drivers.length).toBeGreaterThan(0);
});

for (const driverName of drivers) {
  describe(`SqliteBackend run history and retries on ${driverName}`, () => {
    let dir: string;
    let path: string;
    let open: SqliteOpen;
    const backends: SqliteBackend[] = [];
    const databases: SqliteDatabase[] = [];

    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'tickwork-sqlite-history-'));
      path = join(dir, 'jobs.db');
      open = (await loadSqliteDriver(driverName)).open;
    });

    afterEach(async () => {
      for (const backend of backends.splice(0)) await backend.close();
      for (const db of databases.splice(0)) db.close();
      await rm(dir, { recursive: true, force: true });
    });

    async function backend(): Promise<SqliteBackend> {
      const b = new SqliteBackend(open, path, TABLE);
      await b.open();
      backends.push(b);
      return b;
    }

    /** A connection of its own, to look at the tables. */
    function raw(): SqliteDatabase {
      const db = open(path);
      databases.push(db);
      return db;
    }

    function waitingRetries(): RetryRow[] {
      const rows = raw()
        .prepare(
          `SELECT job_id, run_time, attempt, due_at, state FROM "${TABLE}_retries" ORDER BY job_id, run_time, attempt`,
        )
        .all() as Array<{
        job_id: string;
        run_time: number;
        attempt: number;
        due_at: number;
        state: string | null;
      }>;
      return rows.map((r) => ({
        jobId: r.job_id,
        runTime: r.run_time,
        attempt: r.attempt,
        dueAt: r.due_at,
        state: r.state,
      }));
    }

    /**
     * Makes `owner` claim `runTimes` of job `id` (attempt 1) the way a pass does: the job (added
     * when missing) is made due, acquired alone and released with those run times and `next`
     * (or removed).
     */
    async function fire(
      b: SqliteBackend,
      id: string,
      runTimes: number[],
      options: { owner?: string; next?: number | null; remove?: boolean; claimUntil?: number } = {},
    ): Promise<void> {
      const { owner = 'a', next = FAR, remove = false, claimUntil = FAR } = options;
      const existing = await b.get(id);
      if (existing === null) await b.insert({ id, nextRunTime: 1, state: `{"id":"${id}"}` });
      else await b.update({ ...existing, nextRunTime: 1 });
      const others = (await b.all()).map((r) => r.id).filter((other) => other !== id);
      const [row] = await b.acquire(owner, 1, FAR, 1, others);
      expect(row?.id).toBe(id);
      const [flags] = await b.release(
        owner,
        [{ id, token: row.token, nextRunTime: next, remove, runTimes }],
        claimUntil,
      );
      expect(flags).toEqual(runTimes.map(() => true));
    }

    function record(
      jobId: string,
      runTime: number,
      finishedAt: number,
      more: Partial<RunRecordRow> = {},
    ): RunRecordRow {
      return {
        jobId,
        jobName: `job ${jobId}`,
        scheduledRunTime: runTime,
        startedAt: runTime + 1,
        finishedAt,
        outcome: 'error',
        error: '{"name":"Error","message":"boom","stack":"Error: boom"}',
        retval: null,
        attempt: 1,
        schedulerId: 'a',
        ...more,
      };
    }

    /** A retry holding the state `fire` gives its job, or `state`. */
    const retry = (
      jobId: string,
      runTime: number,
      attempt: number,
      dueAt: number,
      state: string | null = `{"id":"${jobId}"}`,
    ): RetryRow => ({ jobId, runTime, attempt, dueAt, state });

    /** Fires each job once at `runTime` and completes it with a retry (attempt 2) due at its time. */
    async function withRetries(
      b: SqliteBackend,
      dueAt: Record<string, number>,
      runTime = 100,
    ): Promise<void> {
      for (const [id, due] of Object.entries(dueAt)) {
        await fire(b, id, [runTime]);
        await b.completeRuns([
          {
            jobId: id,
            runTime,
            attempt: 1,
            record: record(id, runTime, 150),
            retry: retry(id, runTime, 2, due),
          },
        ]);
      }
    }

    it('writes a claim’s history row and retry once, and only for the attempt claimed', async () => {
      const b = await backend();
      await fire(b, 'x', [100], { claimUntil: 500 });

      // Another attempt of the same run time: the claim stays, nothing is written.
      await b.completeRuns([
        {
          jobId: 'x',
          runTime: 100,
          attempt: 2,
          record: record('x', 100, 150),
          retry: retry('x', 100, 3, 300),
        },
      ]);
      expect(await b.runs({ limit: 10 })).toEqual([]);
      expect(waitingRetries()).toEqual([]);
      expect(await b.takeAbandonedRuns(501, 900)).toEqual([
        { jobId: 'x', runTime: 100, attempt: 1, schedulerId: 'a' },
      ]);

      await b.completeRuns([
        {
          jobId: 'x',
          runTime: 100,
          attempt: 1,
          record: record('x', 100, 150),
          retry: retry('x', 100, 2, 300),
        },
      ]);
      expect(await b.runs({ limit: 10 })).toEqual([record('x', 100, 150)]);
      expect(waitingRetries()).toEqual([retry('x', 100, 2, 300)]);

      // The same claim reported again (by another process, say): it is gone, nothing is written.
      await b.completeRuns([
        {
          jobId: 'x',
          runTime: 100,
          attempt: 1,
          record: record('x', 100, 160),
          retry: retry('x', 100, 2, 400),
        },
      ]);
      expect(await b.runs({ limit: 10 })).toEqual([record('x', 100, 150)]);
      expect(waitingRetries()).toEqual([retry('x', 100, 2, 300)]);
      expect(await b.takeAbandonedRuns(FAR + 1, FAR + 2)).toEqual([]);
    });

    it('writes each run of one call by its own claim, and a claim without record or retry just goes', async () => {
      const b = await backend();
      await fire(b, 'x', [100, 200]);
      await b.completeRuns([
        { jobId: 'x', runTime: 100, attempt: 1 },
        { jobId: 'x', runTime: 200, attempt: 1, record: record('x', 200, 250) },
        { jobId: 'x', runTime: 300, attempt: 1, record: record('x', 300, 350) },
      ]);
      expect(await b.runs({ limit: 10 })).toEqual([record('x', 200, 250)]);
      expect(waitingRetries()).toEqual([]);
      expect(await b.takeAbandonedRuns(FAR + 1, FAR + 2)).toEqual([]);
    });

    it('keeps a retry of the same attempt that is waiting already', async () => {
      const b = await backend();
      await withRetries(b, { x: 300 });
      // The same run time claimed again (its job set back to it), and failing again.
      await fire(b, 'x', [100]);
      await b.completeRuns([
        {
          jobId: 'x',
          runTime: 100,
          attempt: 1,
          record: record('x', 100, 170),
          retry: retry('x', 100, 2, 999),
        },
      ]);
      expect(waitingRetries()).toEqual([retry('x', 100, 2, 300)]);
      expect((await b.runs({ limit: 10 })).map((r) => r.finishedAt)).toEqual([170, 150]);
    });

    it('writes no retry for a paused job, and nothing for a claim removed with its job', async () => {
      const b = await backend();
      const done = (id: string) => ({
        jobId: id,
        runTime: 100,
        attempt: 1,
        record: record(id, 100, 150),
        retry: retry(id, 100, 2, 300),
      });

      // Paused while it ran: history, no retry.
      await fire(b, 'paused', [100]);
      await b.update({ id: 'paused', nextRunTime: null, state: '{}' });
      // Removed while it ran: its claim went with it, so nothing is written.
      await fire(b, 'removed', [100]);
      expect(await b.remove('removed')).toBe(true);

      await b.completeRuns([done('paused'), done('removed')]);
      expect(waitingRetries()).toEqual([]);
      expect((await b.runs({ limit: 10 })).map((r) => r.jobId)).toEqual(['paused']);
      expect(await b.takeAbandonedRuns(FAR + 1, FAR + 2)).toEqual([]);
      expect(await b.takeRetries('s', 1000, 2000, 10)).toEqual([]);
    });

    it('retries the last run of a job its release removed, from the retry’s state', async () => {
      const b = await backend();
      // Its last run: the job is removed by the pass that claimed it.
      await fire(b, 'last', [100], { remove: true });
      expect(await b.get('last')).toBeNull();
      await b.completeRuns([
        {
          jobId: 'last',
          runTime: 100,
          attempt: 1,
          record: record('last', 100, 150),
          retry: retry('last', 100, 2, 300),
        },
      ]);
      expect(waitingRetries()).toEqual([retry('last', 100, 2, 300)]);
      expect((await b.runs({ limit: 10 })).map((r) => r.jobId)).toEqual(['last']);
      expect(await b.nextRunTime(0)).toBe(300);

      expect(await b.takeRetries('s', 299, 1000, 10)).toEqual([]);
      expect(await b.takeRetries('s', 300, 1000, 10)).toEqual([
        {
          row: { id: 'last', nextRunTime: null, state: '{"id":"last"}' },
          runTime: 100,
          attempt: 2,
          dueAt: 300,
        },
      ]);
      expect(waitingRetries()).toEqual([]);
      expect(await b.nextRunTime(0)).toBeNull();
      expect(await b.takeAbandonedRuns(1001, 2000)).toEqual([
        { jobId: 'last', runTime: 100, attempt: 2, schedulerId: 's' },
      ]);

      // The taken attempt fails again: its retry is written, and taken the same way.
      await b.completeRuns([
        {
          jobId: 'last',
          runTime: 100,
          attempt: 2,
          record: record('last', 100, 1100, { attempt: 2, schedulerId: 's' }),
          retry: retry('last', 100, 3, 1200),
        },
      ]);
      expect(waitingRetries()).toEqual([retry('last', 100, 3, 1200)]);
      expect(await b.takeRetries('t', 1200, 3000, 10)).toEqual([
        {
          row: { id: 'last', nextRunTime: null, state: '{"id":"last"}' },
          runTime: 100,
          attempt: 3,
          dueAt: 1200,
        },
      ]);
      expect((await b.runs({ limit: 10 })).map((r) => r.attempt)).toEqual([2, 1]);
    });

    it('drops a due retry of a job that is gone when it holds no state', async () => {
      const b = await backend();
      await fire(b, 'bare', [100], { remove: true });
      await fire(b, 'kept', [100], { remove: true });
      await b.completeRuns([
        { jobId: 'bare', runTime: 100, attempt: 1, retry: retry('bare', 100, 2, 300, null) },
        { jobId: 'kept', runTime: 100, attempt: 1, retry: retry('kept', 100, 2, 400) },
      ]);
      expect(waitingRetries()).toEqual([retry('bare', 100, 2, 300, null), retry('kept', 100, 2, 400)]);
      // It is no work: only the retry with a state counts.
      expect(await b.nextRunTime(0)).toBe(400);

      // Not due yet: it stays.
      expect(await b.takeRetries('s', 200, 1000, 10)).toEqual([]);
      expect(waitingRetries()).toEqual([retry('bare', 100, 2, 300, null), retry('kept', 100, 2, 400)]);
      // Due: it goes, without using up the limit.
      expect(await b.takeRetries('s', 500, 1000, 1)).toEqual([
        {
          row: { id: 'kept', nextRunTime: null, state: '{"id":"kept"}' },
          runTime: 100,
          attempt: 2,
          dueAt: 400,
        },
      ]);
      expect(waitingRetries()).toEqual([]);
      expect((await b.takeAbandonedRuns(1001, 2000)).map((c) => c.jobId)).toEqual(['kept']);
    });

    it('takes each due retry once, earliest first, up to the limit, as a claim of the taker', async () => {
      const b = await backend();
      await withRetries(b, { a: 300, b: 250, c: 200, d: 900 });

      expect(await b.takeRetries('s1', 260, 1000, 1)).toEqual([
        { row: { id: 'c', nextRunTime: FAR, state: '{"id":"c"}' }, runTime: 100, attempt: 2, dueAt: 200 },
      ]);
      expect(await b.takeRetries('s2', 260, 1000, 10)).toEqual([
        { row: { id: 'b', nextRunTime: FAR, state: '{"id":"b"}' }, runTime: 100, attempt: 2, dueAt: 250 },
      ]);
      expect(await b.takeRetries('s3', 260, 1000, 10)).toEqual([]);
      expect((await b.takeRetries('s3', 300, 1000, 10)).map((t) => t.row.id)).toEqual(['a']);
      expect(waitingRetries()).toEqual([retry('d', 100, 2, 900)]);

      // Each claim carries its attempt, and is reported once it expires.
      expect(await b.takeAbandonedRuns(999, 2000)).toEqual([]);
      const abandoned = await b.takeAbandonedRuns(1001, 2000);
      expect(abandoned.sort((x, y) => (x.jobId < y.jobId ? -1 : 1))).toEqual([
        { jobId: 'a', runTime: 100, attempt: 2, schedulerId: 's3' },
        { jobId: 'b', runTime: 100, attempt: 2, schedulerId: 's2' },
        { jobId: 'c', runTime: 100, attempt: 2, schedulerId: 's1' },
      ]);

      // Completing the taken attempt: the first attempt's report writes nothing now.
      await b.completeRuns([{ jobId: 'b', runTime: 100, attempt: 1, record: record('b', 100, 1) }]);
      await b.completeRuns([
        {
          jobId: 'b',
          runTime: 100,
          attempt: 2,
          record: record('b', 100, 1500, { attempt: 2, schedulerId: 's2' }),
          retry: retry('b', 100, 3, 1600),
        },
      ]);
      expect((await b.runs({ jobId: 'b', limit: 10 })).map((r) => [r.finishedAt, r.attempt])).toEqual([
        [1500, 2],
        [150, 1],
      ]);
      expect(waitingRetries()).toEqual([retry('b', 100, 3, 1600), retry('d', 100, 2, 900)]);
    });

    it('lets two processes taking retries together take each once', async () => {
      const one = await backend();
      const two = await backend();
      const due = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`j${i}`, 200 + i]));
      await withRetries(one, due);
      const [a, b] = await Promise.all([
        one.takeRetries('one', 1000, 5000, 15),
        two.takeRetries('two', 1000, 5000, 15),
      ]);
      const taken = [...a, ...b].map((t) => t.row.id).sort();
      expect(taken).toEqual(Object.keys(due).sort());
      expect(a.length + b.length).toBe(20);
      expect(waitingRetries()).toEqual([]);
    });

    it('leaves a retry waiting while its run time is claimed, and takes it once the claim goes', async () => {
      const b = await backend();
      await withRetries(b, { x: 300 });
      // The job set back to the same run time and claimed again (attempt 1) before the retry.
      await fire(b, 'x', [100], { claimUntil: 700 });
      expect(await b.takeRetries('s', 400, 1000, 10)).toEqual([]);
      expect(waitingRetries()).toEqual([retry('x', 100, 2, 300)]);
      // Not before the claim may go.
      expect(await b.nextRunTime(400)).toBe(700);

      await b.completeRuns([{ jobId: 'x', runTime: 100, attempt: 1 }]);
      expect(await b.nextRunTime(400)).toBe(300);
      expect((await b.takeRetries('s', 400, 1000, 10)).map((t) => [t.row.id, t.attempt])).toEqual([['x', 2]]);
    });

    it('does not let a retry waiting for its claim use up the limit', async () => {
      const b = await backend();
      await withRetries(b, { x: 300, y: 350 });
      await fire(b, 'x', [100]);
      expect((await b.takeRetries('s', 400, 1000, 1)).map((t) => t.row.id)).toEqual(['y']);
      expect(waitingRetries()).toEqual([retry('x', 100, 2, 300)]);
    });

    it('counts the earliest waiting retry of a job not paused in the next run time', async () => {
      const b = await backend();
      await b.insert({ id: 'later', nextRunTime: 5000, state: '{}' });
      expect(await b.nextRunTime(100)).toBe(5000);

      await withRetries(b, { x: 400 });
      expect(await b.nextRunTime(100)).toBe(400);
      await withRetries(b, { y: 300 });
      expect(await b.nextRunTime(100)).toBe(300);
      // A due retry is work now.
      expect(await b.nextRunTime(350)).toBe(300);

      // A job paused by its pass keeps its retry, which is not work while it is paused.
      await fire(b, 'y', [200], { next: null });
      expect(await b.nextRunTime(100)).toBe(400);
      expect(await b.takeRetries('s', 1000, 2000, 10)).toEqual([
        { row: { id: 'x', nextRunTime: FAR, state: '{"id":"x"}' }, runTime: 100, attempt: 2, dueAt: 400 },
      ]);
      expect(await b.nextRunTime(100)).toBe(5000);
    });

    it('cancels a job’s waiting retries when it is paused or removed, and all of them with removeAll', async () => {
      const b = await backend();
      await withRetries(b, { x: 300, y: 300, z: 300 });

      // Rescheduled, not paused: the retry stays.
      expect(await b.update({ id: 'x', nextRunTime: 7000, state: '{}' })).toBe(true);
      expect(waitingRetries().map((r) => r.jobId)).toEqual(['x', 'y', 'z']);
      expect(await b.update({ id: 'x', nextRunTime: null, state: '{}' })).toBe(true);
      expect(waitingRetries().map((r) => r.jobId)).toEqual(['y', 'z']);
      // Resumed, it does not get it back.
      await b.update({ id: 'x', nextRunTime: 7000, state: '{}' });
      expect(waitingRetries().map((r) => r.jobId)).toEqual(['y', 'z']);

      expect(await b.remove('y')).toBe(true);
      expect(waitingRetries().map((r) => r.jobId)).toEqual(['z']);
      // Removed by the pass of its last run: its trigger ended, and its waiting retry still runs.
      await withRetries(b, { v: 300 });
      await fire(b, 'v', [200], { remove: true });
      expect(waitingRetries().map((r) => r.jobId)).toEqual(['v', 'z']);
      // A job added again under an id that remove() removed starts with no retry.
      await b.insert({ id: 'y', nextRunTime: 7000, state: '{}' });
      expect(await b.takeRetries('s', 1000, 2000, 10)).toEqual([
        { row: { id: 'v', nextRunTime: null, state: '{"id":"v"}' }, runTime: 100, attempt: 2, dueAt: 300 },
        { row: { id: 'z', nextRunTime: FAR, state: '{"id":"z"}' }, runTime: 100, attempt: 2, dueAt: 300 },
      ]);

      await withRetries(b, { w: 300 }, 200);
      await fire(b, 'w', [400]);
      await b.removeAll();
      expect(waitingRetries()).toEqual([]);
      expect(await b.takeAbandonedRuns(FAR + 1, FAR + 2)).toEqual([]);
      expect(await b.nextRunTime(0)).toBeNull();
      // The history stays.
      expect((await b.runs({ limit: 10 })).map((r) => r.jobId).sort()).toEqual(['v', 'w', 'x', 'y', 'z']);
    });

    it('returns history newest first (ties: the later written first), filtered', async () => {
      const b = await backend();
      const rows: Array<[string, number, number, RunOutcomeName]> = [
        ['a', 100, 1000, 'success'],
        ['a', 101, 2000, 'error'],
        ['b', 100, 2000, 'success'],
        ['b', 101, 3000, 'timeout'],
        ['a', 102, 500, 'missed'],
      ];
      await fire(b, 'a', [100, 101, 102]);
      await fire(b, 'b', [100, 101]);
      for (const [jobId, runTime, finishedAt, outcome] of rows) {
        await b.completeRuns([
          { jobId, runTime, attempt: 1, record: record(jobId, runTime, finishedAt, { outcome }) },
        ]);
      }
      const key = (r: RunRecordRow) => `${r.jobId}${r.scheduledRunTime}`;

      expect((await b.runs({ limit: 10 })).map(key)).toEqual(['b101', 'b100', 'a101', 'a100', 'a102']);
      expect((await b.runs({ limit: 2 })).map(key)).toEqual(['b101', 'b100']);
      expect((await b.runs({ jobId: 'a', limit: 10 })).map(key)).toEqual(['a101', 'a100', 'a102']);
      expect((await b.runs({ jobId: 'nobody', limit: 10 })).map(key)).toEqual([]);
      expect((await b.runs({ outcomes: ['error', 'timeout'], limit: 10 })).map(key)).toEqual([
        'b101',
        'a101',
      ]);
      expect((await b.runs({ outcomes: [], limit: 10 })).map(key)).toEqual([]);
      expect((await b.runs({ since: 1000, until: 2000, limit: 10 })).map(key)).toEqual([
        'b100',
        'a101',
        'a100',
      ]);
      expect((await b.runs({ since: 2001, limit: 10 })).map(key)).toEqual(['b101']);
      expect((await b.runs({ until: 999, limit: 10 })).map(key)).toEqual(['a102']);
      expect(
        (
          await b.runs({ jobId: 'a', outcomes: ['success', 'missed'], since: 500, until: 1000, limit: 1 })
        ).map(key),
      ).toEqual(['a100']);
      expect(await b.runs({ limit: 0 })).toEqual([]);

      // Every field comes back as written.
      const full = record('b', 101, 3000, {
        outcome: 'timeout',
        startedAt: null,
        error: null,
        retval: '{"n":1}',
        attempt: 3,
        schedulerId: 'other',
      });
      await fire(b, 'b', [101]);
      await b.completeRuns([{ jobId: 'b', runTime: 101, attempt: 1, record: full }]);
      expect((await b.runs({ jobId: 'b', limit: 1 }))[0]).toEqual(full);
    });

    /** Writes history rows of (job, finishedAt), in order, each under a run time of its own. */
    async function writeHistory(b: SqliteBackend, rows: Array<[string, number]>): Promise<void> {
      for (const [i, [jobId, finishedAt]] of rows.entries()) {
        await fire(b, jobId, [i]);
        await b.completeRuns([{ jobId, runTime: i, attempt: 1, record: record(jobId, i, finishedAt) }]);
      }
    }

    const kept = async (b: SqliteBackend) =>
      (await b.runs({ limit: 100 })).map((r) => `${r.jobId}${r.scheduledRunTime}@${r.finishedAt}`);

    it('prunes history older than a time, a batch at a time', async () => {
      const b = await backend();
      await writeHistory(b, [
        ['a', 100],
        ['b', 200],
        ['a', 300],
        ['b', 400],
        ['a', 500],
      ]);
      expect(await b.pruneRuns(400, 1000, 2)).toBe(2);
      expect(await kept(b)).toEqual(['a4@500', 'b3@400', 'a2@300']);
      expect(await b.pruneRuns(400, 1000, 2)).toBe(1);
      expect(await b.pruneRuns(400, 1000, 2)).toBe(0);
      expect(await kept(b)).toEqual(['a4@500', 'b3@400']);
    });

    it('prunes each job’s history beyond its newest rows (ties: the later written kept), a batch at a time', async () => {
      const b = await backend();
      await writeHistory(b, [
        ['a', 10],
        ['a', 20],
        ['b', 15],
        ['a', 30],
        ['a', 30],
        ['b', 25],
        ['a', 40],
      ]);
      expect(await b.pruneRuns(0, 2, 2)).toBe(2);
      expect(await b.pruneRuns(0, 2, 2)).toBe(1);
      expect(await b.pruneRuns(0, 2, 2)).toBe(0);
      expect(await kept(b)).toEqual(['a6@40', 'a4@30', 'b5@25', 'b2@15']);

      // Both rules in one call: b's old row by age, then a's row beyond its newest one.
      expect(await b.pruneRuns(20, 1, 10)).toBe(2);
      expect(await kept(b)).toEqual(['a6@40', 'b5@25']);
      // No rank limit: only the age counts.
      expect(await b.pruneRuns(30, Number.POSITIVE_INFINITY, 10)).toBe(1);
      expect(await kept(b)).toEqual(['a6@40']);
    });

    it('upgrades a database of the first schema in place, keeping its jobs and claims', async () => {
      const names = {
        jobs: `"${TABLE}"`,
        runs: `"${TABLE}_runs"`,
        history: `"${TABLE}_history"`,
        retries: `"${TABLE}_retries"`,
        prefix: TABLE,
      };
      const old = open(path);
      old.exec(MIGRATIONS[0].sql(names));
      old.exec(
        `CREATE TABLE "${TABLE}_migrations" (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
      );
      old.prepare(`INSERT INTO "${TABLE}_migrations" VALUES (1, ?, 0)`).run(MIGRATIONS[0].name);
      old
        .prepare(`INSERT INTO "${TABLE}" (id, next_run_time, state) VALUES ('x', 5000, '{"kept":true}')`)
        .run();
      old
        .prepare(
          `INSERT INTO "${TABLE}_runs" (job_id, run_time, scheduler_id, expires_at) VALUES ('x', 100, 'old', 50)`,
        )
        .run();
      old.close();

      const b = await backend();
      expect(await b.get('x')).toEqual({ id: 'x', nextRunTime: 5000, state: '{"kept":true}' });
      expect(await b.takeAbandonedRuns(60, 900)).toEqual([
        { jobId: 'x', runTime: 100, attempt: 1, schedulerId: 'old' },
      ]);
      const versions = raw()
        .prepare(`SELECT version FROM "${TABLE}_migrations" ORDER BY version`)
        .all() as Array<{ version: number }>;
      expect(versions.map((v) => v.version)).toEqual(MIGRATIONS.map((m) => m.version));
      const objects = raw()
        .prepare(`SELECT type, name FROM sqlite_master WHERE name LIKE '${TABLE}_%' ORDER BY name`)
        .all() as Array<{ type: string; name: string }>;
      expect(objects).toEqual(
        expect.arrayContaining([
          { type: 'table', name: `${TABLE}_history` },
          { type: 'index', name: `${TABLE}_history_finished_at` },
          { type: 'index', name: `${TABLE}_history_job_id_finished_at` },
          { type: 'table', name: `${TABLE}_retries` },
          { type: 'index', name: `${TABLE}_retries_due_at` },
        ]),
      );

      // The old claim completes into the new tables.
      await b.completeRuns([
        {
          jobId: 'x',
          runTime: 100,
          attempt: 1,
          record: record('x', 100, 950),
          retry: retry('x', 100, 2, 1000),
        },
      ]);
      expect(await b.runs({ limit: 10 })).toEqual([record('x', 100, 950)]);
      expect(waitingRetries()).toEqual([retry('x', 100, 2, 1000)]);

      // Opened again, nothing is applied twice.
      await b.close();
      const again = await backend();
      expect(await again.runs({ limit: 10 })).toEqual([record('x', 100, 950)]);
    });

    it('has indexes that serve history queries and pruning without a sort', async () => {
      await backend();
      const db = raw();
      const plan = (sql: string) =>
        (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>)
          .map((r) => r.detail)
          .join('\n');
      const history = `"${TABLE}_history"`;
      const newest = plan(`SELECT * FROM ${history} ORDER BY finished_at DESC, id DESC LIMIT 10`);
      expect(newest).toMatch(/USING INDEX tickwork_jobs_history_finished_at/);
      const ofJob = plan(
        `SELECT * FROM ${history} WHERE job_id = 'a' ORDER BY finished_at DESC, id DESC LIMIT 10`,
      );
      expect(ofJob).toMatch(/USING INDEX tickwork_jobs_history_job_id_finished_at/);
      const old = plan(`SELECT id FROM ${history} WHERE finished_at < 5 ORDER BY finished_at, id LIMIT 10`);
      expect(old).toMatch(/USING COVERING INDEX tickwork_jobs_history_finished_at/);
      for (const p of [newest, ofJob, old]) expect(p).not.toMatch(/TEMP B-TREE/);
    });
  });
}
