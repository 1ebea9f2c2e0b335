/**
 * Run history: what `scheduler.getRuns()` returns, and how one run's outcome becomes a history
 * row (error as `{ name, message, stack }`, return value as JSON or its description).
 */
import { describeValue } from './describe.js';
import type { RunOutcomeName, RunRecordRow } from './stores/backend.js';

/** How a run ended. */
export type JobRunOutcome = RunOutcomeName;

/** Every outcome, in the order the README lists them. */
export const RUN_OUTCOMES: readonly JobRunOutcome[] = [
  'success',
  'error',
  'timeout',
  'missed',
  'max_instances',
  'abandoned',
];

/** An error as the history keeps it. */
export interface RunError {
  name: string;
  message: string;
  stack: string | null;
}

/** One run of a job, as `getRuns()` gives it. */
export interface JobRun {
  jobId: string;
  jobName: string;
  /** The alias of the store that holds the run's history. */
  jobstore: string;
  /** The fire time the run was for (every attempt of it has the same). */
  scheduledRunTime: Date;
  /** When the run started; `null` when it never did (missed, max_instances, abandoned). */
  startedAt: Date | null;
  finishedAt: Date;
  outcome: JobRunOutcome;
  /** What it threw (or why it did not run), or `null`. */
  error: RunError | null;
  /** The JSON form of what it returned (its description when it has none), or `null`. */
  retval: unknown;
  /** 1 for the fire time itself, k + 1 for its k-th retry. */
  attempt: number;
  /** The scheduler that ran it (for `abandoned`: the one that claimed it and stopped). */
  schedulerId: string;
}

/** The `getRuns()` query: every field optional. */
export interface RunQuery {
  jobId?: string;
  /** Only runs kept in this store. */
  jobstore?: string;
  outcome?: JobRunOutcome | JobRunOutcome[];
  /** Runs that finished at or after this time. */
  since?: Date | string | number;
  /** Runs that finished at or before this time. */
  until?: Date | string | number;
  /** Most runs to return, newest first. Default 100, at most 10,000. */
  limit?: number;
}

/** The history form of a thrown value, as JSON text. */
export function errorJson(error: unknown): string {
  let out: RunError;
  if (error instanceof Error) {
    out = {
      name: String(error.name),
      message: String(error.message),
      stack: typeof error.stack === 'string' ? error.stack : null,
    };
  } else {
    out = { name: typeof error, message: describeValue(error), stack: null };
  }
  return JSON.stringify(out);
}

/**
 * The history form of a return value, as JSON text: its JSON, `null` when it has none
 * (`undefined`), or its description when it cannot be written as JSON (a BigInt, a cycle, a
 * function, a `toJSON` that throws). Never throws.
 */
export function retvalJson(value: unknown): string | null {
  if (value === undefined) return null;
  try {
    const text = JSON.stringify(value);
    if (text !== undefined) return text;
  } catch {}
  try {
    return JSON.stringify(describeValue(value));
  } catch {
    return JSON.stringify('<a value that cannot be described>');
  }
}

function parseOr(text: string | null, fallback: unknown): unknown {
  if (text === null) return fallback;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A history row as a `JobRun`. */
export function toJobRun(row: RunRecordRow, jobstore: string): JobRun {
  return {
    jobId: row.jobId,
    jobName: row.jobName,
    jobstore,
    scheduledRunTime: new Date(row.scheduledRunTime),
    startedAt: row.startedAt === null ? null : new Date(row.startedAt),
    finishedAt: new Date(row.finishedAt),
    outcome: row.outcome,
    error: parseOr(row.error, null) as RunError | null,
    retval: parseOr(row.retval, null),
    attempt: row.attempt,
    schedulerId: row.schedulerId,
  };
}

/**
 * The latest run of each of `jobs` (keyed by the objects given), for tables that show a job's
 * last outcome: one `getLatestRuns` query per store.
 */
export async function latestRuns<J extends { id: string; jobstore: string }>(
  scheduler: { getLatestRuns(jobIds: readonly string[]): Promise<JobRun[]> },
  jobs: readonly J[],
): Promise<Map<J, JobRun>> {
  const latest = new Map<J, JobRun>();
  if (jobs.length === 0) return latest;
  const byKey = new Map(jobs.map((j) => [`${j.jobstore}\u0000${j.id}`, j]));
  for (const run of await scheduler.getLatestRuns(jobs.map((j) => j.id))) {
    const job = byKey.get(`${run.jobstore}\u0000${run.jobId}`);
    if (job !== undefined && !latest.has(job)) latest.set(job, run);
  }
  return latest;
}

/** A run as JSON (the CLI's `--json` and the dashboard's API): dates as ISO strings, and its duration. */
export function runToJSON(run: JobRun): Record<string, unknown> {
  return {
    jobId: run.jobId,
    jobName: run.jobName,
    jobstore: run.jobstore,
    outcome: run.outcome,
    attempt: run.attempt,
    scheduledRunTime: run.scheduledRunTime.toISOString(),
    startedAt: run.startedAt?.toISOString() ?? null,
    finishedAt: run.finishedAt.toISOString(),
    durationMs: run.startedAt === null ? null : run.finishedAt.getTime() - run.startedAt.getTime(),
    error: run.error,
    retval: run.retval,
    schedulerId: run.schedulerId,
  };
}
