/**
 * The StoreBackend of PostgresJobStore, on a `pg`-like pool: every operation is one statement
 * (batched through arrays, so a pass over 10,000 jobs is one round trip), migrations run under
 * an advisory lock, and LISTEN/NOTIFY carries wake-up hints between processes.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../logger.js';
import { clock, type TimerHandle } from '../../time/clock.js';
import type { AcquiredRow, ReleaseRow, RunClaim, StoreBackend } from '../backend.js';
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
  scheduler_id: string;
}

// bigint columns come back from pg as strings (they may exceed 2^53; epoch ms never do).
const toRow = (r: JobRecord): JobRow => ({
  id: r.id,
  nextRunTime: r.next_run_time === null ? null : Number(r.next_run_time),
  state: r.state,
});

const byRunTimeThenId = (a: AcquiredRow, b: AcquiredRow): number =>
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
  // Run claims of a release that failed (it may have been applied anyway): expired at the next
  // acquire, so they are reported as abandoned instead of renewed forever.
  #doubtfulRuns: Array<{ jobId: string; runTime: number }> = [];
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

  async get(id: string): Promise<JobRow | null> {
    const result = await this.#pool.query<JobRecord>(
      `SELECT id, next_run_time, state FROM ${this.#n.jobs} WHERE id = $1`,
      [id],
    );
    return result.rows.length === 0 ? null : toRow(result.rows[0]);
  }

  async all(): Promise<JobRow[]> {
    const result = await this.#pool.query<JobRecord>(
      `SELECT id, next_run_time, state FROM ${this.#n.jobs} ORDER BY next_run_time ASC NULLS LAST, id`,
    );
    return result.rows.map(toRow);
  }

  async due(now: number): Promise<JobRow[]> {
    const result = await this.#pool.query<JobRecord>(
      `SELECT id, next_run_time, state FROM ${this.#n.jobs}
       WHERE next_run_time <= $1 ORDER BY next_run_time, id`,
      [now],
    );
    return result.rows.map(toRow);
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
    const result = await this.#pool.query(
      `UPDATE ${this.#n.jobs}
       SET next_run_time = $2, state = $3, acquired_by = NULL, acquired_until = NULL, token = token + 1
       WHERE id = $1`,
      [row.id, row.nextRunTime, row.state],
    );
    return result.rowCount === 1;
  }

  async remove(id: string): Promise<boolean> {
    const n = this.#n;
    const result = await this.#pool.query<{ removed: string }>(
      `WITH job AS (DELETE FROM ${n.jobs} WHERE id = $1 RETURNING id),
            claims AS (DELETE FROM ${n.runs} WHERE job_id = $1)
       SELECT count(*) AS removed FROM job`,
      [id],
    );
    return Number(result.rows[0].removed) > 0;
  }

  async removeAll(): Promise<void> {
    // DELETE rather than TRUNCATE: TRUNCATE would wait for, and block, every other scheduler.
    await this.#pool.query(`WITH claims AS (DELETE FROM ${this.#n.runs}) DELETE FROM ${this.#n.jobs}`);
  }

  async acquire(
    owner: string,
    now: number,
    leaseUntil: number,
    limit: number,
    skip: readonly string[] = [],
  ): Promise<AcquiredRow[]> {
    const n = this.#n;
    if (this.#doubtfulRuns.length > 0) {
      // Claims of a release whose reply was lost: if it was applied, nobody runs them. Expire
      // them (renewal skips them) so the next look for abandoned runs reports them.
      const runs = this.#doubtfulRuns;
      await this.#pool.query(
        `UPDATE ${n.runs} AS r SET expires_at = -1
         FROM unnest($2::text[], $3::bigint[]) AS c(job_id, run_time)
         WHERE r.scheduler_id = $1 AND r.job_id = c.job_id AND r.run_time = c.run_time`,
        [owner, runs.map((r) => r.jobId), runs.map((r) => r.runTime)],
      );
      this.#doubtfulRuns = [];
    }
    // SKIP LOCKED: schedulers acquiring at the same moment take different jobs instead of waiting.
    const result = await this.#pool.query<JobRecord & { token: string }>(
      `WITH picked AS (
         SELECT id FROM ${n.jobs}
         WHERE next_run_time <= $2 AND (acquired_until IS NULL OR acquired_until <= $2 OR acquired_by = $1)
           AND NOT (id = ANY($5::text[]))
         ORDER BY next_run_time, id
         LIMIT $4
         FOR UPDATE SKIP LOCKED
       )
       UPDATE ${n.jobs} AS j
       SET acquired_by = $1, acquired_until = $3, token = j.token + 1
       FROM picked WHERE j.id = picked.id
       RETURNING j.id, j.next_run_time, j.state, j.token`,
      [owner, now, leaseUntil, limit, skip],
    );
    return result.rows.map((r) => ({ ...toRow(r), token: Number(r.token) })).sort(byRunTimeThenId);
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
    let result: { rows: Array<{ id: string; run_time: string | null }> };
    try {
      result = await this.#pool.query<{ id: string; run_time: string | null }>(
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
    } catch (error) {
      for (let i = 0; i < claimIds.length; i++)
        this.#doubtfulRuns.push({ jobId: claimIds[i], runTime: claimTimes[i] });
      throw error;
    }
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

  async completeRuns(runs: Array<{ jobId: string; runTime: number }>): Promise<void> {
    if (runs.length === 0) return;
    await this.#pool.query(
      `DELETE FROM ${this.#n.runs} AS r
       USING unnest($1::text[], $2::bigint[]) AS c(job_id, run_time)
       WHERE r.job_id = c.job_id AND r.run_time = c.run_time`,
      [runs.map((r) => r.jobId), runs.map((r) => r.runTime)],
    );
  }

  async renewRuns(owner: string, until: number): Promise<void> {
    await this.#pool.query(
      `UPDATE ${this.#n.runs} SET expires_at = $2 WHERE scheduler_id = $1 AND expires_at >= 0`,
      [owner, until],
    );
  }

  async takeAbandonedRuns(now: number, until: number): Promise<RunClaim[]> {
    // Row locks make each expired claim come back to exactly one of the schedulers asking (the
    // second re-checks the expiry after the first has moved it).
    const result = await this.#pool.query<ClaimRecord>(
      `UPDATE ${this.#n.runs} SET expires_at = $2 WHERE expires_at < $1
       RETURNING job_id, run_time, scheduler_id`,
      [now, until],
    );
    return result.rows.map((r) => ({
      jobId: r.job_id,
      runTime: Number(r.run_time),
      schedulerId: r.scheduler_id,
    }));
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
 * The earliest time `acquire` may find work, each part served by a partial index: the first
 * job whose lease is free (an index scan by next run time that skips the few leased rows), and
 * the first end of a lease still running.
 */
export function nextRunTimeSql(n: TableNames): string {
  return `SELECT LEAST(
    (SELECT next_run_time FROM ${n.jobs}
     WHERE next_run_time IS NOT NULL AND (acquired_until IS NULL OR acquired_until <= $1)
     ORDER BY next_run_time LIMIT 1),
    (SELECT min(acquired_until) FROM ${n.jobs} WHERE acquired_until > $1)
  ) AS next`;
}
