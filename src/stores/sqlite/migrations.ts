/**
 * The SQLite schema, as numbered migrations applied in order at start. A migration is never
 * edited once released: changes come as a new one.
 */

/** The names a migration's SQL uses (quoted identifiers, derived from the table name). */
export interface SqliteNames {
  jobs: string;
  runs: string;
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
];
