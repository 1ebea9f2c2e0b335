/**
 * The SQLite backend, on any of the drivers of drivers.ts (better-sqlite3, `node:sqlite`,
 * `bun:sqlite`). Several processes may share the file: WAL mode lets readers go on beside the one
 * writer, and every change that spans rows is one `BEGIN IMMEDIATE` transaction. The drivers are
 * synchronous, so a lock held by another process (a backup, the `sqlite3` shell, a long
 * transaction) must not be waited for inside the driver: its busy timeout is a few milliseconds,
 * and a call that finds the file locked is tried again after an asynchronous, growing pause, so
 * the event loop keeps turning while the lock is held.
 *
 * Over 400 lines because it implements the whole `StoreBackend` contract (jobs, leases, run claims,
 * history, retries, hints) for one database, with its prepared statements beside the methods
 * that run them; the migrations and the drivers have files of their own.
 */
import { statSync } from 'node:fs';
import { SchemaVersionError } from '../../errors.js';
import { clock } from '../../time/clock.js';
import type {
  AcquiredRow,
  FinishedRunRow,
  QueueRunResult,
  ReleaseRow,
  RetryRow,
  RunClaim,
  RunKey,
  RunOutcomeName,
  RunQueryRow,
  RunRecordRow,
  StoreBackend,
  TakenRetry,
} from '../backend.js';
import type { JobRow } from '../state.js';
import { MIGRATIONS, type SqliteNames } from './migrations.js';

/** The parts of a better-sqlite3 statement this backend uses. */
export interface SqliteStatement {
  run(...params: unknown[]): { changes: number };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

/** The parts of a better-sqlite3 transaction function this backend uses. */
export interface SqliteTransaction<A extends unknown[], R> {
  (...args: A): R;
  immediate(...args: A): R;
}

/** The parts of a better-sqlite3 database this backend uses (the other drivers are wrapped to it). */
export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement;
  exec(sql: string): unknown;
  transaction<A extends unknown[], R>(fn: (...args: A) => R): SqliteTransaction<A, R>;
  close(): unknown;
}

/** Opens a database file with one driver. */
export type SqliteOpen = (path: string) => SqliteDatabase;

interface JobRecord {
  id: string;
  next_run_time: number | null;
  state: string;
}

/** Longest time one driver call may wait for a lock, blocking the event loop (ms). */
export const BUSY_TIMEOUT_MS = 5;
/** How long a call keeps trying a locked file before it fails (ms of pauses). */
export const LOCKED_GIVE_UP_MS = 10_000;
const FIRST_PAUSE_MS = 5;
const MAX_PAUSE_MS = 200;

function isBusy(error: unknown): boolean {
  const { code, errcode } = (error ?? {}) as { code?: unknown; errcode?: unknown };
  // better-sqlite3 and bun:sqlite name the code; node:sqlite gives SQLite's number (5 busy, 6
  // locked, with extended codes in the high bits).
  if (typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')))
    return true;
  return typeof errcode === 'number' && ((errcode & 0xff) === 5 || (errcode & 0xff) === 6);
}

const pause = (ms: number) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms));

/**
 * Runs `call` (one statement or one transaction, which SQLite undoes whole when it fails), again
 * after a pause while the file is locked, for at most `LOCKED_GIVE_UP_MS` of pauses.
 */
async function whenUnlocked<T>(call: () => T): Promise<T> {
  let waited = 0;
  let wait = FIRST_PAUSE_MS;
  for (;;) {
    try {
      return call();
    } catch (error) {
      if (!isBusy(error) || waited >= LOCKED_GIVE_UP_MS) throw error;
    }
    await pause(wait);
    waited += wait;
    wait = Math.min(wait * 2, MAX_PAUSE_MS);
  }
}

interface HistoryRecord {
  job_id: string;
  job_name: string;
  scheduled_run_time: number;
  started_at: number | null;
  finished_at: number;
  outcome: RunOutcomeName;
  error: string | null;
  retval: string | null;
  attempt: number;
  scheduler_id: string;
}

interface ClaimRecord {
  job_id: string;
  run_time: number;
  attempt: number;
  scheduler_id: string;
}

/**
 * A retry due to be taken: its job's row (`next_run_time` null when the job is gone, the retry
 * then running from its own state), run time and attempt.
 */
interface TakenRecord extends JobRecord {
  run_time: number;
  attempt: number;
  due_at: number;
}

const jobRowOf = (r: JobRecord): JobRow => ({ id: r.id, nextRunTime: r.next_run_time, state: r.state });

const runClaimOf = (r: ClaimRecord): RunClaim => ({
  jobId: r.job_id,
  runTime: r.run_time,
  attempt: r.attempt,
  schedulerId: r.scheduler_id,
});

const takenRetryOf = (r: TakenRecord): TakenRetry => ({
  row: jobRowOf(r),
  runTime: r.run_time,
  attempt: r.attempt,
  dueAt: r.due_at,
});

const runRecordOf = (r: HistoryRecord): RunRecordRow => ({
  jobId: r.job_id,
  jobName: r.job_name,
  scheduledRunTime: r.scheduled_run_time,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  outcome: r.outcome,
  error: r.error,
  retval: r.retval,
  attempt: r.attempt,
  schedulerId: r.scheduler_id,
});

function byRunTimeThenId(a: JobRow, b: JobRow): number {
  return (a.nextRunTime as number) - (b.nextRunTime as number) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function prepareStatements(db: SqliteDatabase, { jobs, runs, history, retries }: SqliteNames) {
  return {
    get: db.prepare(`SELECT id, next_run_time, state FROM ${jobs} WHERE id = ?`),
    all: db.prepare(
      `SELECT id, next_run_time, state FROM ${jobs} ORDER BY next_run_time IS NULL, next_run_time, id`,
    ),
    due: db.prepare(
      `SELECT id, next_run_time, state FROM ${jobs} WHERE next_run_time <= ? ORDER BY next_run_time, id`,
    ),
    // Due jobs under someone's lease are not ready before the lease ends; a lease ending at @now
    // is over, as in acquire.
    nextDue: db.prepare(
      `SELECT min(CASE WHEN acquired_until > @now THEN max(next_run_time, acquired_until) ELSE next_run_time END) AS t
       FROM ${jobs} WHERE next_run_time <= @now`,
    ),
    nextLater: db.prepare(`SELECT min(next_run_time) AS t FROM ${jobs} WHERE next_run_time > ?`),
    // Retries of jobs not paused, or of jobs gone that hold a state; one whose run time is claimed
    // (by an earlier attempt) waits for that claim to go, at the latest when it expires.
    nextRetry: db.prepare(
      `SELECT min(CASE WHEN c.expires_at IS NULL THEN r.due_at ELSE max(r.due_at, c.expires_at) END) AS t
       FROM ${retries} r LEFT JOIN ${jobs} j ON j.id = r.job_id
       LEFT JOIN ${runs} c ON c.job_id = r.job_id AND c.run_time = r.run_time
       WHERE j.next_run_time IS NOT NULL OR (j.id IS NULL AND r.state IS NOT NULL)`,
    ),
    insert: db.prepare(
      `INSERT INTO ${jobs} (id, next_run_time, state) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    ),
    update: db.prepare(
      `UPDATE ${jobs} SET next_run_time = ?, state = ?, acquired_by = NULL, acquired_until = NULL,
       token = token + 1 WHERE id = ?`,
    ),
    remove: db.prepare(`DELETE FROM ${jobs} WHERE id = ?`),
    removeAll: db.prepare(`DELETE FROM ${jobs}`),
    acquire: db.prepare(
      `UPDATE ${jobs} SET acquired_by = @owner, acquired_until = @until, token = token + 1
       WHERE id IN (SELECT id FROM ${jobs}
         WHERE next_run_time <= @now
           AND (acquired_until IS NULL OR acquired_until <= @now OR (@retake AND acquired_by = @owner))
           AND id NOT IN (SELECT value FROM json_each(@skip))
         ORDER BY next_run_time, id LIMIT @limit)
       RETURNING id, next_run_time, state, token`,
    ),
    releaseLeased: db.prepare(
      `UPDATE ${jobs} SET next_run_time = ?, acquired_by = NULL, acquired_until = NULL
       WHERE id = ? AND acquired_by = ? AND token = ?`,
    ),
    removeLeased: db.prepare(`DELETE FROM ${jobs} WHERE id = ? AND acquired_by = ? AND token = ?`),
    claimRun: db.prepare(
      `INSERT INTO ${runs} (job_id, run_time, attempt, scheduler_id, expires_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT DO NOTHING`,
    ),
    deleteRun: db.prepare(`DELETE FROM ${runs} WHERE job_id = ? AND run_time = ? AND attempt = ?`),
    // Whether a run of (job id, run time) is claimed or waits as a retry.
    runTimeUsed: db.prepare(
      `SELECT EXISTS (SELECT 1 FROM ${runs} WHERE job_id = @jobId AND run_time = @runTime)
         OR EXISTS (SELECT 1 FROM ${retries} WHERE job_id = @jobId AND run_time = @runTime) AS used`,
    ),
    deleteRunsOf: db.prepare(`DELETE FROM ${runs} WHERE job_id = ?`),
    deleteAllRuns: db.prepare(`DELETE FROM ${runs}`),
    // A claim given up (expiry -1) is not renewed.
    renewRuns: db.prepare(`UPDATE ${runs} SET expires_at = ? WHERE scheduler_id = ? AND expires_at >= 0`),
    giveUpClaim: db.prepare(
      `UPDATE ${runs} SET expires_at = -1 WHERE scheduler_id = ? AND job_id = ? AND run_time = ?`,
    ),
    takeAbandoned: db.prepare(
      `UPDATE ${runs} SET expires_at = @until WHERE expires_at < @now
       RETURNING job_id, run_time, attempt, scheduler_id`,
    ),
    insertRecord: db.prepare(
      `INSERT INTO ${history} (job_id, job_name, scheduled_run_time, started_at, finished_at, outcome, error,
         retval, attempt, scheduler_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    // Not for a paused job (a job that is gone is one whose trigger ended); a retry of that
    // attempt already there stays.
    insertRetry: db.prepare(
      `INSERT INTO ${retries} (job_id, run_time, attempt, due_at, state)
       SELECT @jobId, @runTime, @attempt, @dueAt, @state
       WHERE NOT EXISTS (SELECT 1 FROM ${jobs} WHERE id = @jobId AND next_run_time IS NULL)
       ON CONFLICT DO NOTHING`,
    ),
    // Due retries of a job not paused (with the job's row), or of a job gone (with the retry's
    // state). A retry whose run time is still claimed waits (two attempts of one run never hold a
    // claim at once).
    dueRetries: db.prepare(
      `SELECT r.job_id AS id, r.run_time, r.attempt, r.due_at, j.next_run_time, coalesce(j.state, r.state) AS state
       FROM ${retries} r LEFT JOIN ${jobs} j ON j.id = r.job_id
       WHERE r.due_at <= @now AND (j.next_run_time IS NOT NULL OR (j.id IS NULL AND r.state IS NOT NULL))
         AND r.job_id NOT IN (SELECT value FROM json_each(@skip))
         AND NOT EXISTS (SELECT 1 FROM ${runs} c WHERE c.job_id = r.job_id AND c.run_time = r.run_time)
       ORDER BY r.due_at, r.job_id, r.run_time, r.attempt
       LIMIT @limit`,
    ),
    // Due retries of a job gone that hold no state: nothing can run them.
    deleteStatelessRetries: db.prepare(
      `DELETE FROM ${retries} WHERE due_at <= ? AND state IS NULL
         AND NOT EXISTS (SELECT 1 FROM ${jobs} j WHERE j.id = ${retries}.job_id)`,
    ),
    deleteRetry: db.prepare(`DELETE FROM ${retries} WHERE job_id = ? AND run_time = ? AND attempt = ?`),
    deleteRetriesOf: db.prepare(`DELETE FROM ${retries} WHERE job_id = ?`),
    deleteAllRetries: db.prepare(`DELETE FROM ${retries}`),
    pruneOld: db.prepare(
      `DELETE FROM ${history} WHERE id IN (
         SELECT id FROM ${history} WHERE finished_at < @before ORDER BY finished_at, id LIMIT @limit)`,
    ),
    // The k-th oldest of a job's c rows (ties: the earlier written first) is not among its newest
    // @max when k <= c - @max. Counting from the oldest follows the (job_id, finished_at, id)
    // index, so the window needs no sort.
    pruneExcess: db.prepare(
      `DELETE FROM ${history} WHERE id IN (
         SELECT id FROM (
           SELECT id, row_number() OVER w AS k, count(*) OVER w AS c FROM ${history}
           WINDOW w AS (PARTITION BY job_id ORDER BY finished_at, id
             ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING))
         WHERE k <= c - @max LIMIT @limit)`,
    ),
  };
}

/** Which filters a history query has: one statement for each combination, prepared when first used. */
function runsQueryKey(query: RunQueryRow): string {
  return [
    query.jobId !== undefined ? 'j' : '',
    query.outcomes !== undefined ? 'o' : '',
    query.since !== undefined ? 's' : '',
    query.until !== undefined ? 'u' : '',
  ].join('');
}

function prepareRunsQuery(db: SqliteDatabase, { history }: SqliteNames, key: string): SqliteStatement {
  const where: string[] = [];
  if (key.includes('j')) where.push('job_id = @jobId');
  if (key.includes('o')) where.push('outcome IN (SELECT value FROM json_each(@outcomes))');
  if (key.includes('s')) where.push('finished_at >= @since');
  if (key.includes('u')) where.push('finished_at <= @until');
  return db.prepare(
    `SELECT job_id, job_name, scheduled_run_time, started_at, finished_at, outcome, error, retval, attempt,
       scheduler_id
     FROM ${history} ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
     ORDER BY finished_at DESC, id DESC LIMIT @limit`,
  );
}

type Statements = ReturnType<typeof prepareStatements>;

function makeTransactions(db: SqliteDatabase, sql: Statements) {
  return {
    // Rows go in order, so of two rows with one id the first is inserted and the second is not.
    insertMany: db.transaction((rows: JobRow[]) =>
      rows.map((r) => sql.insert.run(r.id, r.nextRunTime, r.state).changes > 0),
    ),
    release: db.transaction((owner: string, releases: ReleaseRow[], claimUntil: number) =>
      releases.map((r) => {
        const changed = r.remove
          ? sql.removeLeased.run(r.id, owner, r.token).changes
          : sql.releaseLeased.run(r.nextRunTime, r.id, owner, r.token).changes;
        if (changed === 0) return null;
        // A job removed here ended its trigger: its waiting retries stay, and run from their state.
        return r.runTimes.map((runTime) => sql.claimRun.run(r.id, runTime, 1, owner, claimUntil).changes > 0);
      }),
    ),
    completeRuns: db.transaction((runs: FinishedRunRow[]) => {
      for (const run of runs) {
        if (sql.deleteRun.run(run.jobId, run.runTime, run.attempt).changes === 0) continue;
        const { record, retry } = run;
        if (record !== undefined) {
          sql.insertRecord.run(
            record.jobId,
            record.jobName,
            record.scheduledRunTime,
            record.startedAt,
            record.finishedAt,
            record.outcome,
            record.error,
            record.retval,
            record.attempt,
            record.schedulerId,
          );
        }
        if (retry !== undefined) {
          sql.insertRetry.run({
            jobId: retry.jobId,
            runTime: retry.runTime,
            attempt: retry.attempt,
            dueAt: retry.dueAt,
            state: retry.state ?? null,
          });
        }
      }
    }),
    queueRun: db.transaction((row: RetryRow): QueueRunResult => {
      const job = sql.get.get(row.jobId) as JobRecord | undefined;
      if (job === undefined) return 'no_job';
      if (job.next_run_time === null) return 'paused';
      if (job.next_run_time === row.runTime) return 'exists';
      if ((sql.runTimeUsed.get({ jobId: row.jobId, runTime: row.runTime }) as { used: number }).used)
        return 'exists';
      const inserted = sql.insertRetry.run({
        jobId: row.jobId,
        runTime: row.runTime,
        attempt: row.attempt,
        dueAt: row.dueAt,
        state: job.state,
      }).changes;
      return inserted > 0 ? 'queued' : 'exists';
    }),
    takeRetries: db.transaction(
      (owner: string, now: number, claimUntil: number, limit: number, skip: string) => {
        const taken: TakenRetry[] = [];
        sql.deleteStatelessRetries.run(now);
        for (const r of sql.dueRetries.all({ now, limit, skip }) as TakenRecord[]) {
          if (sql.claimRun.run(r.id, r.run_time, r.attempt, owner, claimUntil).changes === 0) continue;
          sql.deleteRetry.run(r.id, r.run_time, r.attempt);
          taken.push(takenRetryOf(r));
        }
        return taken;
      },
    ),
    pruneRuns: db.transaction((before: number, maxPerJob: number, batch: number) => {
      let deleted = sql.pruneOld.run({ before, limit: batch }).changes;
      if (deleted < batch && Number.isFinite(maxPerJob)) {
        deleted += sql.pruneExcess.run({ max: maxPerJob, limit: batch - deleted }).changes;
      }
      return deleted;
    }),
    giveUpClaims: db.transaction((owner: string, runs: readonly RunKey[]) => {
      for (const r of runs) sql.giveUpClaim.run(owner, r.jobId, r.runTime);
    }),
    pause: db.transaction((row: JobRow) => {
      const changed = sql.update.run(row.nextRunTime, row.state, row.id).changes > 0;
      if (changed) sql.deleteRetriesOf.run(row.id);
      return changed;
    }),
    remove: db.transaction((id: string) => {
      sql.deleteRunsOf.run(id);
      sql.deleteRetriesOf.run(id);
      return sql.remove.run(id).changes > 0;
    }),
    removeAll: db.transaction(() => {
      sql.deleteAllRuns.run();
      sql.deleteAllRetries.run();
      sql.removeAll.run();
    }),
  };
}

/** A StoreBackend on one SQLite file. */
export class SqliteBackend implements StoreBackend {
  #open: {
    db: SqliteDatabase;
    sql: Statements;
    tx: ReturnType<typeof makeTransactions>;
    /** History queries by `runsQueryKey`. */
    runsQueries: Map<string, SqliteStatement>;
  } | null = null;
  readonly #names: SqliteNames;
  // The file opened (device and inode), to notice it deleted or replaced under the open handle.
  #identity: string | null = null;
  // Set once the file was deleted or replaced: every call fails with it until a file is back.
  #orphaned: Error | null = null;

  constructor(
    private readonly openDatabase: SqliteOpen,
    private readonly path: string,
    tableName: string,
  ) {
    this.#names = {
      jobs: `"${tableName}"`,
      runs: `"${tableName}_runs"`,
      history: `"${tableName}_history"`,
      retries: `"${tableName}_retries"`,
      prefix: tableName,
    };
  }

  async open(): Promise<void> {
    const db = this.openDatabase(this.path);
    try {
      db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      await whenUnlocked(() => db.exec('PRAGMA journal_mode = WAL'));
      db.exec('PRAGMA synchronous = NORMAL');
      await whenUnlocked(() => this.#migrate(db));
    } catch (error) {
      db.close();
      throw error;
    }
    const sql = prepareStatements(db, this.#names);
    this.#open = { db, sql, tx: makeTransactions(db, sql), runsQueries: new Map() };
    this.#identity = this.#fileIdentity();
    this.#orphaned = null;
  }

  /** `dev:ino` of the file at the path now, `null` when there is none (or no file at all). */
  #fileIdentity(): string | null {
    if (this.path === '' || this.path === ':memory:' || this.path.startsWith('file:')) return null;
    try {
      const { dev, ino } = statSync(this.path);
      return `${dev}:${ino}`;
    } catch {
      return null;
    }
  }

  /**
   * Checks that the path still names the file that is open (called at each heartbeat). A file
   * deleted or replaced while open would take writes no other process sees: the orphan is closed
   * and every call fails, until a file is at the path again, which is then opened.
   */
  async #checkFile(): Promise<void> {
    if (this.#open === null && this.#orphaned === null) return;
    const now = this.#fileIdentity();
    if (this.#orphaned !== null) {
      if (now === null) throw this.#orphaned;
      await this.open();
      return;
    }
    if (this.#identity === null || now === this.#identity) return;
    const open = this.#open;
    this.#open = null;
    open?.db.close();
    this.#orphaned = new Error(
      `SQLite file ${JSON.stringify(this.path)} was ${now === null ? 'deleted' : 'replaced'} while open: writes to it would be lost, so it is not used any more${now === null ? '; the store fails until a database file is there again' : '; the new file is opened at the next heartbeat'}`,
    );
    throw this.#orphaned;
  }

  /** Applies the migrations not applied yet, under the write lock, so processes do not race. */
  #migrate(db: SqliteDatabase): void {
    const table = `"${this.#names.prefix}_migrations"`;
    const migrate = db.transaction(() => {
      db.exec(
        `CREATE TABLE IF NOT EXISTS ${table} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
      );
      const row = db.prepare(`SELECT max(version) AS v FROM ${table}`).get() as { v: number | null };
      const current = row.v ?? 0;
      const latest = MIGRATIONS[MIGRATIONS.length - 1].version;
      if (current > latest) {
        throw new SchemaVersionError(
          `Table ${this.#names.jobs} has schema version ${current}, newer than this tickwork knows (${latest}): upgrade tickwork`,
          current,
          latest,
        );
      }
      const record = db.prepare(`INSERT INTO ${table} (version, name, applied_at) VALUES (?, ?, ?)`);
      for (const m of MIGRATIONS) {
        if (m.version <= current) continue;
        db.exec(m.sql(this.#names));
        record.run(m.version, m.name, Date.now());
      }
      // A write, so a file this process cannot write fails start() rather than every pass.
      db.prepare(`UPDATE ${table} SET name = name WHERE version = ?`).run(latest);
    });
    migrate.immediate();
  }

  get #q(): Statements {
    if (this.#open === null) throw this.#orphaned ?? new Error('The SQLite job store is not open');
    return this.#open.sql;
  }

  get #tx(): ReturnType<typeof makeTransactions> {
    if (this.#open === null) throw this.#orphaned ?? new Error('The SQLite job store is not open');
    return this.#open.tx;
  }

  async close(): Promise<void> {
    const open = this.#open;
    this.#open = null;
    this.#orphaned = null;
    open?.db.close();
  }

  async get(id: string): Promise<JobRow | null> {
    const row = (await whenUnlocked(() => this.#q.get.get(id))) as JobRecord | undefined;
    return row === undefined ? null : jobRowOf(row);
  }

  async all(): Promise<JobRow[]> {
    return ((await whenUnlocked(() => this.#q.all.all())) as JobRecord[]).map(jobRowOf);
  }

  async due(now: number): Promise<JobRow[]> {
    return ((await whenUnlocked(() => this.#q.due.all(now))) as JobRecord[]).map(jobRowOf);
  }

  async nextRunTime(now: number): Promise<number | null> {
    const times = await whenUnlocked(() => [
      (this.#q.nextDue.get({ now }) as { t: number | null }).t,
      (this.#q.nextLater.get(now) as { t: number | null }).t,
      (this.#q.nextRetry.get() as { t: number | null }).t,
    ]);
    const known = times.filter((t): t is number => t !== null);
    return known.length === 0 ? null : Math.min(...known);
  }

  async insert(row: JobRow): Promise<boolean> {
    return whenUnlocked(() => this.#q.insert.run(row.id, row.nextRunTime, row.state).changes > 0);
  }

  async insertMany(rows: JobRow[]): Promise<boolean[]> {
    if (rows.length === 0) return [];
    return whenUnlocked(() => this.#tx.insertMany.immediate(rows));
  }

  async update(row: JobRow): Promise<boolean> {
    if (row.nextRunTime === null) return whenUnlocked(() => this.#tx.pause.immediate(row));
    return whenUnlocked(() => this.#q.update.run(row.nextRunTime, row.state, row.id).changes > 0);
  }

  async remove(id: string): Promise<boolean> {
    return whenUnlocked(() => this.#tx.remove.immediate(id));
  }

  async removeAll(): Promise<void> {
    await whenUnlocked(() => this.#tx.removeAll.immediate());
  }

  async acquire(
    owner: string,
    now: number,
    leaseUntil: number,
    limit: number,
    skip: readonly string[] = [],
    retakeOwn = false,
  ): Promise<AcquiredRow[]> {
    const rows = (await whenUnlocked(() =>
      this.#q.acquire.all({
        owner,
        until: leaseUntil,
        now,
        limit,
        skip: skip.length === 0 ? '[]' : JSON.stringify(skip),
        retake: retakeOwn ? 1 : 0,
      }),
    )) as Array<JobRecord & { token: number }>;
    return rows.map((r) => ({ ...jobRowOf(r), token: r.token })).sort(byRunTimeThenId);
  }

  async release(owner: string, releases: ReleaseRow[], claimUntil: number): Promise<Array<boolean[] | null>> {
    if (releases.length === 0) return [];
    return whenUnlocked(() => this.#tx.release.immediate(owner, releases, claimUntil));
  }

  async completeRuns(runs: FinishedRunRow[]): Promise<void> {
    if (runs.length === 0) return;
    await whenUnlocked(() => this.#tx.completeRuns.immediate(runs));
  }

  async takeRetries(
    owner: string,
    now: number,
    claimUntil: number,
    limit: number,
    skip: readonly string[] = [],
  ): Promise<TakenRetry[]> {
    if (limit <= 0) return [];
    const skipped = skip.length === 0 ? '[]' : JSON.stringify(skip);
    return whenUnlocked(() => this.#tx.takeRetries.immediate(owner, now, claimUntil, limit, skipped));
  }

  async queueRun(row: RetryRow): Promise<QueueRunResult> {
    return whenUnlocked(() => this.#tx.queueRun.immediate(row));
  }

  async runs(query: RunQueryRow): Promise<RunRecordRow[]> {
    if (query.limit <= 0 || query.outcomes?.length === 0) return [];
    const rows = (await whenUnlocked(() => {
      const statement = this.#runsQuery(runsQueryKey(query));
      const params: Record<string, unknown> = { limit: query.limit };
      if (query.jobId !== undefined) params.jobId = query.jobId;
      if (query.outcomes !== undefined) params.outcomes = JSON.stringify(query.outcomes);
      if (query.since !== undefined) params.since = query.since;
      if (query.until !== undefined) params.until = query.until;
      return statement.all(params);
    })) as HistoryRecord[];
    return rows.map(runRecordOf);
  }

  async latestRuns(jobIds: readonly string[]): Promise<RunRecordRow[]> {
    if (jobIds.length === 0) return [];
    const rows = await whenUnlocked(() => {
      const statement = this.#runsQuery('j');
      const out: HistoryRecord[] = [];
      for (const jobId of jobIds) {
        const found = statement.all({ jobId, limit: 1 }) as HistoryRecord[];
        if (found.length > 0) out.push(found[0]);
      }
      return out;
    });
    return rows.map(runRecordOf);
  }

  #runsQuery(key: string): SqliteStatement {
    if (this.#open === null) throw this.#orphaned ?? new Error('The SQLite job store is not open');
    let statement = this.#open.runsQueries.get(key);
    if (statement === undefined) {
      statement = prepareRunsQuery(this.#open.db, this.#names, key);
      this.#open.runsQueries.set(key, statement);
    }
    return statement;
  }

  async pruneRuns(before: number, maxPerJob: number, batch: number): Promise<number> {
    if (batch <= 0) return 0;
    return whenUnlocked(() => this.#tx.pruneRuns.immediate(before, maxPerJob, batch));
  }

  async renewRuns(owner: string, until: number): Promise<void> {
    await this.#checkFile();
    await whenUnlocked(() => this.#q.renewRuns.run(until, owner));
  }

  /** Sets the expiry of those claims of `owner` to -1: before any time, and skipped by renewal. */
  async giveUpClaims(owner: string, runs: readonly RunKey[]): Promise<void> {
    if (runs.length === 0) return;
    await whenUnlocked(() => this.#tx.giveUpClaims.immediate(owner, runs));
  }

  /**
   * Gives up nothing: a claim row here does not record the `takeRetries` call that made it, so
   * the claims of a failed call cannot be told from this scheduler's other claims (runs going
   * on). A failed call here made none anyway: the driver is synchronous, and a transaction that
   * throws was rolled back (a reply cannot be lost on the way). Finding them otherwise needs a
   * column of the taking call in the runs table (a migration, as the Redis layout's `runs:taker`).
   */
  async giveUpTaken(_owner: string, _callIds: readonly string[]): Promise<void> {}

  async takeAbandonedRuns(now: number, until: number): Promise<RunClaim[]> {
    const rows = (await whenUnlocked(() => this.#q.takeAbandoned.all({ now, until }))) as ClaimRecord[];
    return rows.map(runClaimOf);
  }
}
