/**
 * The SQLite backend, on any of the drivers of drivers.ts (better-sqlite3, `node:sqlite`,
 * `bun:sqlite`). Several processes may share the file: WAL mode lets readers go on beside the one
 * writer, and every change that spans rows is one `BEGIN IMMEDIATE` transaction. The drivers are
 * synchronous, so a lock held by another process (a backup, the `sqlite3` shell, a long
 * transaction) must not be waited for inside the driver: its busy timeout is a few milliseconds,
 * and a call that finds the file locked is tried again after an asynchronous, growing pause, so
 * the event loop keeps turning while the lock is held.
 */
import { statSync } from 'node:fs';
import { clock } from '../../time/clock.js';
import type { AcquiredRow, ReleaseRow, RunClaim, StoreBackend } from '../backend.js';
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

interface Row {
  id: string;
  next_run_time: number | null;
  state: string;
  token?: number;
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

const toJobRow = (r: Row): JobRow => ({ id: r.id, nextRunTime: r.next_run_time, state: r.state });

function byRunTime(a: JobRow, b: JobRow): number {
  return (a.nextRunTime as number) - (b.nextRunTime as number) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function prepareStatements(db: SqliteDatabase, { jobs, runs }: SqliteNames) {
  return {
    get: db.prepare(`SELECT id, next_run_time, state FROM ${jobs} WHERE id = ?`),
    all: db.prepare(
      `SELECT id, next_run_time, state FROM ${jobs} ORDER BY next_run_time IS NULL, next_run_time, id`,
    ),
    due: db.prepare(
      `SELECT id, next_run_time, state FROM ${jobs} WHERE next_run_time <= ? ORDER BY next_run_time, id`,
    ),
    // Due jobs under someone's lease are not ready before the lease ends.
    nextDue: db.prepare(
      `SELECT min(CASE WHEN acquired_until > @now THEN max(next_run_time, acquired_until) ELSE next_run_time END) AS t
       FROM ${jobs} WHERE next_run_time <= @now`,
    ),
    nextLater: db.prepare(`SELECT min(next_run_time) AS t FROM ${jobs} WHERE next_run_time > ?`),
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
         WHERE next_run_time <= @now AND (acquired_until IS NULL OR acquired_until < @now OR acquired_by = @owner)
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
      `INSERT INTO ${runs} (job_id, run_time, scheduler_id, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT DO NOTHING`,
    ),
    deleteRun: db.prepare(`DELETE FROM ${runs} WHERE job_id = ? AND run_time = ?`),
    deleteRunsOf: db.prepare(`DELETE FROM ${runs} WHERE job_id = ?`),
    deleteAllRuns: db.prepare(`DELETE FROM ${runs}`),
    renewRuns: db.prepare(`UPDATE ${runs} SET expires_at = ? WHERE scheduler_id = ?`),
    takeAbandoned: db.prepare(
      `UPDATE ${runs} SET expires_at = @until WHERE expires_at < @now RETURNING job_id, run_time, scheduler_id`,
    ),
  };
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
        return r.runTimes.map((runTime) => sql.claimRun.run(r.id, runTime, owner, claimUntil).changes > 0);
      }),
    ),
    completeRuns: db.transaction((runs: Array<{ jobId: string; runTime: number }>) => {
      for (const run of runs) sql.deleteRun.run(run.jobId, run.runTime);
    }),
    remove: db.transaction((id: string) => {
      sql.deleteRunsOf.run(id);
      return sql.remove.run(id).changes > 0;
    }),
    removeAll: db.transaction(() => {
      sql.deleteAllRuns.run();
      sql.removeAll.run();
    }),
  };
}

/** A StoreBackend on one SQLite file. */
export class SqliteBackend implements StoreBackend {
  #open: { db: SqliteDatabase; sql: Statements; tx: ReturnType<typeof makeTransactions> } | null = null;
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
    this.#names = { jobs: `"${tableName}"`, runs: `"${tableName}_runs"`, prefix: tableName };
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
    this.#open = { db, sql, tx: makeTransactions(db, sql) };
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
        throw new Error(
          `Table ${this.#names.jobs} has schema version ${current}, newer than this tickwork knows (${latest}): upgrade tickwork`,
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
    const row = (await whenUnlocked(() => this.#q.get.get(id))) as Row | undefined;
    return row === undefined ? null : toJobRow(row);
  }

  async all(): Promise<JobRow[]> {
    return ((await whenUnlocked(() => this.#q.all.all())) as Row[]).map(toJobRow);
  }

  async due(now: number): Promise<JobRow[]> {
    return ((await whenUnlocked(() => this.#q.due.all(now))) as Row[]).map(toJobRow);
  }

  async nextRunTime(now: number): Promise<number | null> {
    const [due, later] = await whenUnlocked(() => [
      (this.#q.nextDue.get({ now }) as { t: number | null }).t,
      (this.#q.nextLater.get(now) as { t: number | null }).t,
    ]);
    if (due === null) return later;
    return later === null ? due : Math.min(due, later);
  }

  async insert(row: JobRow): Promise<boolean> {
    return whenUnlocked(() => this.#q.insert.run(row.id, row.nextRunTime, row.state).changes > 0);
  }

  async insertMany(rows: JobRow[]): Promise<boolean[]> {
    if (rows.length === 0) return [];
    return whenUnlocked(() => this.#tx.insertMany.immediate(rows));
  }

  async update(row: JobRow): Promise<boolean> {
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
  ): Promise<AcquiredRow[]> {
    const rows = (await whenUnlocked(() =>
      this.#q.acquire.all({
        owner,
        until: leaseUntil,
        now,
        limit,
        skip: skip.length === 0 ? '[]' : JSON.stringify(skip),
      }),
    )) as Required<Row>[];
    return rows.map((r) => ({ ...toJobRow(r), token: r.token })).sort(byRunTime);
  }

  async release(owner: string, releases: ReleaseRow[], claimUntil: number): Promise<Array<boolean[] | null>> {
    if (releases.length === 0) return [];
    return whenUnlocked(() => this.#tx.release.immediate(owner, releases, claimUntil));
  }

  async completeRuns(runs: Array<{ jobId: string; runTime: number }>): Promise<void> {
    if (runs.length === 0) return;
    await whenUnlocked(() => this.#tx.completeRuns.immediate(runs));
  }

  async renewRuns(owner: string, until: number): Promise<void> {
    await this.#checkFile();
    await whenUnlocked(() => this.#q.renewRuns.run(until, owner));
  }

  async takeAbandonedRuns(now: number, until: number): Promise<RunClaim[]> {
    const rows = (await whenUnlocked(() => this.#q.takeAbandoned.all({ now, until }))) as Array<{
      job_id: string;
      run_time: number;
      scheduler_id: string;
    }>;
    return rows.map((r) => ({ jobId: r.job_id, runTime: r.run_time, schedulerId: r.scheduler_id }));
  }
}
