/**
 * The SQLite schema, as numbered migrations applied in order at start. A migration is never
 * edited once released: changes come as a new one.
 */

/** The names a migration's SQL uses (quoted identifiers, derived from the table name). */
export interface SqliteNames {
  /** Jobs: one row per job, with its lease and fencing token. */
  jobs: string;
  /** Run claims: one row per (job id, run time) claimed and not finished, with its attempt. */
  runs: string;
  /** Run history: one row per finished attempt. */
  history: string;
  /** Retries waiting for their time: one row per (job id, run time, attempt). */
  retries: string;
  /** The table name unquoted, the start of every index name. */
  prefix: string;
}

/** One step of the schema. */
export interface SqliteMigration {
  version: number;
  name: string;
  sql(names: SqliteNames): string;
}

/** Every migration, oldest first. */
export const MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    name: 'jobs and run claims',
    sql: ({ jobs, runs, prefix }) => `
      CREATE TABLE ${jobs} (
        id TEXT PRIMARY KEY NOT NULL,
        next_run_time INTEGER,
        state TEXT NOT NULL,
        acquired_by TEXT,
        acquired_until INTEGER,
        token INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX "${prefix}_next_run_time" ON ${jobs} (next_run_time, id)
        WHERE next_run_time IS NOT NULL;
      CREATE TABLE ${runs} (
        job_id TEXT NOT NULL,
        run_time INTEGER NOT NULL,
        scheduler_id TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (job_id, run_time)
      ) WITHOUT ROWID;
      CREATE INDEX "${prefix}_runs_expires_at" ON ${runs} (expires_at);
      CREATE INDEX "${prefix}_runs_scheduler_id" ON ${runs} (scheduler_id);
    `,
  },
  {
    version: 2,
    name: 'run attempts, run history and retries',
    // Claims made before this migration are first attempts. A history id is the rowid, which a
    // new row takes one above the largest there (pruning deletes the oldest, never the newest,
    // and without AUTOINCREMENT no sequence table is written per row), so of two rows with one
    // finished_at the later written has the larger id;
    // both indexes end in that id (the rowid), which orders ties and serves the pruning window.
    // An index of the retries table ends in its key, so due retries come in a fixed order. A
    // retry's state is the job's state JSON when it was made, which runs it once the job is gone.
    sql: ({ runs, history, retries, prefix }) => `
      ALTER TABLE ${runs} ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
      CREATE TABLE ${history} (
        id INTEGER PRIMARY KEY,
        job_id TEXT NOT NULL,
        job_name TEXT NOT NULL,
        scheduled_run_time INTEGER NOT NULL,
        started_at INTEGER,
        finished_at INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        error TEXT,
        retval TEXT,
        attempt INTEGER NOT NULL,
        scheduler_id TEXT NOT NULL
      );
      CREATE INDEX "${prefix}_history_finished_at" ON ${history} (finished_at);
      CREATE INDEX "${prefix}_history_job_id_finished_at" ON ${history} (job_id, finished_at);
      CREATE TABLE ${retries} (
        job_id TEXT NOT NULL,
        run_time INTEGER NOT NULL,
        attempt INTEGER NOT NULL,
        due_at INTEGER NOT NULL,
        state TEXT,
        PRIMARY KEY (job_id, run_time, attempt)
      ) WITHOUT ROWID;
      CREATE INDEX "${prefix}_retries_due_at" ON ${retries} (due_at);
    `,
  },
];
