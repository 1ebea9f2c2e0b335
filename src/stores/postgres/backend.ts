/**
 * The StoreBackend of PostgresJobStore, on a `pg`-like pool: every operation is one statement
 * (batched through arrays, so a pass over 10,000 jobs is one round trip), migrations run under
 * an advisory lock, and LISTEN/NOTIFY carries wake-up hints between processes.
 *
 * Over 400 lines because it implements the whole `StoreBackend` contract (jobs, leases, run claims,
 * history, retries, hints) for one database, each operation one SQL statement kept beside the
 * method that sends it; the migrations have a file of their own.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../logger.js';
import { clock, type TimerHandle } from '../../time/clock.js';
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
import { migrate, type TableNames } from './migrations.js';

/** A query result, as `pg` gives it. */
export interface PostgresQueryResult<R> {
  rows: R[];
  rowCount: number | null;
}

/** Something that runs parameterized queries: a `pg` pool or client. */
export interface PostgresQueryable {
  /** Runs one parameterized query. */
  query<R extends object>(text: string, values?: unknown[]): Promise<PostgresQueryResult<R>>;
}

/** A notification delivered to a client that LISTENs. */
export interface PostgresNotification {
  channel: string;
  payload?: string;
}

/** A client checked out of a pool (`pg.PoolClient` fits). */
export interface PostgresPoolClient extends PostgresQueryable {
  /** Gives the client back; `true` or an error closes it instead. */
  release(destroy?: boolean | Error): void;
  on(event: 'notification', listener: (message: PostgresNotification) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  /** Lets the process exit while this client is open (`pg` >= 8.8). */
  unref?(): void;
}

/** The narrowest pool PostgresJobStore works with (`pg.Pool` fits). */
export interface PostgresPool extends PostgresQueryable {
  /** Checks out a client (for LISTEN and transactions). */
  connect(): Promise<PostgresPoolClient>;
}

/** A pool the store made itself, and so also ends. */
export interface OwnedPostgresPool extends PostgresPool {
  end(): Promise<void>;
}

interface JobRecord {
  id: string;
  next_run_time: string | null;
  state: string;
}

interface ClaimRecord {
  job_id: string;
  run_time: string;
  attempt: number;
  scheduler_id: string;
}

/** A retry taken by `takeRetries`: its job's row (or its own state), run time and attempt. */
interface TakenRecord extends JobRecord {
  run_time: string;
  attempt: number;
  due_at: string;
}

interface HistoryRecord {
  job_id: string;
  job_name: string;
  scheduled_run_time: string;
  started_at: string | null;
  finished_at: string;
  outcome: string;
  error: string | null;
  retval: string | null;
  attempt: number;
  scheduler_id: string;
}

// bigint columns come back from pg as strings (they may exceed 2^53; epoch ms never do).
const jobRowOf = (r: JobRecord): JobRow => ({
  id: r.id,
  nextRunTime: r.next_run_time === null ? null : Number(r.next_run_time),
  state: r.state,
});

const runClaimOf = (r: ClaimRecord): RunClaim => ({
  jobId: r.job_id,
  runTime: Number(r.run_time),
  attempt: r.attempt,
  schedulerId: r.scheduler_id,
});

const takenRetryOf = (r: TakenRecord): TakenRetry => ({
  row: jobRowOf(r),
  runTime: Number(r.run_time),
  attempt: r.attempt,
  dueAt: Number(r.due_at),
});

const runRecordOf = (r: HistoryRecord): RunRecordRow => ({
  jobId: r.job_id,
  jobName: r.job_name,
  scheduledRunTime: Number(r.scheduled_run_time),
  startedAt: r.started_at === null ? null : Number(r.started_at),
  finishedAt: Number(r.finished_at),
  outcome: r.outcome as RunOutcomeName,
  error: r.error,
  retval: r.retval,
  attempt: r.attempt,
  schedulerId: r.scheduler_id,
});

/** A time bound as a bigint parameter: infinite bounds become the farthest epoch ms there is. */
const timeParam = (t: number): number =>
  Math.min(Math.max(t, Number.MIN_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);

/** A count as a LIMIT or OFFSET parameter: `null` (no bound) when infinite. */
const countParam = (n: number): number | null => (Number.isFinite(n) ? Math.max(0, n) : null);

const byRunTimeThenId = (a: JobRow, b: JobRow): number =>
  (a.nextRunTime ?? 0) - (b.nextRunTime ?? 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

// Reconnect delays of the LISTEN connection after it is lost.
const FIRST_RECONNECT_MS = 250;
const MAX_RECONNECT_MS = 10_000;

/** Settings of one PostgresBackend. */
export interface PostgresBackendOptions {
  pool: PostgresPool;
  /** Set when the store made the pool: `close()` then ends it. */
  ownedPool: OwnedPostgresPool | null;
  names: TableNames;
  logger: Logger;
}

/** StoreBackend on PostgreSQL. */
export class PostgresBackend implements StoreBackend {
  readonly #pool: PostgresPool;
  readonly #owned: OwnedPostgresPool | null;
  readonly #n: TableNames;
  readonly #logger: Logger;
  // Payload of this backend's notifications, so it can ignore its own.
  readonly #origin = randomBytes(12).toString('hex');
  #closed = false;
  #onChange: (() => void) | null = null;
  #listener: PostgresPoolClient | null = null;
  #reconnect: TimerHandle | null = null;
  #reconnectDelay = FIRST_RECONNECT_MS;
  // Hints and subscriptions still holding a pooled connection: `close()` waits for them, so a
  // pool of the caller's own has every connection back when the store has shut down.
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(options: PostgresBackendOptions) {
    this.#pool = options.pool;
    this.#owned = options.ownedPool;
    this.#n = options.names;
    this.#logger = options.logger;
  }

  /** Applies the migrations not applied yet, in one transaction, one process at a time. */
  async open(): Promise<void> {
    try {
      await migrate(this.#pool, this.#n);
    } catch (error) {
      await this.close().catch(() => undefined);
      throw error;
    }
  }

  /** Stops the wake-up hints and ends the pool if the store made it. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#onChange = null;
    if (this.#reconnect !== null) clock.clearTimeout(this.#reconnect);
    this.#reconnect = null;
    const listener = this.#listener;
    this.#listener = null;
    // Closed, not given back: a pooled connection must not keep LISTENing for its next user.
    listener?.release(true);
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    await this.#owned?.end();
  }

  #track<T>(work: Promise<T>): Promise<T> {
    this.#inFlight.add(work);
    const done = () => this.#inFlight.delete(work);
    work.then(done, done);
    return work;
  }

  /**
   * Runs `work` in a transaction on one pooled connection. After a failure the connection may be
   * dead or mid-transaction: it is closed, not pooled.
   */
  async #transaction<T>(work: (client: PostgresPoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    let failed = false;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      failed = true;
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release(failed);
    }
  }

  async get(id: string): Promise<JobRow | null> {
    const result = await this.#pool.query<JobRecord>(
      `SELECT id, next_run_time, state FROM ${this.#n.jobs} WHERE id = $1`,
      [id],
    );
    return result.rows.length === 0 ? null : jobRowOf(result.rows[0]);
  }

  async all(): Promise<JobRow[]> {
    const result = await this.#pool.query<JobRecord>(
      `SELECT id, next_run_time, state FROM ${this.#n.jobs} ORDER BY next_run_time ASC NULLS LAST, id`,
    );
    return result.rows.map(jobRowOf);
  }

  async due(now: number): Promise<JobRow[]> {
    const result = await this.#pool.query<JobRecord>(
      `SELECT id, next_run_time, state FROM ${this.#n.jobs}
       WHERE next_run_time <= $1 ORDER BY next_run_time, id`,
      [now],
    );
    return result.rows.map(jobRowOf);
  }

  async nextRunTime(now: number): Promise<number | null> {
    const result = await this.#pool.query<{ next: string | null }>(nextRunTimeSql(this.#n), [now]);
    const next = result.rows[0]?.next ?? null;
    return next === null ? null : Number(next);
  }

  async insert(row: JobRow): Promise<boolean> {
    const result = await this.#pool.query(
      `INSERT INTO ${this.#n.jobs} (id, next_run_time, state) VALUES ($1, $2, $3)
       ON CONFLICT (id) DO NOTHING`,
      [row.id, row.nextRunTime, row.state],
    );
    return result.rowCount === 1;
  }

  async insertMany(rows: JobRow[]): Promise<boolean[]> {
    if (rows.length === 0) return [];
    // Only the first row of each id is sent: which of two rows in one statement Postgres would
    // insert is not something to rely on.
    const first = new Map<string, number>();
    const ids: string[] = [];
    const nextRunTimes: Array<number | null> = [];
    const states: string[] = [];
    rows.forEach((row, i) => {
      if (first.has(row.id)) return;
      first.set(row.id, i);
      ids.push(row.id);
      nextRunTimes.push(row.nextRunTime);
      states.push(row.state);
    });
    const result = await this.#pool.query<{ id: string }>(
      `INSERT INTO ${this.#n.jobs} (id, next_run_time, state)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])
       ON CONFLICT (id) DO NOTHING
       RETURNING id`,
      [ids, nextRunTimes, states],
    );
    const inserted = new Set(result.rows.map((r) => r.id));
    return rows.map((row, i) => first.get(row.id) === i && inserted.has(row.id));
  }

  async update(row: JobRow): Promise<boolean> {
    const n = this.#n;
    const sql = `UPDATE ${n.jobs}
       SET next_run_time = $2, state = $3, acquired_by = NULL, acquired_until = NULL, token = token + 1
       WHERE id = $1`;
    const values = [row.id, row.nextRunTime, row.state];
    if (row.nextRunTime !== null) return (await this.#pool.query(sql, values)).rowCount === 1;
    // Pausing: the retries go in a second statement, whose snapshot is taken once the row lock
    // is held, so it also sees a retry that a `completeRuns` holding the job row had just added.
    return this.#transaction(async (client) => {
      const updated = (await client.query(sql, values)).rowCount === 1;
      if (updated) await client.query(`DELETE FROM ${n.retries} WHERE job_id = $1`, [row.id]);
      return updated;
    });
  }

  async remove(id: string): Promise<boolean> {
    const n = this.#n;
    // The job row first, then (with a snapshot taken once its lock is held, as in `update`) its
    // claims and retries, also when the job is gone already (the retry of a job that ended).
    return this.#transaction(async (client) => {
      const removed = (await client.query(`DELETE FROM ${n.jobs} WHERE id = $1`, [id])).rowCount === 1;
      await client.query(
        `WITH claims AS (DELETE FROM ${n.runs} WHERE job_id = $1) DELETE FROM ${n.retries} WHERE job_id = $1`,
        [id],
      );
      return removed;
    });
  }

  async removeAll(): Promise<void> {
    const n = this.#n;
    // DELETE rather than TRUNCATE: TRUNCATE would wait for, and block, every other scheduler.
    await this.#transaction(async (client) => {
      await client.query(`DELETE FROM ${n.jobs}`);
      await client.query(`WITH claims AS (DELETE FROM ${n.runs}) DELETE FROM ${n.retries}`);
    });
  }

  async acquire(
    owner: string,
    now: number,
    leaseUntil: number,
    limit: number,
    skip: readonly string[] = [],
    retakeOwn = false,
  ): Promise<AcquiredRow[]> {
    const n = this.#n;
    // SKIP LOCKED: schedulers acquiring at the same moment take different jobs instead of waiting.
    const result = await this.#pool.query<JobRecord & { token: string }>(
      `WITH picked AS (
         SELECT id FROM ${n.jobs}
         WHERE next_run_time <= $2
           AND (acquired_until IS NULL OR acquired_until <= $2 OR ($6 AND acquired_by = $1))
           AND NOT (id = ANY($5::text[]))
         ORDER BY next_run_time, id
         LIMIT $4
         FOR UPDATE SKIP LOCKED
       )
       UPDATE ${n.jobs} AS j
       SET acquired_by = $1, acquired_until = $3, token = j.token + 1
       FROM picked WHERE j.id = picked.id
       RETURNING j.id, j.next_run_time, j.state, j.token`,
      [owner, now, leaseUntil, limit, skip, retakeOwn],
    );
    return result.rows
      .map((r) => {
        // jobRowOf's row with the token added in place: a spread copy cost about 1.5 µs a row on Node 20.
        const row = jobRowOf(r) as AcquiredRow;
        row.token = Number(r.token);
        return row;
      })
      .sort(byRunTimeThenId);
  }

  async release(owner: string, releases: ReleaseRow[], claimUntil: number): Promise<Array<boolean[] | null>> {
    if (releases.length === 0) return [];
    const n = this.#n;
    const ids: string[] = [];
    const tokens: number[] = [];
    const nextRunTimes: Array<number | null> = [];
    const removes: boolean[] = [];
    const claimIds: string[] = [];
    const claimTimes: number[] = [];
    for (const r of releases) {
      ids.push(r.id);
      tokens.push(r.token);
      nextRunTimes.push(r.remove ? null : r.nextRunTime);
      removes.push(r.remove);
      for (const t of r.runTimes) {
        claimIds.push(r.id);
        claimTimes.push(t);
      }
    }
    // One statement, so one transaction: the fenced updates and deletes, then the run claims of
    // exactly the releases that applied (the CTEs see each other's RETURNING).
    const result = await this.#pool.query<{ id: string; run_time: string | null }>(
      `WITH input AS (
         SELECT * FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::boolean[])
           AS r(id, token, next_run_time, remove)
       ),
       updated AS (
         UPDATE ${n.jobs} AS j
         SET next_run_time = input.next_run_time, acquired_by = NULL, acquired_until = NULL
         FROM input
         WHERE j.id = input.id AND NOT input.remove AND j.acquired_by = $1 AND j.token = input.token
         RETURNING j.id
       ),
       removed AS (
         DELETE FROM ${n.jobs} AS j
         USING input
         WHERE j.id = input.id AND input.remove AND j.acquired_by = $1 AND j.token = input.token
         RETURNING j.id
       ),
       applied AS (SELECT id FROM updated UNION ALL SELECT id FROM removed),
       claims AS (
         INSERT INTO ${n.runs} (job_id, run_time, scheduler_id, expires_at)
         SELECT c.job_id, c.run_time, $1, $6
         FROM unnest($7::text[], $8::bigint[]) AS c(job_id, run_time)
         WHERE c.job_id IN (SELECT id FROM applied)
         ON CONFLICT DO NOTHING
         RETURNING job_id, run_time
       )
       SELECT id, NULL::bigint AS run_time FROM applied UNION ALL SELECT job_id, run_time FROM claims`,
      [owner, ids, tokens, nextRunTimes, removes, claimUntil, claimIds, claimTimes],
    );
    // Run times claimed already (someone else's run) come back without a row of their own.
    const applied = new Set<string>();
    const claimed = new Set<string>();
    for (const row of result.rows) {
      if (row.run_time === null) applied.add(row.id);
      else claimed.add(`${Number(row.run_time)}:${row.id}`);
    }
    return releases.map((r) =>
      applied.has(r.id) ? r.runTimes.map((t) => claimed.has(`${t}:${r.id}`)) : null,
    );
  }

  async completeRuns(runs: FinishedRunRow[]): Promise<void> {
    if (runs.length === 0) return;
    const n = this.#n;
    // One column per field; a run without a record or a retry has nulls in its columns.
    const columns: unknown[][] = Array.from({ length: COMPLETE_RUNS_COLUMNS }, () => []);
    const retryJobs = new Set<string>();
    const seen = new Set<string>();
    for (const run of runs) {
      // A claim is completed once: by its first entry in the call.
      const key = `${run.runTime}:${run.attempt}:${run.jobId}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const { record: rec, retry } = run;
      if (retry !== undefined) retryJobs.add(retry.jobId);
      const values = [
        run.jobId,
        run.runTime,
        run.attempt,
        rec?.jobId ?? null,
        rec?.jobName ?? null,
        rec?.scheduledRunTime ?? null,
        rec?.startedAt ?? null,
        rec?.finishedAt ?? null,
        rec?.outcome ?? null,
        rec?.error ?? null,
        rec?.retval ?? null,
        rec?.attempt ?? null,
        rec?.schedulerId ?? null,
        retry?.jobId ?? null,
        retry?.runTime ?? null,
        retry?.attempt ?? null,
        retry?.dueAt ?? null,
        retry?.state ?? null,
      ];
      for (const [i, value] of values.entries()) columns[i].push(value);
    }
    const sql = completeRunsSql(n);
    if (retryJobs.size === 0) {
      await this.#pool.query(sql, columns);
      return;
    }
    // A retry is not added for a paused job: the job rows are locked first (in id order, as
    // every statement locking several does), so a pause or a removal either happens before (the
    // retry is not added, or the removal took the claim) or waits and then deletes it.
    await this.#transaction(async (client) => {
      await client.query(`SELECT 1 FROM ${n.jobs} WHERE id = ANY($1::text[]) ORDER BY id FOR SHARE`, [
        [...retryJobs],
      ]);
      await client.query(sql, columns);
    });
  }

  async queueRun(row: RetryRow): Promise<QueueRunResult> {
    const n = this.#n;
    // The job row is locked first, as `completeRuns` does before adding a retry: a pause either
    // commits before (the job reads as paused) or waits and then deletes the queued run.
    const { rows } = await this.#pool.query(
      `WITH job AS (SELECT next_run_time, state FROM ${n.jobs} WHERE id = $1 FOR SHARE),
       used AS (
         SELECT 1 FROM job WHERE next_run_time = $2
         UNION ALL SELECT 1 FROM ${n.runs} WHERE job_id = $1 AND run_time = $2
         UNION ALL SELECT 1 FROM ${n.retries} WHERE job_id = $1 AND run_time = $2
       ),
       queued AS (
         INSERT INTO ${n.retries} (job_id, run_time, attempt, due_at, state)
         SELECT $1, $2, $3, $4, state FROM job
         WHERE next_run_time IS NOT NULL AND NOT EXISTS (SELECT 1 FROM used)
         ON CONFLICT DO NOTHING RETURNING 1
       )
       SELECT (SELECT count(*) FROM job)::int AS found,
         (SELECT count(*) FROM job WHERE next_run_time IS NULL)::int AS paused,
         (SELECT count(*) FROM queued)::int AS queued`,
      [row.jobId, row.runTime, row.attempt, row.dueAt],
    );
    const r = rows[0] as { found: number; paused: number; queued: number };
    if (r.found === 0) return 'no_job';
    if (r.paused > 0) return 'paused';
    return r.queued > 0 ? 'queued' : 'exists';
  }

  async takeRetries(
    owner: string,
    now: number,
    claimUntil: number,
    limit: number,
    skip: readonly string[] = [],
  ): Promise<TakenRetry[]> {
    const n = this.#n;
    // SKIP LOCKED: schedulers taking retries at the same moment take different ones; a retry
    // deleted by another taker since this statement's snapshot is skipped when locked. Only the
    // retries whose claim was inserted leave the list: a run time claimed meanwhile keeps its
    // retry waiting. Due retries of a job that is gone, without a state to run from, are dropped.
    const result = await this.#pool.query<TakenRecord>(
      `WITH dropped AS (
         DELETE FROM ${n.retries} AS r
         WHERE r.due_at <= $2 AND r.state IS NULL
           AND NOT EXISTS (SELECT 1 FROM ${n.jobs} AS j WHERE j.id = r.job_id)
       ),
       picked AS (
         SELECT r.job_id, r.run_time, r.attempt FROM ${n.retries} AS r
         WHERE r.due_at <= $2 AND ${retryIsReady(n)} AND NOT (r.job_id = ANY($5::text[]))
         ORDER BY r.due_at, r.job_id, r.run_time, r.attempt
         LIMIT $4
         FOR UPDATE OF r SKIP LOCKED
       ),
       claimed AS (
         INSERT INTO ${n.runs} (job_id, run_time, scheduler_id, expires_at, attempt)
         SELECT job_id, run_time, $1, $3, attempt FROM picked
         ON CONFLICT (job_id, run_time) DO NOTHING
         RETURNING job_id, run_time, attempt
       ),
       taken AS (
         DELETE FROM ${n.retries} AS r
         USING claimed AS c
         WHERE r.job_id = c.job_id AND r.run_time = c.run_time AND r.attempt = c.attempt
         RETURNING r.job_id, r.run_time, r.attempt, r.due_at, r.state
       )
       SELECT t.job_id AS id, j.next_run_time, CASE WHEN j.id IS NULL THEN t.state ELSE j.state END AS state,
         t.run_time, t.attempt, t.due_at
       FROM taken AS t LEFT JOIN ${n.jobs} AS j ON j.id = t.job_id
       ORDER BY t.due_at, t.job_id, t.run_time, t.attempt`,
      [owner, now, claimUntil, countParam(limit), skip],
    );
    return result.rows.map(takenRetryOf);
  }

  async runs(query: RunQueryRow): Promise<RunRecordRow[]> {
    const { text, values } = runsQuery(this.#n, query);
    const result = await this.#pool.query<HistoryRecord>(text, values);
    return result.rows.map(runRecordOf);
  }

  async latestRuns(jobIds: readonly string[]): Promise<RunRecordRow[]> {
    if (jobIds.length === 0) return [];
    const result = await this.#pool.query<HistoryRecord>(
      `SELECT h.job_id, h.job_name, h.scheduled_run_time, h.started_at, h.finished_at, h.outcome, h.error,
         h.retval, h.attempt, h.scheduler_id
       FROM unnest($1::text[]) AS j(id)
       CROSS JOIN LATERAL (
         SELECT * FROM ${this.#n.history} WHERE job_id = j.id ORDER BY finished_at DESC, id DESC LIMIT 1
       ) AS h`,
      [[...jobIds]],
    );
    return result.rows.map(runRecordOf);
  }

  async pruneRuns(before: number, maxPerJob: number, batch: number): Promise<number> {
    const result = await this.#pool.query(pruneRunsSql(this.#n), [
      timeParam(before),
      countParam(maxPerJob),
      countParam(batch),
    ]);
    return result.rowCount ?? 0;
  }

  async renewRuns(owner: string, until: number): Promise<void> {
    await this.#pool.query(
      `UPDATE ${this.#n.runs} SET expires_at = $2 WHERE scheduler_id = $1 AND expires_at >= 0`,
      [owner, until],
    );
  }

  /** Sets the expiry of those claims of `owner` to -1: before any time, and skipped by renewal. */
  async giveUpClaims(owner: string, runs: readonly RunKey[]): Promise<void> {
    if (runs.length === 0) return;
    await this.#pool.query(
      `UPDATE ${this.#n.runs} AS r SET expires_at = -1
       FROM unnest($2::text[], $3::bigint[]) AS c(job_id, run_time)
       WHERE r.scheduler_id = $1 AND r.job_id = c.job_id AND r.run_time = c.run_time`,
      [owner, runs.map((r) => r.jobId), runs.map((r) => r.runTime)],
    );
  }

  /**
   * Gives up nothing: a claim row here does not record the `takeRetries` call that made it, so
   * the claims of a call whose reply was lost cannot be told from this scheduler's other claims
   * (runs going on), and giving up those would report running runs as abandoned. They stay held
   * and renewed while this scheduler lives, as before this path was shared; once it stops they
   * expire and another scheduler reports them as abandoned. Finding them needs a column of the
   * taking call in the runs table (a migration, as the Redis layout's `runs:taker`).
   */
  async giveUpTaken(_owner: string, _callIds: readonly string[]): Promise<void> {}

  async takeAbandonedRuns(now: number, until: number): Promise<RunClaim[]> {
    // Row locks make each expired claim come back to exactly one of the schedulers asking (the
    // second re-checks the expiry after the first has moved it).
    const result = await this.#pool.query<ClaimRecord>(
      `UPDATE ${this.#n.runs} SET expires_at = $2 WHERE expires_at < $1
       RETURNING job_id, run_time, attempt, scheduler_id`,
      [now, until],
    );
    return result.rows.map(runClaimOf);
  }

  /** LISTENs on a connection of its own; calls `onChange` for other processes' notifications. */
  async listen(onChange: () => void): Promise<void> {
    this.#onChange = onChange;
    await this.#track(this.#subscribe());
  }

  async #subscribe(): Promise<void> {
    const client = await this.#pool.connect();
    if (this.#closed) {
      client.release(true);
      return;
    }
    const channel = this.#n.channel;
    let lost = false;
    const onLost = (error: Error) => {
      if (lost) return;
      lost = true;
      if (this.#listener !== client) return;
      this.#listener = null;
      client.release(error);
      if (this.#closed) return;
      this.#logger.warn({ err: error }, 'PostgresJobStore: wake-up hint connection lost, reconnecting');
      this.#scheduleReconnect();
    };
    // Without an 'error' listener a connection cut by the server would crash the process.
    client.on('error', onLost);
    client.on('end', () => onLost(new Error('Connection ended')));
    client.on('notification', (message) => {
      if (this.#listener === client && message.channel === channel && message.payload !== this.#origin) {
        this.#onChange?.();
      }
    });
    try {
      await client.query(`LISTEN "${channel}"`);
    } catch (error) {
      lost = true;
      client.release(true);
      throw error;
    }
    if (lost || this.#closed) {
      // Not the listener yet, so nothing else gives it back.
      lost = true;
      client.release(true);
      if (!this.#closed) throw new Error('Wake-up hint connection lost while subscribing');
      return;
    }
    this.#listener = client;
    // Hints alone never keep the process alive: the scheduler's own timers decide that.
    client.unref?.();
  }

  #scheduleReconnect(): void {
    const delay = this.#reconnectDelay;
    this.#reconnectDelay = Math.min(delay * 2, MAX_RECONNECT_MS);
    this.#reconnect = clock.setTimeout(
      () => {
        this.#reconnect = null;
        if (this.#closed) return;
        this.#track(this.#subscribe()).then(
          () => {
            if (this.#closed) return;
            this.#reconnectDelay = FIRST_RECONNECT_MS;
            this.#logger.info({}, 'PostgresJobStore: wake-up hint connection restored');
            // Hints sent while it was down are lost: look once now.
            this.#onChange?.();
          },
          (error: unknown) => {
            if (this.#closed) return;
            this.#logger.debug(
              { err: error },
              'PostgresJobStore: reconnecting the wake-up hint connection failed',
            );
            this.#scheduleReconnect();
          },
        );
      },
      delay,
      true,
    );
  }

  /** Tells the other processes that jobs changed. Best effort: never throws nor rejects. */
  notify(): void {
    if (this.#closed) return;
    try {
      this.#track(this.#pool.query('SELECT pg_notify($1, $2)', [this.#n.channel, this.#origin])).catch(
        (error: unknown) => {
          this.#logger.debug({ err: error }, 'PostgresJobStore: sending a wake-up hint failed');
        },
      );
    } catch (error) {
      this.#logger.debug({ err: error }, 'PostgresJobStore: sending a wake-up hint failed');
    }
  }
}

/**
 * Whether the retry `r` can be taken: its job is there and not paused, or is gone and the retry
 * has the state to run from; and its run time is not claimed (by another attempt). Scalar
 * subqueries, so each is a primary key lookup per retry read in due order, however the planner
 * estimates a join of the tables.
 */
function retryIsReady(n: TableNames): string {
  return `COALESCE(
      (SELECT j.next_run_time IS NOT NULL FROM ${n.jobs} AS j WHERE j.id = r.job_id),
      r.state IS NOT NULL
    )
    AND (SELECT c.run_time FROM ${n.runs} AS c WHERE c.job_id = r.job_id AND c.run_time = r.run_time) IS NULL`;
}

/**
 * The earliest time `acquire` or `takeRetries` may find work, each part served by an index: the
 * first job whose lease is free (an index scan by next run time that skips the few leased rows),
 * the first end of a lease still running, and the first retry `takeRetries` would take (a scan
 * by due time that skips the rare retries it would not: of a paused job, of a job gone without
 * a state, of a run time claimed again).
 */
export function nextRunTimeSql(n: TableNames): string {
  return `SELECT LEAST(
    (SELECT next_run_time FROM ${n.jobs}
     WHERE next_run_time IS NOT NULL AND (acquired_until IS NULL OR acquired_until <= $1)
     ORDER BY next_run_time LIMIT 1),
    (SELECT min(acquired_until) FROM ${n.jobs} WHERE acquired_until > $1),
    (SELECT r.due_at FROM ${n.retries} AS r WHERE ${retryIsReady(n)} ORDER BY r.due_at LIMIT 1)
  ) AS next`;
}

/** The parameters of `completeRunsSql`, one array each. */
const COMPLETE_RUNS_COLUMNS = 18;

/**
 * Completes claimed runs in one statement: deletes each claim of that (job id, run time,
 * attempt), and for exactly the claims it deleted inserts the history row (in the given order,
 * so ids follow it) and the retry (unless its job is there and paused: a job that is gone is
 * one whose trigger ended, and its retry runs from the state it carries; a retry already
 * waiting is kept).
 */
export function completeRunsSql(n: TableNames): string {
  return `WITH input AS (
    SELECT * FROM unnest(
      $1::text[], $2::bigint[], $3::integer[],
      $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[], $9::text[], $10::text[],
      $11::text[], $12::integer[], $13::text[],
      $14::text[], $15::bigint[], $16::integer[], $17::bigint[], $18::text[]
    ) WITH ORDINALITY AS i(
      job_id, run_time, attempt,
      rec_job_id, job_name, scheduled_run_time, started_at, finished_at, outcome, error,
      retval, rec_attempt, scheduler_id,
      retry_job_id, retry_run_time, retry_attempt, due_at, retry_state,
      ord
    )
  ),
  gone AS (
    DELETE FROM ${n.runs} AS c
    USING input AS i
    WHERE c.job_id = i.job_id AND c.run_time = i.run_time AND c.attempt = i.attempt
    RETURNING i.ord
  ),
  done AS (SELECT * FROM input WHERE ord IN (SELECT ord FROM gone)),
  recorded AS (
    INSERT INTO ${n.history}
      (job_id, job_name, scheduled_run_time, started_at, finished_at, outcome, error, retval, attempt, scheduler_id)
    SELECT rec_job_id, job_name, scheduled_run_time, started_at, finished_at, outcome, error, retval,
      rec_attempt, scheduler_id
    FROM done WHERE rec_job_id IS NOT NULL
    ORDER BY ord
  ),
  retried AS (
    INSERT INTO ${n.retries} (job_id, run_time, attempt, due_at, state)
    SELECT d.retry_job_id, d.retry_run_time, d.retry_attempt, d.due_at, d.retry_state
    FROM done AS d LEFT JOIN ${n.jobs} AS j ON j.id = d.retry_job_id
    WHERE d.retry_job_id IS NOT NULL AND (j.id IS NULL OR j.next_run_time IS NOT NULL)
    ON CONFLICT DO NOTHING
  )
  SELECT count(*) AS completed FROM gone`;
}

/** The query of `runs`: newest first, only the filters given, each a parameter. */
export function runsQuery(n: TableNames, query: RunQueryRow): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const param = (value: unknown, type: string): string => {
    values.push(value);
    return `$${values.length}::${type}`;
  };
  const where: string[] = [];
  if (query.jobId !== undefined) where.push(`job_id = ${param(query.jobId, 'text')}`);
  if (query.outcomes !== undefined) where.push(`outcome = ANY(${param(query.outcomes, 'text[]')})`);
  if (query.since !== undefined) where.push(`finished_at >= ${param(timeParam(query.since), 'bigint')}`);
  if (query.until !== undefined) where.push(`finished_at <= ${param(timeParam(query.until), 'bigint')}`);
  const text = `SELECT job_id, job_name, scheduled_run_time, started_at, finished_at, outcome, error, retval,
      attempt, scheduler_id
    FROM ${n.history}
    ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY finished_at DESC, id DESC
    LIMIT ${param(countParam(query.limit), 'bigint')}`;
  return { text, values };
}

/**
 * Deletes at most $3 history rows: first those finished before $1 (by the finish time index),
 * then, when $2 is not null, each job's rows beyond its newest $2 that finished at $1 or later
 * (the job index, one job after another: its ids come from a skip scan of that index, since
 * the history keeps the rows of removed jobs too). The two sets do not overlap, so a batch
 * never counts a row twice. The rows go by primary key lookups of an array of ids, which no
 * estimate turns into a scan of the whole table.
 */
export function pruneRunsSql(n: TableNames): string {
  return `WITH RECURSIVE job_ids AS (
    (SELECT job_id FROM ${n.history} ORDER BY job_id LIMIT 1)
    UNION ALL
    SELECT (SELECT h.job_id FROM ${n.history} AS h WHERE h.job_id > p.job_id ORDER BY h.job_id LIMIT 1)
    FROM job_ids AS p WHERE p.job_id IS NOT NULL
  ),
  doomed AS (
    (SELECT id FROM ${n.history} WHERE finished_at < $1::bigint ORDER BY finished_at, id LIMIT $3::bigint)
    UNION ALL
    (SELECT x.id FROM job_ids AS p
     CROSS JOIN LATERAL (
       SELECT h.id FROM ${n.history} AS h
       WHERE h.job_id = p.job_id AND h.finished_at >= $1::bigint
       ORDER BY h.finished_at DESC, h.id DESC
       OFFSET $2::bigint LIMIT $3::bigint
     ) AS x
     WHERE $2::bigint IS NOT NULL AND p.job_id IS NOT NULL)
    LIMIT $3::bigint
  )
  DELETE FROM ${n.history} WHERE id = ANY (ARRAY(SELECT id FROM doomed))`;
}
