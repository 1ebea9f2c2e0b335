/**
 * Run history and retries on the scheduler's side: turns how runs ended into what the stores
 * write as each run's claim goes (its history row, its retry), answers `getRuns()`, and prunes
 * the history now and then (never on the path of a run).
 */
import { badNumber } from '../checks.js';
import { describeValue } from '../describe.js';
import type { RunEnd } from '../executors/base.js';
import type { Job } from '../job.js';
import { nextTryAt } from '../retry.js';
import { errorJson, type JobRun, RUN_OUTCOMES, type RunQuery, retvalJson, toJobRun } from '../runs.js';
import type { FinishedRunRow, RunOutcomeName, RunQueryRow, RunRecordRow } from '../stores/backend.js';
import type { JobStore } from '../stores/base.js';
import { clock } from '../time/clock.js';
import { toEpochMs } from '../time/inputs.js';
import { getZone } from '../time/zone.js';
import type { RunHistorySettings } from './options.js';

/** `getRuns()`'s default and largest `limit`. */
export const DEFAULT_RUNS_LIMIT = 100;
export const MAX_RUNS_LIMIT = 10_000;
/** How often the history is pruned while the scheduler runs (ms). */
export const PRUNE_INTERVAL_MS = 60_000;

/** A run that ended without starting, as the scheduler reports it. */
export interface UnstartedRun {
  runTime: Date;
  attempt: number;
  outcome: Extract<RunOutcomeName, 'missed' | 'max_instances' | 'abandoned'>;
  error?: unknown;
  /** The scheduler that claimed it (abandoned runs), else this one. */
  schedulerId?: string;
}

/** Builds finished-run rows for one scheduler. */
export class RunRecorder {
  constructor(
    private readonly schedulerId: () => string,
    private readonly history: () => RunHistorySettings | null,
  ) {}

  /** Whether runs are recorded at all (executors then report outcomes). */
  get recording(): boolean {
    return this.history() !== null;
  }

  /**
   * The rows for one instance that ended: one per run time, with its history row (when the
   * history is on) and its retry (when the executor said it is tried again). Runs without an
   * outcome (dropped unstarted at shutdown) only complete their claims.
   */
  instanceEnded(
    job: Job,
    runTimes: Date[],
    attempt: number,
    outcomes: RunEnd[] | undefined,
  ): FinishedRunRow[] {
    const rows: FinishedRunRow[] = [];
    const recording = this.recording;
    let k = 0;
    for (const runTime of runTimes) {
      const ms = runTime.getTime();
      const row: FinishedRunRow = { jobId: job.id, runTime: ms, attempt };
      const end =
        outcomes !== undefined && k < outcomes.length && outcomes[k].runTime === runTime
          ? outcomes[k++]
          : undefined;
      if (end !== undefined) {
        if (recording) {
          row.record = {
            jobId: job.id,
            jobName: job.name,
            scheduledRunTime: ms,
            startedAt: end.startedAt,
            finishedAt: end.finishedAt,
            outcome: end.outcome,
            error: end.outcome === 'error' || end.outcome === 'timeout' ? errorJson(end.error) : null,
            retval: end.outcome === 'success' ? retvalJson(end.retval) : null,
            attempt,
            schedulerId: this.schedulerId(),
          };
        }
        if (end.retryAt !== null) {
          row.retry = { jobId: job.id, runTime: ms, attempt: attempt + 1, dueAt: end.retryAt };
          row.job = job;
        }
      }
      rows.push(row);
    }
    return rows;
  }

  /**
   * The row of a run that never started: missed, refused for `maxInstances`, or abandoned (then
   * tried again when the job's `retry.on` has `'abandoned'`; `retryAt` says when).
   */
  unstarted(
    job: Job | null,
    jobId: string,
    run: UnstartedRun,
  ): { row: FinishedRunRow; retryAt: number | null } {
    const ms = run.runTime.getTime();
    const row: FinishedRunRow = { jobId, runTime: ms, attempt: run.attempt };
    const now = clock.now();
    if (this.recording) {
      row.record = {
        jobId,
        jobName: job?.name ?? jobId,
        scheduledRunTime: ms,
        startedAt: null,
        finishedAt: now,
        outcome: run.outcome,
        error: run.error === undefined ? null : errorJson(run.error),
        retval: null,
        attempt: run.attempt,
        schedulerId: run.schedulerId ?? this.schedulerId(),
      };
    }
    let retryAt: number | null = null;
    if (run.outcome === 'abandoned' && job !== null && job.retry !== null) {
      retryAt = nextTryAt(job.retry, run.attempt, 'abandoned', now);
      if (retryAt !== null) {
        row.retry = { jobId, runTime: ms, attempt: run.attempt + 1, dueAt: retryAt };
        row.job = job;
      }
    }
    return { row, retryAt };
  }
}

const QUERY_KEYS = ['jobId', 'jobstore', 'outcome', 'since', 'until', 'limit'];

/** Checks a `getRuns()` query; throws naming the field and the value. */
export function checkRunQuery(
  query: unknown,
  timezone: string,
): { row: RunQueryRow; jobstore: string | undefined } {
  if (query === undefined) return { row: { limit: DEFAULT_RUNS_LIMIT }, jobstore: undefined };
  if (typeof query !== 'object' || query === null || Array.isArray(query)) {
    throw new TypeError(`Expected the getRuns query to be an object, got ${describeValue(query)}`);
  }
  const q = query as RunQuery & Record<string, unknown>;
  for (const key of Object.keys(q)) {
    if (!QUERY_KEYS.includes(key)) {
      throw new TypeError(
        `Unknown getRuns query field ${JSON.stringify(key)} (expected one of ${QUERY_KEYS.join(', ')})`,
      );
    }
  }
  const row: RunQueryRow = { limit: DEFAULT_RUNS_LIMIT };
  if (q.jobId !== undefined) {
    if (typeof q.jobId !== 'string')
      throw new TypeError(`Expected jobId to be a string, got ${describeValue(q.jobId)}`);
    row.jobId = q.jobId;
  }
  if (q.jobstore !== undefined && (typeof q.jobstore !== 'string' || q.jobstore === '')) {
    throw new TypeError(`Expected jobstore to be a non-empty string, got ${describeValue(q.jobstore)}`);
  }
  if (q.outcome !== undefined) {
    const list = Array.isArray(q.outcome) ? q.outcome : [q.outcome];
    for (const o of list) {
      if (!RUN_OUTCOMES.includes(o)) {
        throw new TypeError(
          `Expected outcome to be one or a list of ${RUN_OUTCOMES.map((x) => JSON.stringify(x)).join(', ')}, got ${describeValue(o)}`,
        );
      }
    }
    row.outcomes = [...new Set(list)];
  }
  const zone = getZone(timezone);
  if (q.since !== undefined) row.since = toEpochMs(q.since, zone, 'since');
  if (q.until !== undefined) row.until = toEpochMs(q.until, zone, 'until');
  if (q.limit !== undefined) {
    if (
      typeof q.limit !== 'number' ||
      !Number.isInteger(q.limit) ||
      q.limit < 1 ||
      q.limit > MAX_RUNS_LIMIT
    ) {
      badNumber('limit', `an integer from 1 to ${MAX_RUNS_LIMIT}`, q.limit);
    }
    row.limit = q.limit;
  }
  return { row, jobstore: q.jobstore };
}

/** Reads the history of `stores`, newest first across them. */
/** Checks the job ids of `getLatestRuns`: an array of strings (duplicates dropped). */
export function checkJobIds(jobIds: unknown): string[] {
  if (!Array.isArray(jobIds)) {
    throw new TypeError(`Expected jobIds to be an array of job ids, got ${describeValue(jobIds)}`);
  }
  for (const [i, id] of jobIds.entries()) {
    if (typeof id !== 'string') {
      throw new TypeError(`Expected jobIds[${i}] to be a string, got ${describeValue(id)}`);
    }
  }
  return [...new Set(jobIds as string[])];
}

/** The newest run of each job in each store, newest first (`Scheduler.getLatestRuns`). */
export async function readLatestRuns(stores: Array<[string, JobStore]>, jobIds: string[]): Promise<JobRun[]> {
  const all: JobRun[] = [];
  if (jobIds.length === 0) return all;
  for (const [alias, store] of stores) {
    let rows: RunRecordRow[];
    if (store.getLatestRuns !== undefined) {
      rows = await store.getLatestRuns(jobIds);
    } else if (store.getRuns !== undefined) {
      const getRuns = store.getRuns.bind(store);
      rows = (await Promise.all(jobIds.map((jobId) => getRuns({ jobId, limit: 1 })))).flat();
    } else {
      continue;
    }
    for (const row of rows) all.push(toJobRun(row, alias));
  }
  return all.sort((a, b) => b.finishedAt.getTime() - a.finishedAt.getTime());
}

export async function readRuns(stores: Array<[string, JobStore]>, query: RunQueryRow): Promise<JobRun[]> {
  const all: JobRun[] = [];
  for (const [alias, store] of stores) {
    if (store.getRuns === undefined) continue;
    for (const row of await store.getRuns(query)) all.push(toJobRun(row, alias));
  }
  if (stores.length > 1) all.sort((a, b) => b.finishedAt.getTime() - a.finishedAt.getTime());
  return all.length > query.limit ? all.slice(0, query.limit) : all;
}

/**
 * Prunes the history of every store at most once per `PRUNE_INTERVAL_MS`, when the run loop
 * asks after a pass (the loop wakes at least once a minute): no timer of its own, and never on
 * the path of a run.
 */
export class HistoryPruner {
  #nextAt = 0;
  #running: Promise<void> | null = null;

  constructor(
    private readonly stores: Map<string, JobStore>,
    private readonly history: () => RunHistorySettings | null,
    private readonly warn: (error: unknown, alias: string) => void,
  ) {}

  /** Starts a prune in the background when one is due. */
  maybePrune(): void {
    if (this.#running !== null || this.history() === null) return;
    const now = clock.now();
    if (now < this.#nextAt) return;
    this.#nextAt = now + PRUNE_INTERVAL_MS;
    this.#running = this.pruneNow().finally(() => {
      this.#running = null;
    });
  }

  /** Resolves once a prune under way is done. */
  async idle(): Promise<void> {
    await this.#running;
  }

  /** Prunes every store once; a store that fails is logged and pruned next time. */
  async pruneNow(): Promise<void> {
    const limits = this.history();
    if (limits === null) return;
    const before = clock.now() - limits.maxAge * 1000;
    for (const [alias, store] of this.stores) {
      if (store.pruneRuns === undefined) continue;
      try {
        await store.pruneRuns(before, limits.maxPerJob);
      } catch (error) {
        this.warn(error, alias);
      }
    }
  }
}
