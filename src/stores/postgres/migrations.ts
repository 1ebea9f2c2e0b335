/**
 * The PostgresJobStore schema, as numbered migrations applied in order at start, and how they
 * are applied. A migration is never edited once released: a schema change is a new one at the end.
 */
import { createHash } from 'node:crypto';
import { SchemaVersionError } from '../../errors.js';
import type { PostgresPool } from './backend.js';

/** The quoted names of a store's tables and indexes, all derived from its table name. */
export interface TableNames {
  /** Jobs: one row per job, with its lease and fencing token. */
  jobs: string;
  /** Run claims: one row per (job id, run time) a scheduler claimed and has not finished. */
  runs: string;
  /** Run history: one row per finished attempt. */
  history: string;
  /** Retries waiting for their time: one row per (job id, run time, attempt), with the job's state. */
  retries: string;
  /** Applied migrations. */
  migrations: string;
  /** Index of jobs by next run time (due jobs, the earliest one). */
  dueIndex: string;
  /** Index of leased jobs by lease end. */
  leaseIndex: string;
  /** Index of run claims by expiry (abandoned runs). */
  runsExpiryIndex: string;
  /** Index of run claims by scheduler (heartbeats). */
  runsOwnerIndex: string;
  /** Index of history rows by finish time (pruning by age; the newest rows of all jobs). */
  historyFinishedIndex: string;
  /** Index of history rows by job, newest first (one job's rows, pruning beyond a count per job). */
  historyJobIndex: string;
  /** Index of waiting retries by due time. */
  retriesDueIndex: string;
  /** The LISTEN/NOTIFY channel (unquoted: it is also passed as a value to pg_notify). */
  channel: string;
}

// Postgres cuts identifiers at 63 bytes without an error, so two derived names could end up the
// same: the longest suffix below (16 characters) bounds the table name at 47.
const SUFFIXES = {
  runs: '_runs',
  migrations: '_migrations',
  dueIndex: '_due_idx',
  leaseIndex: '_lease_idx',
  runsExpiryIndex: '_runs_expiry_idx',
  runsOwnerIndex: '_runs_owner_idx',
  history: '_history',
  retries: '_retries',
  historyFinishedIndex: '_history_fin_idx',
  historyJobIndex: '_history_job_idx',
  retriesDueIndex: '_retries_due_idx',
  channel: '_wakeup',
};

/** What a table name must match: an SQL identifier short enough for every derived name. */
export const TABLE_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,46}$/;

/** Quotes an identifier already checked against `TABLE_NAME_PATTERN` (plus a fixed suffix). */
function quote(name: string): string {
  return `"${name}"`;
}

/** Every name derived from `table` (checked against `TABLE_NAME_PATTERN` by the caller). */
export function tableNames(table: string): TableNames {
  return {
    jobs: quote(table),
    runs: quote(table + SUFFIXES.runs),
    migrations: quote(table + SUFFIXES.migrations),
    dueIndex: quote(table + SUFFIXES.dueIndex),
    leaseIndex: quote(table + SUFFIXES.leaseIndex),
    runsExpiryIndex: quote(table + SUFFIXES.runsExpiryIndex),
    runsOwnerIndex: quote(table + SUFFIXES.runsOwnerIndex),
    history: quote(table + SUFFIXES.history),
    retries: quote(table + SUFFIXES.retries),
    historyFinishedIndex: quote(table + SUFFIXES.historyFinishedIndex),
    historyJobIndex: quote(table + SUFFIXES.historyJobIndex),
    retriesDueIndex: quote(table + SUFFIXES.retriesDueIndex),
    channel: table + SUFFIXES.channel,
  };
}

/** One schema change. */
export interface Migration {
  /** Applied in increasing order, each once per table. */
  version: number;
  /** What it does, kept in the migrations table for people reading it. */
  name: string;
  /** The statements (no parameters: only names checked against `TABLE_NAME_PATTERN`). */
  sql(names: TableNames): string;
}

/** The schema's migrations, oldest first. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'jobs with leases and fencing tokens; run claims',
    // Times are epoch milliseconds (bigint), as the store contract has them. The state is text,
    // not jsonb: it keeps the exact JSON the store wrote (jsonb rejects the "\u0000" and lone
    // surrogate escapes JSON.stringify may produce, and reorders keys). Ids sort bytewise
    // ("C"), the same in every database locale.
    sql: (n) => `
      CREATE TABLE ${n.jobs} (
        id text COLLATE "C" PRIMARY KEY,
        next_run_time bigint,
        state text NOT NULL,
        acquired_by text,
        acquired_until bigint,
        token bigint NOT NULL DEFAULT 0
      );
      CREATE INDEX ${n.dueIndex} ON ${n.jobs} (next_run_time, id) WHERE next_run_time IS NOT NULL;
      CREATE INDEX ${n.leaseIndex} ON ${n.jobs} (acquired_until) WHERE acquired_until IS NOT NULL;
      CREATE TABLE ${n.runs} (
        job_id text COLLATE "C" NOT NULL,
        run_time bigint NOT NULL,
        scheduler_id text NOT NULL,
        expires_at bigint NOT NULL,
        PRIMARY KEY (job_id, run_time)
      );
      CREATE INDEX ${n.runsExpiryIndex} ON ${n.runs} (expires_at);
      CREATE INDEX ${n.runsOwnerIndex} ON ${n.runs} (scheduler_id);
    `,
  },
  {
    version: 2,
    name: 'attempts of run claims; run history; waiting retries',
    // Existing claims are first attempts (a constant default: no table rewrite). History ids
    // order rows finished in the same millisecond, the later written first. The (finished_at, id)
    // index serves pruning by age and, read backwards, the newest rows of all jobs; the
    // (job_id, finished_at DESC, id DESC) one serves one job's rows and pruning beyond a count
    // per job. Outcomes are plain text: a new outcome needs no migration. A retry keeps the
    // state JSON of its job (text, as the jobs table has it), for a job whose trigger has ended
    // and which is gone by the time the retry runs.
    sql: (n) => `
      ALTER TABLE ${n.runs} ADD COLUMN attempt integer NOT NULL DEFAULT 1;
      CREATE TABLE ${n.history} (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        job_id text COLLATE "C" NOT NULL,
        job_name text NOT NULL,
        scheduled_run_time bigint NOT NULL,
        started_at bigint,
        finished_at bigint NOT NULL,
        outcome text NOT NULL,
        error text,
        retval text,
        attempt integer NOT NULL,
        scheduler_id text NOT NULL
      );
      CREATE INDEX ${n.historyFinishedIndex} ON ${n.history} (finished_at, id);
      CREATE INDEX ${n.historyJobIndex} ON ${n.history} (job_id, finished_at DESC, id DESC);
      CREATE TABLE ${n.retries} (
        job_id text COLLATE "C" NOT NULL,
        run_time bigint NOT NULL,
        attempt integer NOT NULL,
        due_at bigint NOT NULL,
        state text,
        PRIMARY KEY (job_id, run_time, attempt)
      );
      CREATE INDEX ${n.retriesDueIndex} ON ${n.retries} (due_at);
    `,
  },
];

/** A 64-bit advisory lock key for a table's migrations, the same in every process. */
function lockKey(name: string): string {
  return createHash('sha256').update(`tickwork:migrations:${name}`).digest().readBigInt64BE(0).toString();
}

/**
 * Applies the migrations not applied yet, in one transaction under an advisory lock, so processes
 * starting together take turns. Rejects when the table has a migration this code does not know.
 */
export async function migrate(
  pool: PostgresPool,
  n: TableNames,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<void> {
  const client = await pool.connect();
  let failed = false;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey(n.migrations)]);
    // Looked up first, so a role without CREATE rights can use tables made by another.
    const found = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [n.migrations]);
    if (found.rows[0].t === null) {
      await client.query(
        `CREATE TABLE ${n.migrations} (
          version integer PRIMARY KEY,
          name text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`,
      );
    }
    const applied = await client.query<{ version: number }>(`SELECT version FROM ${n.migrations}`);
    const done = new Set(applied.rows.map((r) => r.version));
    const latest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
    const newest = Math.max(0, ...done);
    if (newest > latest) {
      throw new SchemaVersionError(
        `Table ${n.jobs} has schema version ${newest}, newer than this tickwork knows (${latest}): upgrade tickwork`,
        newest,
        latest,
      );
    }
    for (const migration of migrations) {
      if (done.has(migration.version)) continue;
      await client.query(migration.sql(n));
      await client.query(`INSERT INTO ${n.migrations} (version, name) VALUES ($1, $2)`, [
        migration.version,
        migration.name,
      ]);
    }
    await client.query('COMMIT');
  } catch (error) {
    failed = true;
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    // After a failure the connection may be dead or mid-transaction: close it, do not pool it.
    client.release(failed);
  }
}
