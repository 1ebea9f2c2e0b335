/**
 * Several scheduler processes sharing one store, for the exactly-once test and the cluster bench:
 * store setups (one entry per store kind), the child processes, the shared ledger they write, the
 * check that every expected (job, fire time) pair ran exactly once or is accounted for (each
 * attempt of it, for jobs that fail and are tried again), and the check of the run history
 * against the ledger.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BackgroundScheduler,
  type Job,
  JobAbandonedError,
  type JobRun,
  type RetryOptions,
  registerTask,
} from '../../src/index.js';
import type { ProcessConfig } from '../fixtures/stores/scheduler-process.js';
import { startPostgres } from './postgres-server.js';
import { startRedis } from './redis-server.js';
import { makeStore, type StoreConfig } from './store-config.js';
import { pollUntil, sleep } from './wait.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FIXTURE = join(ROOT, 'test', 'fixtures', 'stores', 'scheduler-process.ts');

/** Lease and poll settings of a store under test, in seconds. */
export interface StoreTiming {
  leaseTime: number;
  pollInterval: number;
}

/** A started store kind: it hands out fresh, empty stores (own file, table or key prefix). */
export interface StoreInstance {
  config(name: string, timing: StoreTiming): StoreConfig;
  destroy(): Promise<void>;
}

/** One store kind the cluster test and bench run on. */
export interface StoreSetup {
  name: string;
  /**
   * Starts what the store needs (a temp directory, a throwaway server); `durable` keeps the
   * server's default durability (Postgres fsync and synchronous_commit on), for benchmarks.
   */
  start(options?: { durable?: boolean }): Promise<StoreInstance>;
}

/** The stores of the cluster test and bench; adding a store is one entry here. */
export const STORE_SETUPS: StoreSetup[] = [
  {
    name: 'sqlite',
    async start() {
      const dir = await mkdtemp(join(tmpdir(), 'tickwork-cluster-sqlite-'));
      return {
        config: (name, timing) => ({ kind: 'sqlite', path: join(dir, `${name}.db`), ...timing }),
        destroy: () => rm(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'postgres',
    async start(options) {
      const server = await startPostgres({ durable: options?.durable });
      return {
        config: (name, timing) => ({
          kind: 'postgres',
          connectionString: server.connectionString,
          tableName: `cluster_${name.replace(/[^A-Za-z0-9_]/g, '_')}`,
          ...timing,
        }),
        destroy: () => server.destroy(),
      };
    },
  },
  {
    name: 'redis',
    async start() {
      const server = await startRedis();
      return {
        config: (name, timing) => ({
          kind: 'redis',
          url: server.url,
          keyPrefix: `cluster:${name}:`,
          ...timing,
        }),
        destroy: () => server.destroy(),
      };
    },
  },
];

/** The setups named in the environment variable (comma-separated), or all of them. */
export function selectedSetups(variable = 'CLUSTER_STORES'): StoreSetup[] {
  const wanted = process.env[variable]?.split(',').map((s) => s.trim());
  if (wanted === undefined) return STORE_SETUPS;
  const unknown = wanted.filter((w) => !STORE_SETUPS.some((s) => s.name === w));
  if (unknown.length > 0) {
    throw new TypeError(
      `Expected ${variable} to name stores of ${STORE_SETUPS.map((s) => s.name).join(', ')}, got ${unknown.join(', ')}`,
    );
  }
  return STORE_SETUPS.filter((s) => wanted.includes(s.name));
}

/** One scheduler process running the shared fixture. */
export class SchedulerProcess {
  readonly child: ChildProcess;
  ready = false;
  exited: string | null = null;
  #output = '';

  constructor(readonly config: ProcessConfig) {
    this.child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, JSON.stringify(config)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(this);
    const keep = (chunk: Buffer) => {
      // Keep the end of what it printed, for failure messages.
      this.#output = (this.#output + chunk.toString('utf8')).slice(-8_000);
      if (!this.ready && /^ready$/m.test(this.#output)) this.ready = true;
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.child.once('exit', (code, signal) => {
      this.exited = signal ?? `exit code ${code}`;
      live.delete(this);
    });
  }

  get id(): string {
    return this.config.schedulerId;
  }

  /** What it printed last (stdout and stderr). */
  get output(): string {
    return this.#output;
  }

  /** Sends a signal unless it has exited. */
  signal(signal: NodeJS.Signals): void {
    if (this.exited === null) this.child.kill(signal);
  }

  /** SIGTERM (graceful), then SIGKILL if it has not exited within `graceMs`; true if graceful. */
  async stop(graceMs: number): Promise<boolean> {
    this.signal('SIGTERM');
    if (await pollUntil(() => this.exited !== null, Date.now() + graceMs, 20)) return true;
    this.signal('SIGKILL');
    await pollUntil(() => this.exited !== null, Date.now() + 5_000, 20);
    return false;
  }
}

const live = new Set<SchedulerProcess>();
// A test process that dies without its cleanup must not leave schedulers running.
process.on('exit', () => {
  for (const p of live) p.signal('SIGKILL');
});

/** SIGKILLs every scheduler process still running (for afterEach/afterAll). */
export function killAllSchedulerProcesses(): void {
  for (const p of live) p.signal('SIGKILL');
}

/** One ledger line. */
export interface LedgerLine {
  kind: 'run' | 'failed' | 'missed' | 'max_instances' | 'abandoned' | 'error';
  jobId: string;
  runTime: string;
  schedulerId: string;
  /** 1 for the fire time itself, k + 1 for its k-th retry (1 when the line does not say). */
  attempt: number;
  /** `abandoned`: the scheduler whose claim ran out; `error`: the message; else empty. */
  rest: string;
}

const KINDS: ReadonlySet<string> = new Set([
  'run',
  'failed',
  'missed',
  'max_instances',
  'abandoned',
  'error',
]);

/**
 * Parses the ledger; lines that do not parse (or name an attempt that is not an integer from 1)
 * come back as errors, so they fail the check. `run` lines end with the attempt, `abandoned`
 * lines with the claimer and then the attempt; a line without one is of attempt 1.
 */
export function parseLedger(text: string): LedgerLine[] {
  const lines: LedgerLine[] = [];
  for (const raw of text.split('\n')) {
    if (raw === '') continue;
    const [kind, jobId, runTime, schedulerId, ...rest] = raw.split(' ');
    if (KINDS.has(kind) && schedulerId !== undefined) {
      const line = { kind, jobId, runTime, schedulerId, attempt: 1, rest: '' } as LedgerLine;
      let attempt: string | undefined;
      if (kind === 'error') line.rest = rest.join(' ');
      else if (kind === 'abandoned') [line.rest, attempt] = rest;
      else if (kind === 'run' || kind === 'failed' || kind === 'max_instances') [attempt] = rest;
      line.attempt = attempt === undefined && kind !== 'failed' ? 1 : Number(attempt);
      if (Number.isInteger(line.attempt) && line.attempt >= 1) {
        lines.push(line);
        continue;
      }
    }
    lines.push({
      kind: 'error',
      jobId: '?',
      runTime: '?',
      schedulerId: '?',
      attempt: 1,
      rest: `unparsed line: ${raw}`,
    });
  }
  return lines;
}

/** Reads the ledger (empty if not written yet). */
export function readLedger(path: string): LedgerLine[] {
  try {
    return parseLedger(readFileSync(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** The (job, fire time) pairs of `count` interval jobs `job-<i>` firing every `seconds` from start to end. */
export function expectedPairs(count: number, seconds: number, start: number, end: number): Set<string> {
  const pairs = new Set<string>();
  for (let i = 0; i < count; i++) {
    for (let t = start; t <= end; t += seconds * 1000) pairs.add(`job-${i} ${new Date(t).toISOString()}`);
  }
  return pairs;
}

/**
 * The jobs that fail and are tried again (job option `retry` with `attempts` at least
 * `failAttempts`, on errors): attempts 1 to `failAttempts` of each of their runs fail, the one after
 * succeeds.
 */
export interface RetryPlan {
  isRetrying(jobId: string): boolean;
  failAttempts: number;
}

/** What the ledger says, and everything in it that breaks the exactly-once promise. */
export interface LedgerReport {
  expected: number;
  /** Runs started (every attempt). */
  runs: number;
  /** Runs that failed as planned (reported by `job_error`). */
  failed: number;
  /** Pairs of a retrying job whose last attempt (`failAttempts + 1`) ran. */
  completedRetries: number;
  missed: number;
  /** Runs not started because the job had maxInstances runs going (an outcome, reported). */
  maxInstances: number;
  abandoned: number;
  errors: number;
  /** Attempts both run (by the killed process) and reported abandoned (its claim was not completed). */
  runAndAbandoned: number;
  runsByScheduler: Record<string, number>;
  /** Every violation, one line each (empty when the promise held). */
  problems: string[];
}

/** A pair's lines by attempt. */
export interface Attempts {
  runs: Map<number, LedgerLine[]>;
  failed: Map<number, LedgerLine[]>;
  abandoned: Map<number, LedgerLine[]>;
  /** Refused for `maxInstances`: such an attempt is recorded and not tried again. */
  refused: Map<number, LedgerLine[]>;
}

/** The `run`, `failed`, `abandoned` and `max_instances` lines of one (job, run time) pair, by attempt. */
export function byAttempt(list: LedgerLine[]): Attempts {
  const out: Attempts = { runs: new Map(), failed: new Map(), abandoned: new Map(), refused: new Map() };
  for (const line of list) {
    const map =
      line.kind === 'run'
        ? out.runs
        : line.kind === 'failed'
          ? out.failed
          : line.kind === 'abandoned'
            ? out.abandoned
            : line.kind === 'max_instances'
              ? out.refused
              : null;
    if (map === null) continue;
    const at = map.get(line.attempt);
    if (at === undefined) map.set(line.attempt, [line]);
    else at.push(line);
  }
  return out;
}

/**
 * The attempt a retrying job's run waits for: the one after an attempt that ran, was not
 * reported abandoned (so its claim was completed) and fails by plan; `null` when none.
 */
export function awaitedAttempt(attempts: Attempts, failAttempts: number): number | null {
  for (let k = 1; k <= failAttempts; k++) {
    if (!attempts.runs.has(k) || attempts.abandoned.has(k)) return null;
    if (!attempts.runs.has(k + 1) && !attempts.abandoned.has(k + 1) && !attempts.refused.has(k + 1))
      return k + 1;
  }
  return null;
}

/**
 * Checks the ledger against the expected pairs: each ran once, or was missed, or was claimed by
 * the killed process and reported abandoned; never twice, never one that was not expected. With
 * `retries`, each attempt of a pair is held to that on its own: a retrying job's failed attempt
 * is followed by exactly one next attempt (run, or claimed by the killed process and reported
 * abandoned) up to the one that succeeds, an abandoned attempt by none, and a job that does not
 * retry runs attempt 1 only.
 */
export function checkLedger(
  lines: LedgerLine[],
  expected: Set<string>,
  killed: string | null,
  retries?: RetryPlan,
): LedgerReport {
  const byPair = new Map<string, LedgerLine[]>();
  const report: LedgerReport = {
    expected: expected.size,
    runs: 0,
    failed: 0,
    completedRetries: 0,
    missed: 0,
    maxInstances: 0,
    abandoned: 0,
    errors: 0,
    runAndAbandoned: 0,
    runsByScheduler: {},
    problems: [],
  };
  for (const line of lines) {
    if (line.kind === 'error') {
      report.errors++;
      report.problems.push(`error line: ${line.jobId} ${line.runTime} ${line.schedulerId} ${line.rest}`);
      continue;
    }
    if (line.kind === 'run') {
      report.runs++;
      report.runsByScheduler[line.schedulerId] = (report.runsByScheduler[line.schedulerId] ?? 0) + 1;
    } else if (line.kind === 'failed') report.failed++;
    else if (line.kind === 'missed') report.missed++;
    else if (line.kind === 'max_instances') report.maxInstances++;
    else report.abandoned++;
    const key = `${line.jobId} ${line.runTime}`;
    const list = byPair.get(key);
    if (list === undefined) byPair.set(key, [line]);
    else list.push(line);
  }
  for (const [key, list] of byPair) {
    const shown = () =>
      list.map((l) => `${l.kind}@${l.schedulerId}${l.attempt === 1 ? '' : `#${l.attempt}`}`).join(', ');
    if (!expected.has(key)) {
      report.problems.push(`${key}: not an expected fire, yet ${shown()}`);
      continue;
    }
    const runs = list.filter((l) => l.kind === 'run');
    // A fire time's decision not to run it (a retry refused for maxInstances ends only its chain).
    const missed = list.filter((l) => (l.kind === 'missed' || l.kind === 'max_instances') && l.attempt === 1);
    if (missed.length > 1 || (missed.length > 0 && runs.length > 0)) {
      report.problems.push(`${key}: decided more than once (${shown()})`);
    }
    const attempts = byAttempt(list);
    const retrying = retries?.isRetrying(list[0].jobId) === true;
    const failAttempts = retrying ? (retries as RetryPlan).failAttempts : 0;
    const label = (k: number) => (k === 1 ? key : `${key} attempt ${k}`);
    const numbers = new Set([
      ...attempts.runs.keys(),
      ...attempts.failed.keys(),
      ...attempts.abandoned.keys(),
    ]);
    for (const k of numbers) {
      const ran = attempts.runs.get(k) ?? [];
      const abandoned = attempts.abandoned.get(k) ?? [];
      const failed = attempts.failed.get(k) ?? [];
      if (ran.length > 1) report.problems.push(`${label(k)}: ran ${ran.length} times (${shown()})`);
      if (abandoned.length > 1)
        report.problems.push(`${label(k)}: reported abandoned ${abandoned.length} times`);
      if (abandoned.length > 0) {
        // Only the killed process leaves claims behind; a run by a live one was never abandoned.
        const byLive = ran.filter((l) => l.schedulerId !== killed);
        if (byLive.length > 0)
          report.problems.push(`${label(k)}: reported abandoned but run by live ${shown()}`);
        // The line names the process that held the claim: only the killed one can have left it.
        const claimers = abandoned.map((l) => l.rest).filter((claimer) => claimer !== killed);
        if (claimers.length > 0)
          report.problems.push(`${label(k)}: abandoned claim of live ${claimers.join(', ')}`);
        if (ran.length > 0) report.runAndAbandoned++;
      }
      // An attempt after the first exists only when the one before it ran, failed by plan and
      // had its claim completed (which wrote the retry).
      if (k > 1 && (k - 1 > failAttempts || !attempts.runs.has(k - 1) || attempts.abandoned.has(k - 1))) {
        report.problems.push(
          `${label(k)}: ${retrying ? 'without a failed attempt before it' : 'of a job that does not retry'} (${shown()})`,
        );
      }
      if (failed.length > 1) report.problems.push(`${label(k)}: reported failed ${failed.length} times`);
      for (const f of failed) {
        if (k > failAttempts || !ran.some((l) => l.schedulerId === f.schedulerId))
          report.problems.push(
            `${label(k)}: failed, but not a planned failure of a run of its reporter (${shown()})`,
          );
      }
      // A live process reports each failure it planned (the killed one may die first).
      if (k <= failAttempts && ran.some((l) => l.schedulerId !== killed) && failed.length === 0)
        report.problems.push(
          `${label(k)}: ran and failed by plan, but no job_error reported it (${shown()})`,
        );
    }
    if (retrying) {
      const awaited = awaitedAttempt(attempts, failAttempts);
      if (awaited !== null)
        report.problems.push(`${label(awaited)}: never ran nor was reported abandoned (${shown()})`);
      if (attempts.runs.has(failAttempts + 1)) report.completedRetries++;
    }
  }
  for (const key of expected) {
    if (!byPair.has(key)) report.problems.push(`${key}: never run, missed nor reported abandoned`);
  }
  return report;
}

/** True when every expected pair has a line, and no retrying job's run waits for its next attempt. */
export function allAccounted(lines: LedgerLine[], expected: Set<string>, retries?: RetryPlan): boolean {
  const byPair = new Map<string, LedgerLine[]>();
  for (const line of lines) {
    const key = `${line.jobId} ${line.runTime}`;
    if (!expected.has(key)) continue;
    const list = byPair.get(key);
    if (list === undefined) byPair.set(key, [line]);
    else list.push(line);
  }
  if (byPair.size !== expected.size) return false;
  if (retries === undefined) return true;
  for (const list of byPair.values()) {
    if (!retries.isRetrying(list[0].jobId)) continue;
    if (awaitedAttempt(byAttempt(list), retries.failAttempts) !== null) return false;
  }
  return true;
}

/** The part of a history row the check compares (`JobRun` has it). */
export type HistoryRow = Pick<
  JobRun,
  'jobId' | 'scheduledRunTime' | 'attempt' | 'outcome' | 'schedulerId' | 'startedAt'
>;

/**
 * Checks the run history against the ledger, once every process has stopped and every claim
 * left behind has been reported: each (job, run time, attempt) of the ledger has exactly one
 * history row and each row a ledger line. The row of a run is `error` for an attempt that fails
 * by plan and `success` otherwise; of a miss or a refusal, `missed` or `max_instances`; all
 * written by the process of the line. An attempt reported abandoned (claimed by a process that
 * was killed before its claim was completed, whatever its line says) has an `abandoned` row
 * naming the claimer. Only runs that started have a start time. `killed`: the processes that
 * were SIGKILLed (only their lines may be followed by an abandoned report).
 */
export function checkHistory(
  lines: LedgerLine[],
  rows: HistoryRow[],
  killed: ReadonlySet<string>,
  retries?: RetryPlan,
): string[] {
  const problems: string[] = [];
  const keyOf = (jobId: string, runTime: string, attempt: number) => `${jobId} ${runTime} attempt ${attempt}`;
  const shownRow = (r: HistoryRow) => `${r.outcome}@${r.schedulerId}`;
  const rowsByKey = new Map<string, HistoryRow[]>();
  for (const row of rows) {
    const key = keyOf(row.jobId, row.scheduledRunTime.toISOString(), row.attempt);
    const list = rowsByKey.get(key);
    if (list === undefined) rowsByKey.set(key, [row]);
    else list.push(row);
    const started = row.outcome === 'success' || row.outcome === 'error' || row.outcome === 'timeout';
    if (started !== (row.startedAt !== null)) {
      problems.push(
        `${key}: history row ${shownRow(row)} with start time ${row.startedAt?.toISOString() ?? null}`,
      );
    }
  }
  const linesByKey = new Map<string, LedgerLine[]>();
  for (const line of lines) {
    if (line.kind === 'error' || line.kind === 'failed') continue;
    const key = keyOf(line.jobId, line.runTime, line.attempt);
    const list = linesByKey.get(key);
    if (list === undefined) linesByKey.set(key, [line]);
    else list.push(line);
  }
  for (const [key, list] of rowsByKey) {
    if (list.length > 1)
      problems.push(`${key}: ${list.length} history rows (${list.map(shownRow).join(', ')})`);
    if (!linesByKey.has(key)) problems.push(`${key}: history row ${shownRow(list[0])} without a ledger line`);
  }
  for (const [key, list] of linesByKey) {
    const shown = list.map((l) => `${l.kind}@${l.schedulerId}`).join(', ');
    const abandoned = list.find((l) => l.kind === 'abandoned');
    const decided = list.find((l) => l.kind !== 'abandoned');
    let outcome: string;
    let schedulerId: string;
    if (abandoned !== undefined) {
      outcome = 'abandoned';
      schedulerId = abandoned.rest;
    } else {
      const line = decided as LedgerLine;
      if (line.kind === 'run') {
        const fails = retries?.isRetrying(line.jobId) === true && line.attempt <= retries.failAttempts;
        outcome = fails ? 'error' : 'success';
      } else outcome = line.kind;
      schedulerId = line.schedulerId;
    }
    const row = rowsByKey.get(key)?.[0];
    if (row === undefined) {
      problems.push(`${key}: no history row for ${shown}`);
    } else if (row.outcome !== outcome || row.schedulerId !== schedulerId) {
      problems.push(
        `${key}: history row ${shownRow(row)}, expected ${outcome}@${schedulerId} (ledger: ${shown})`,
      );
    }
    if (abandoned !== undefined && decided !== undefined && !killed.has(decided.schedulerId)) {
      problems.push(`${key}: reported abandoned, yet ${decided.kind} by live ${decided.schedulerId}`);
    }
  }
  return problems;
}

let ledgerTaskRegistered = false;

/** History rows kept per job by the processes of a scenario that checks the history (none pruned). */
export const HISTORY_KEPT = { maxPerJob: 100_000 };

/**
 * Calls `read` with a paused scheduler on a store (it never runs jobs). Its store heartbeat may
 * take expired run claims: they are written to the ledger as the child processes would, so no
 * report is lost. It keeps the history unpruned, as the processes of a history check do.
 */
async function observeStore<T>(
  config: StoreConfig,
  ledger: string,
  read: (scheduler: BackgroundScheduler) => Promise<T>,
): Promise<T> {
  if (!ledgerTaskRegistered) {
    registerTask('ledger', () => undefined);
    ledgerTaskRegistered = true;
  }
  const scheduler = new BackgroundScheduler({
    timezone: 'UTC',
    schedulerId: 'observer',
    jobstores: { default: makeStore(config) },
    runHistory: HISTORY_KEPT,
  });
  scheduler.on('job_error', (e) => {
    const line = `${e.jobId} ${e.scheduledRunTime.toISOString()} observer`;
    if (e.error instanceof JobAbandonedError)
      appendFileSync(ledger, `abandoned ${line} ${e.error.schedulerId} ${e.attempt ?? '?'}\n`);
    else appendFileSync(ledger, `error ${line} ${String(e.error).replace(/\s+/g, ' ')}\n`);
  });
  await scheduler.start({ paused: true });
  try {
    return await read(scheduler);
  } finally {
    await scheduler.shutdown({ wait: false });
  }
}

/** Reads the jobs of a store from this process (see `observeStore`). */
export function readStoreJobs(config: StoreConfig, ledger: string): Promise<Job[]> {
  return observeStore(config, ledger, (scheduler) => scheduler.getJobs());
}

/** Reads the whole run history of the jobs `jobIds` from this process (see `observeStore`). */
export function readStoreRuns(
  config: StoreConfig,
  ledger: string,
  jobIds: Iterable<string>,
): Promise<JobRun[]> {
  return observeStore(config, ledger, async (scheduler) => {
    const runs: JobRun[] = [];
    for (const jobId of jobIds) {
      const some = await scheduler.getRuns({ jobId, limit: 10_000 });
      // A job with that many rows would be cut short here: the check would not see them all.
      if (some.length === 10_000) throw new Error(`Job ${jobId} has 10,000 history rows or more`);
      runs.push(...some);
    }
    return runs;
  });
}

/** The exactly-once scenario. */
export interface ScenarioOptions {
  processes: number;
  jobs: number;
  /** Fires per job (one a second). */
  fires: number;
  timing: StoreTiming;
  /** Seconds after the first fire at which one process is SIGKILLed (`null`: none). */
  killAfter: number | null;
  /** Milliseconds into that second to kill at; default random in [0, 15). */
  killOffsetMs?: number;
  /** Milliseconds from spawning the processes to the first fire (they must be ready by then). */
  leadMs: number;
  /** How long each run holds (ms); default 0. */
  holdMs?: number;
  /** The jobs' misfire grace time in seconds; default 1. */
  misfireGraceTime?: number;
  /** Each process's executor maxWorkers; default 10. */
  maxWorkers?: number;
  /**
   * Interval jobs `retry-<i>` besides the others, firing at the same times, whose attempts up to
   * `failAttempts` fail and are tried again (`retry.attempts` must be at least `failAttempts`).
   */
  retryJobs?: {
    count: number;
    failAttempts: number;
    retry: RetryOptions;
    holdMs?: number;
    maxInstances?: number;
  };
  /** Reads the run history at the end and checks it against the ledger (`ScenarioResult.history`). */
  checkHistory?: boolean;
  /** Progress lines go here. */
  log(message: string): void;
}

/** What a scenario saw. */
export interface ScenarioResult {
  report: LedgerReport;
  killed: string | null;
  /** Epoch ms of the first fire, and of the kill. */
  start: number;
  killedAt: number | null;
  /** Jobs in the store after the kill once its leases had expired, and at the end. */
  jobsMidway: Job[];
  /** Epoch ms when the midway jobs were read. */
  midwayAt: number | null;
  jobsAfter: Job[];
  /** Epoch ms of the end of the last expected fire. */
  end: number;
  /** With `checkHistory`: how many history rows there were, and what disagreed with the ledger. */
  history: { rows: number; problems: string[] } | null;
  /** Survivors that did not stop within their grace time on SIGTERM. */
  hardStopped: string[];
  /** Milliseconds from spawning to the last ready line, and for the whole scenario. */
  readyMs: number;
  totalMs: number;
  /** The ledger, kept when the check found problems (else removed). */
  ledger: string;
}

/**
 * Runs `options.processes` schedulers on one store, all adding the same interval jobs, kills one
 * midway, waits until every fire (and every try of a retrying job's run) is accounted for, stops
 * the rest, and checks the ledger (and, with `checkHistory`, the run history against it).
 */
export async function runScenario(
  instance: StoreInstance,
  name: string,
  options: ScenarioOptions,
): Promise<ScenarioResult> {
  const began = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'tickwork-cluster-'));
  const ledger = join(dir, 'ledger');
  const store = instance.config(name, options.timing);
  const start = Math.ceil((Date.now() + options.leadMs) / 1000) * 1000;
  const end = start + (options.fires - 1) * 1000;
  const expected = expectedPairs(options.jobs, 1, start, end);
  const retryJobs = options.retryJobs;
  const retries: RetryPlan | undefined =
    retryJobs === undefined
      ? undefined
      : { isRetrying: (jobId) => jobId.startsWith('retry-'), failAttempts: retryJobs.failAttempts };
  if (retryJobs !== undefined) {
    for (const pair of expectedPairs(retryJobs.count, 1, start, end))
      expected.add(pair.replace(/^job-/, 'retry-'));
  }
  const processes: SchedulerProcess[] = [];
  // The ledger is kept for a look when something went wrong.
  let keep = true;
  try {
    for (let i = 0; i < options.processes; i++) {
      processes.push(
        new SchedulerProcess({
          store,
          schedulerId: `${name}-p${i}`,
          ledger,
          jobs: {
            count: options.jobs,
            seconds: 1,
            startDate: new Date(start).toISOString(),
            endDate: new Date(end).toISOString(),
            holdMs: options.holdMs,
          },
          retryJobs:
            retryJobs === undefined
              ? undefined
              : {
                  ...retryJobs,
                  seconds: 1,
                  startDate: new Date(start).toISOString(),
                  endDate: new Date(end).toISOString(),
                },
          runHistory: options.checkHistory === true ? HISTORY_KEPT : undefined,
          misfireGraceTime: options.misfireGraceTime ?? 1,
          maxWorkers: options.maxWorkers,
        }),
      );
    }
    const ready = await pollUntil(() => processes.every((p) => p.ready || p.exited !== null), start - 500);
    const notReady = processes.filter((p) => !p.ready);
    if (!ready || notReady.length > 0) {
      throw new Error(
        `Not ready 0.5 s before the first fire: ${notReady.map((p) => `${p.id} (${p.exited ?? 'running'}): ${p.output}`).join('; ')}`,
      );
    }
    const readyMs = Date.now() - began;
    options.log(
      `${name}: ${options.processes} processes ready in ${readyMs} ms; first fire in ${start - Date.now()} ms`,
    );

    let killed: SchedulerProcess | null = null;
    let killedAt: number | null = null;
    let jobsMidway: Job[] = [];
    let midwayAt: number | null = null;
    if (options.killAfter !== null) {
      // The victim is the process that ran the latest fire, killed a few milliseconds into the
      // next second's pass (passes start on the second and take about 5-10 ms): so it is killed
      // while holding leases, or with claims in flight, or just after; the ms differ each time.
      const offset = options.killOffsetMs ?? Math.floor(Math.random() * 15);
      const at = start + options.killAfter * 1000 + offset;
      await sleep(at - 300 - Date.now());
      const runs = readLedger(ledger).filter((l) => l.kind === 'run');
      const latest = runs.length === 0 ? null : runs[runs.length - 1].schedulerId;
      killed = processes.find((p) => p.id === latest) ?? processes[1 % processes.length];
      await sleep(at - Date.now());
      killed.signal('SIGKILL');
      killedAt = Date.now();
      options.log(`${name}: SIGKILLed ${killed.id} ${killedAt - start} ms after the first fire`);
      // Once its leases have expired and been retaken, every job must still be there.
      await sleep(options.timing.leaseTime * 1000 + 2_000);
      midwayAt = Date.now();
      jobsMidway = await readStoreJobs(store, ledger);
    }

    const others = processes.filter((p) => p !== killed);
    const crashed = () => others.filter((p) => p.exited !== null);
    // Every pair accounted for, and late enough that a stray duplicate would have shown.
    const settleAfter = Math.max(end + 2_000, (killedAt ?? 0) + options.timing.leaseTime * 2_000 + 2_000);
    const deadline = end + options.timing.leaseTime * 3_000 + 15_000;
    await pollUntil(
      () =>
        crashed().length > 0 ||
        (Date.now() >= settleAfter && allAccounted(readLedger(ledger), expected, retries)),
      deadline,
      250,
    );
    if (crashed().length > 0) {
      throw new Error(
        `Scheduler process died: ${crashed()
          .map((p) => `${p.id} (${p.exited}): ${p.output}`)
          .join('; ')}`,
      );
    }
    const hardStopped: string[] = [];
    await Promise.all(
      others.map(async (p) => {
        if (!(await p.stop(10_000))) hardStopped.push(p.id);
      }),
    );
    const jobsAfter = await readStoreJobs(store, ledger);
    let history: ScenarioResult['history'] = null;
    if (options.checkHistory === true) {
      const jobIds = new Set([...expected].map((pair) => pair.split(' ')[0]));
      const rows = await readStoreRuns(store, ledger, jobIds);
      const killedIds = new Set(killed === null ? [] : [killed.id]);
      history = { rows: rows.length, problems: checkHistory(readLedger(ledger), rows, killedIds, retries) };
    }
    const report = checkLedger(readLedger(ledger), expected, killed?.id ?? null, retries);
    keep = report.problems.length > 0 || (history?.problems.length ?? 0) > 0;
    return {
      report,
      killed: killed?.id ?? null,
      start,
      killedAt,
      jobsMidway,
      midwayAt,
      jobsAfter,
      end,
      history,
      hardStopped,
      readyMs,
      totalMs: Date.now() - began,
      ledger,
    };
  } finally {
    for (const p of processes) p.signal('SIGKILL');
    await pollUntil(() => processes.every((p) => p.exited !== null), Date.now() + 5_000, 20);
    if (keep) options.log(`${name}: ledger kept at ${ledger}`);
    else await rm(dir, { recursive: true, force: true });
  }
}
