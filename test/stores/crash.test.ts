/**
 * Crash test of the persistent stores: a scheduler in a child process is killed with SIGKILL at a
 * random moment while its jobs run, twenty times in a row on one store. After each kill the jobs
 * must be intact, each with a next run time the killed process may have left; after the last
 * round the shared ledger must show every fire time handled at most once and by the misfire rules,
 * and the runs the killed processes claimed reported as abandoned. Some jobs retry: each of their
 * runs fails on attempts 1 and 2 and succeeds on attempt 3, and each (job, fire time, attempt)
 * must run at most once, each failed attempt followed by the next unless a killed process had
 * claimed it (it is then reported abandoned and not tried again). The run history must agree with
 * the ledger: one row per attempt, with its outcome and its process.
 *
 * Delays come from a seeded PRNG; the seed is printed, and CRASH_SEED=<n> replays its delays
 * (process timing still varies). Adding a store is one entry in SETUPS.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  BackgroundScheduler,
  IntervalTrigger,
  type Job,
  JobAbandonedError,
  type RetryPolicy,
  registerTask,
  type TriggerJSON,
} from '../../src/index.js';
import type { ProcessConfig } from '../fixtures/stores/scheduler-process.js';
import {
  awaitedAttempt,
  byAttempt,
  checkHistory,
  HISTORY_KEPT,
  type HistoryRow,
  type LedgerLine,
} from '../helpers/cluster.js';
import { startPostgres } from '../helpers/postgres-server.js';
import { seededRandom } from '../helpers/random.js';
import { startRedis } from '../helpers/redis-server.js';
import type { StoreConfig } from '../helpers/store-config.js';
import { makeStore } from '../helpers/store-config.js';
import { pollUntil, sleep } from '../helpers/wait.js';

const ROUNDS = 20;
const JOBS = 20;
const LEASE_MS = 1000;
/** The store's heartbeat period (a third of the lease): how often expired claims are collected. */
const BEAT_MS = LEASE_MS / 3;
// Runs are claimed up to this long before their fire time (`claimAhead`); a SIGKILL then finds
// some claimed and not started, and reported as abandoned like runs under way.
const CLAIM_AHEAD_MS = 250;
const INTERVALS_MS = [200, 250, 300, 350, 400, 450, 500];
const GRACES: Array<number | null> = [0.1, 0.3, 1, null];
/** Longest random wait after `ready` before the kill, and longest time the store stays unused. */
const MAX_KILL_DELAY_MS = 400;
const MAX_DOWN_MS = 500;
/**
 * Jobs `retry-<k>` besides the others: each run fails on attempts 1 to `FAIL_ATTEMPTS` and
 * succeeds on the next; tries 2 and 3 come 0.2 s and 0.4 s after the try before fails. They may
 * run many instances at once, so a retry is never refused for maxInstances (such a refusal would
 * end the run's tries).
 */
const RETRY_JOBS = [
  { intervalMs: 400, coalesce: false, grace: null },
  { intervalMs: 500, coalesce: true, grace: 0.3 },
  { intervalMs: 600, coalesce: false, grace: 1 },
  { intervalMs: 700, coalesce: true, grace: null },
];
const FAIL_ATTEMPTS = 2;
const RETRY = { attempts: FAIL_ATTEMPTS, delay: 0.2 };
const RETRY_POLICY: RetryPolicy = {
  ...RETRY,
  factor: 2,
  maxDelay: 3600,
  jitter: 0,
  on: ['error', 'timeout'],
};
const RETRY_MAX_INSTANCES = 20;
/** After this long from its fire time, a retrying job's run has had every try it can have. */
const CHAIN_MS = 3000;
/**
 * A run the last process gave back at its stop has a fire time at most this long before that
 * process was found to have accounted for every fire time up to 0.5 s before (it stops then).
 */
const GIVEN_BACK_WITHIN_MS = 1000;

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/stores/scheduler-process.ts', import.meta.url));

// ---- the stores ----

/** A run waiting in a store for any process to take: a retry, or a run given back. */
interface WaitingRun {
  jobId: string;
  runTime: number;
  attempt: number;
  dueAt: number;
}

/**
 * One store under test: starts what it needs, says how to open it, and reads its waiting runs
 * from the documented tables (`<tableName>_retries`) or keys (`<keyPrefix>retries`, members
 * `<run time>:<attempt>:<job id>`).
 */
interface StoreSetup {
  name: string;
  open(dir: string): Promise<{ config: StoreConfig; close(): Promise<void> }>;
  waiting(config: StoreConfig): Promise<WaitingRun[]>;
}

const RETRIES_SQL = 'SELECT job_id, run_time, attempt, due_at FROM tickwork_jobs_retries';
const waitingRow = (r: {
  job_id: string;
  run_time: number | string;
  attempt: number;
  due_at: number | string;
}): WaitingRun => ({
  jobId: r.job_id,
  runTime: Number(r.run_time),
  attempt: r.attempt,
  dueAt: Number(r.due_at),
});

const STORE_TIMES = { leaseTime: LEASE_MS / 1000, pollInterval: 0.2, claimAhead: CLAIM_AHEAD_MS / 1000 };

const SETUPS: StoreSetup[] = [
  {
    name: 'sqlite',
    open: async (dir) => ({
      config: { kind: 'sqlite', path: join(dir, 'jobs.db'), ...STORE_TIMES },
      close: async () => {},
    }),
    waiting: async (config) => {
      const db = new Database((config as { path: string }).path, { readonly: true });
      try {
        return (db.prepare(RETRIES_SQL).all() as Array<Parameters<typeof waitingRow>[0]>).map(waitingRow);
      } finally {
        db.close();
      }
    },
  },
  {
    name: 'postgres',
    open: async () => {
      const server = await startPostgres();
      return {
        config: { kind: 'postgres', connectionString: server.connectionString, ...STORE_TIMES },
        close: () => server.destroy(),
      };
    },
    waiting: async (config) => {
      const client = new pg.Client({
        connectionString: (config as { connectionString: string }).connectionString,
      });
      await client.connect();
      try {
        return (await client.query(RETRIES_SQL)).rows.map(waitingRow);
      } finally {
        await client.end();
      }
    },
  },
  {
    name: 'redis',
    open: async () => {
      const server = await startRedis();
      return {
        config: { kind: 'redis', url: server.url, keyPrefix: 'crash:', ...STORE_TIMES },
        close: () => server.destroy(),
      };
    },
    waiting: async (config) => {
      const client = new Redis((config as { url: string }).url);
      try {
        const flat = await client.zrange('crash:retries', '0', '-1', 'WITHSCORES');
        const runs: WaitingRun[] = [];
        for (let k = 0; k < flat.length; k += 2) {
          const [runTime, attempt, ...id] = flat[k].split(':');
          runs.push({
            jobId: id.join(':'),
            runTime: Number(runTime),
            attempt: Number(attempt),
            dueAt: Number(flat[k + 1]),
          });
        }
        return runs;
      } finally {
        client.disconnect();
      }
    },
  },
];

// ---- randomness ----

const SEED =
  process.env.CRASH_SEED === undefined ? (Math.random() * 2 ** 32) >>> 0 : Number(process.env.CRASH_SEED);
console.log(`crash test seed ${SEED} (CRASH_SEED=${SEED} replays its delays)`);

// ---- child processes ----

/** A scheduler process of the fixture. */
interface Child {
  id: string;
  process: ChildProcess;
  /** Read before spawning: a lower bound of every clock reading in the child. */
  spawnedAt: number;
  /** Read when its exit was seen: an upper bound of every clock reading in the child. */
  exitAt: number | null;
  readyAt: number | null;
  killed: boolean;
  ready: Promise<void>;
  exited: Promise<void>;
  output(): string;
}

const live = new Set<Child>();

function killAll(): void {
  for (const child of live) child.process.kill('SIGKILL');
}
process.on('exit', killAll);

function startChild(config: ProcessConfig): Child {
  const spawnedAt = Date.now();
  const proc = spawn(process.execPath, ['--import', 'tsx', FIXTURE, JSON.stringify(config)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const child: Child = {
    id: config.schedulerId,
    process: proc,
    spawnedAt,
    exitAt: null,
    readyAt: null,
    killed: false,
    ready: Promise.resolve(),
    exited: Promise.resolve(),
    output: () => out,
  };
  live.add(child);
  child.exited = new Promise<void>((resolve) => {
    proc.once('exit', () => {
      child.exitAt = Date.now();
      live.delete(child);
      resolve();
    });
  });
  child.ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${child.id} not ready in 20 s:\n${out}`)), 20_000);
    const onData = () => {
      if (!/^ready$/m.test(out)) return;
      clearTimeout(timer);
      child.readyAt = Date.now();
      resolve();
    };
    proc.stdout?.on('data', onData);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${child.id} exited (${code ?? signal}) before it was ready:\n${out}`));
    });
  });
  return child;
}

async function stopChild(child: Child, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
  if (child.exitAt === null) {
    child.killed = signal === 'SIGKILL';
    child.process.kill(signal);
  }
  const timeout = sleep(20_000).then(() => {
    throw new Error(`${child.id} did not exit on ${signal} in 20 s:\n${child.output()}`);
  });
  await Promise.race([child.exited, timeout]);
}

afterEach(async () => {
  const children = [...live];
  killAll();
  await Promise.all(children.map((c) => c.exited));
});

// ---- the jobs ----

/** What a job was added with, and what follows from it. */
interface Plan {
  id: string;
  startMs: number;
  intervalMs: number;
  coalesce: boolean;
  grace: number | null;
  retry: boolean;
  maxInstances: number;
  args: unknown[];
  trigger: TriggerJSON;
  name: string;
}

function planJobs(startMs: number): Array<Omit<Plan, 'trigger' | 'name'>> {
  const plain = Array.from({ length: JOBS }, (_, i) => ({
    id: `job-${i}`,
    startMs,
    intervalMs: INTERVALS_MS[i % INTERVALS_MS.length],
    coalesce: i % 2 === 0,
    grace: GRACES[Math.floor(i / 2) % GRACES.length],
    retry: false,
    maxInstances: 1,
    args: [
      { holdMs: 30 + ((i * 37) % 120), tag: `job-${i}` },
      i,
      `quote ' "double" \\ ünïcode ${i}`,
      new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
      [null, true, 1.5, { nested: [i] }],
    ],
  }));
  const retrying = RETRY_JOBS.map((r, k) => ({
    id: `retry-${k}`,
    startMs,
    ...r,
    retry: true,
    maxInstances: RETRY_MAX_INSTANCES,
    args: [{ holdMs: 20 + 10 * k, failAttempts: FAIL_ATTEMPTS }, k],
  }));
  return [...plain, ...retrying];
}

/** The first fire time of `plan` strictly after `t`. */
function firstFireAfter(plan: Plan, t: number): number {
  if (t < plan.startMs) return plan.startMs;
  return plan.startMs + plan.intervalMs * (Math.floor((t - plan.startMs) / plan.intervalMs) + 1);
}

const onGrid = (plan: Plan, t: number) => t >= plan.startMs && (t - plan.startMs) % plan.intervalMs === 0;

// ---- the ledger ----

interface Entry {
  kind: 'run' | 'failed' | 'missed' | 'max_instances' | 'abandoned' | 'error';
  jobId: string;
  runTime: number;
  /** The process that wrote the line. */
  by: string;
  /** 1 for the fire time itself, k + 1 for its k-th retry (1 when the line does not say). */
  attempt: number;
  /** `abandoned`: the scheduler whose claim ran out; `error`: the message. */
  extra: string;
  line: string;
}

function readLedger(path: string): Entry[] {
  if (!existsSync(path)) return [];
  const lines = readFileSync(path, 'utf8').split('\n');
  lines.pop(); // empty, or a line still being written
  return lines.map((line) => {
    const [kind, jobId, runTime, by, ...rest] = line.split(' ');
    // `run`, `failed` and `max_instances` lines end with the attempt, `abandoned` lines with the
    // claimer and it.
    let attempt = '1';
    let extra = rest.join(' ');
    if (kind === 'run' || kind === 'failed' || kind === 'max_instances') attempt = rest[0] ?? '1';
    else if (kind === 'abandoned') [extra, attempt] = rest;
    const n = Number(attempt);
    if (!Number.isInteger(n) || n < 1) {
      return {
        kind: 'error',
        jobId,
        runTime: Date.parse(runTime),
        by,
        attempt: 1,
        extra: 'bad attempt',
        line,
      };
    }
    return { kind, jobId, runTime: Date.parse(runTime), by, attempt: n, extra, line } as Entry;
  });
}

/** An entry as a line of the shared ledger format (for the checks of test/helpers/cluster.ts). */
const toLine = (e: Entry): LedgerLine => ({
  kind: e.kind,
  jobId: e.jobId,
  runTime: new Date(e.runTime).toISOString(),
  schedulerId: e.by,
  attempt: e.attempt,
  rest: e.extra,
});

const OUTCOMES = new Set(['run', 'missed', 'max_instances']);
const key = (jobId: string, runTime: number) => `${jobId} ${new Date(runTime).toISOString()}`;
/** The key of one attempt of a fire time (the fire time's key for attempt 1). */
const attemptKey = (e: Pick<Entry, 'jobId' | 'runTime' | 'attempt'>) =>
  e.attempt === 1 ? key(e.jobId, e.runTime) : `${key(e.jobId, e.runTime)} attempt ${e.attempt}`;

// ---- checking the store from the test process ----

registerTask('ledger', () => {
  throw new Error('the checking scheduler is paused and must run nothing');
});

/**
 * Opens the store with a paused scheduler, calls `read` with it, then keeps it open `lingerMs`.
 * The checker's own heartbeat may collect expired claims: it writes them to the ledger as the
 * children do. When it has stopped, `ends` gets its id and the time.
 */
async function withChecker<T>(
  store: StoreConfig,
  id: string,
  ledger: string,
  ends: Map<string, number>,
  read: (scheduler: BackgroundScheduler) => Promise<T>,
  lingerMs = 0,
): Promise<T> {
  const scheduler = new BackgroundScheduler({
    timezone: 'UTC',
    schedulerId: id,
    daemon: true,
    jobstores: { default: makeStore(store) },
    // The history is read whole at the end: nothing pruned.
    runHistory: HISTORY_KEPT,
  });
  scheduler.on('job_error', (e) => {
    const extra =
      e.error instanceof JobAbandonedError
        ? `${e.error.schedulerId} ${e.attempt ?? '?'}`
        : String(e.error).replace(/\s+/g, ' ');
    const kind = e.error instanceof JobAbandonedError ? 'abandoned' : 'error';
    appendFileSync(ledger, `${kind} ${e.jobId} ${e.scheduledRunTime.toISOString()} ${id} ${extra}\n`);
  });
  await scheduler.start({ paused: true });
  try {
    const result = await read(scheduler);
    await sleep(lingerMs);
    return result;
  } finally {
    await scheduler.shutdown({ wait: false });
    ends.set(id, Date.now());
  }
}

/** Reads every job of the store (see `withChecker`). */
function readJobs(
  store: StoreConfig,
  id: string,
  ledger: string,
  ends: Map<string, number>,
  lingerMs = 0,
): Promise<Map<string, Job>> {
  return withChecker(
    store,
    id,
    ledger,
    ends,
    async (scheduler) => new Map((await scheduler.getJobs()).map((job) => [job.id, job])),
    lingerMs,
  );
}

/** Reads the whole run history of the planned jobs (see `withChecker`). */
function readRuns(
  store: StoreConfig,
  id: string,
  ledger: string,
  ends: Map<string, number>,
  plans: Plan[],
): Promise<HistoryRow[]> {
  return withChecker(store, id, ledger, ends, async (scheduler) => {
    const rows: HistoryRow[] = [];
    for (const plan of plans) {
      const runs = await scheduler.getRuns({ jobId: plan.id, limit: 10_000 });
      if (runs.length === 10_000) throw new Error(`${plan.id} has 10,000 history rows or more`);
      rows.push(...runs);
    }
    return rows;
  });
}

/** Adds the planned jobs through the public API. */
async function addJobs(store: StoreConfig, startMs: number): Promise<Plan[]> {
  const scheduler = new BackgroundScheduler({
    timezone: 'UTC',
    schedulerId: 'setup',
    daemon: true,
    jobstores: { default: makeStore(store) },
    runHistory: HISTORY_KEPT,
  });
  await scheduler.start({ paused: true });
  const plans: Plan[] = [];
  try {
    for (const p of planJobs(startMs)) {
      const trigger = new IntervalTrigger({
        seconds: p.intervalMs / 1000,
        startDate: new Date(p.startMs),
        timezone: 'UTC',
      });
      const job = await scheduler.addJob('ledger', trigger, {
        id: p.id,
        args: p.args,
        coalesce: p.coalesce,
        misfireGraceTime: p.grace,
        maxInstances: p.maxInstances,
        retry: p.retry ? RETRY : null,
      });
      expect(job.nextRunTime?.getTime()).toBe(p.startMs);
      plans.push({ ...p, trigger: trigger.toJSON(), name: job.name });
    }
  } finally {
    await scheduler.shutdown({ wait: false });
  }
  return plans;
}

/**
 * Checks every job after a process ended (last seen at `exitAt`). A job's next run time is legal
 * when it is a fire time of its trigger, no earlier than what was seen before (`previous`) and
 * later than every fire time the ledger shows handled (a handled fire time was released with the
 * next one in the same step), and no later than the first fire time after `exitAt` plus
 * CLAIM_AHEAD_MS (the latest a release could store: runs are claimed that long ahead). Within those bounds, both legal kinds fall: the value the killed process
 * released last, and the earlier one still under its expiring lease. Updates `previous`.
 */
function checkJobs(
  jobs: Map<string, Job>,
  plans: Plan[],
  entries: Entry[],
  exitAt: number,
  previous: Map<string, number>,
  where: string,
): string[] {
  const problems: string[] = [];
  const latestHandled = new Map<string, number>();
  for (const e of entries) {
    if (e.kind === 'error') continue;
    latestHandled.set(e.jobId, Math.max(latestHandled.get(e.jobId) ?? -1, e.runTime));
  }
  if (jobs.size !== plans.length)
    problems.push(`${where}: ${jobs.size} jobs in the store, expected ${plans.length}`);
  for (const plan of plans) {
    const job = jobs.get(plan.id);
    if (job === undefined) {
      problems.push(`${where}: ${plan.id} is gone`);
      continue;
    }
    const stored = {
      name: job.name,
      args: job.args,
      trigger: job.trigger.toJSON(),
      coalesce: job.coalesce,
      misfireGraceTime: job.misfireGraceTime,
      maxInstances: job.maxInstances,
      retry: job.retry,
      executor: job.executor,
      taskRef: job.taskRef,
    };
    const added = {
      name: plan.name,
      args: plan.args,
      trigger: plan.trigger,
      coalesce: plan.coalesce,
      misfireGraceTime: plan.grace,
      maxInstances: plan.maxInstances,
      retry: plan.retry ? RETRY_POLICY : null,
      executor: 'default',
      taskRef: 'ledger',
    };
    try {
      expect(stored).toStrictEqual(added);
    } catch {
      problems.push(`${where}: ${plan.id} changed: ${JSON.stringify(stored)} != ${JSON.stringify(added)}`);
    }
    const next = job.nextRunTime?.getTime() ?? null;
    const handled = latestHandled.get(plan.id);
    const low = Math.max(
      previous.get(plan.id) ?? plan.startMs,
      handled === undefined ? -1 : firstFireAfter(plan, handled),
    );
    const high = firstFireAfter(plan, exitAt + CLAIM_AHEAD_MS);
    if (next === null || !onGrid(plan, next) || next < low || next > high) {
      const show = (t: number | null) => (t === null ? 'null' : new Date(t).toISOString());
      problems.push(
        `${where}: ${plan.id} next run time ${show(next)}, legal: a fire time in [${show(low)}, ${show(high)}] (every ${plan.intervalMs} ms from ${show(plan.startMs)})`,
      );
    } else {
      previous.set(plan.id, next);
    }
  }
  return problems;
}

/**
 * Checks the whole ledger once the last process stopped gracefully and the jobs' final next run
 * times (`finals`) are known:
 * - no fire time is run, missed or refused (max_instances) twice, or reported abandoned twice;
 *   each attempt of it is held to that on its own;
 * - only killed processes leave claims: an abandoned attempt was claimed by one, reported by
 *   another process at least a lease after the fire time (a claim is made once the fire time is
 *   due and lasts a lease), and run, if at all, by the claimer itself;
 * - a first attempt started within its grace time, so its fire time is at most the grace time
 *   older than the process; a miss was decided after the grace time, while the process was alive;
 * - with coalescing, the fire times a process found due at its first look were folded into one;
 * - without, every fire time before the final next run time was run, missed, refused or
 *   reported abandoned;
 * - a job that does not retry runs attempt 1 only; a retrying job's attempt after the first
 *   exists only when the one before it ran, failed by plan (reported as `failed` unless its
 *   process was killed) and was not reported abandoned, and for fire times up to `chainUntil`
 *   such an attempt was followed by the next one (run or reported abandoned).
 * `ends`: when each checking scheduler stopped. `waiting`: the runs left waiting in the store once
 * every process stopped: the last one's graceful stop gives back the runs it claimed and did not
 * start (each a waiting run of its job), so such a fire time is accounted for, and must not have
 * been handled too.
 */
function checkLedger(
  entries: Entry[],
  plans: Plan[],
  children: Child[],
  ends: Map<string, number>,
  finals: Map<string, number>,
  chainUntil: number,
  waiting: WaitingRun[],
): string[] {
  const problems: string[] = [];
  const waitingKeys = new Set(waiting.map((w) => attemptKey(w)));
  const byPlan = new Map(plans.map((p) => [p.id, p]));
  const byChild = new Map(children.map((c) => [c.id, c]));
  const outcomes = new Map<string, Entry[]>();
  const abandoned = new Map<string, Entry[]>();
  const byFire = new Map<string, Entry[]>();
  for (const e of entries) {
    const plan = byPlan.get(e.jobId);
    if (e.kind === 'error' || plan === undefined) {
      problems.push(`unexpected line: ${e.line}`);
      continue;
    }
    if (!onGrid(plan, e.runTime)) problems.push(`not a fire time of ${e.jobId}: ${e.line}`);
    if (e.runTime >= (finals.get(e.jobId) ?? 0))
      problems.push(`handled at or after the final next run time: ${e.line}`);
    const fire = key(e.jobId, e.runTime);
    byFire.set(fire, [...(byFire.get(fire) ?? []), e]);
    if (e.kind === 'failed') continue;
    const k = attemptKey(e);
    const map = e.kind === 'abandoned' ? abandoned : outcomes;
    map.set(k, [...(map.get(k) ?? []), e]);
    if (e.kind === 'abandoned') {
      const claimer = byChild.get(e.extra);
      if (claimer === undefined || !claimer.killed)
        problems.push(`abandoned, but not claimed by a killed process: ${e.line}`);
      if (e.by === e.extra) problems.push(`reported abandoned by its own claimer: ${e.line}`);
      const reporterEnd = byChild.get(e.by)?.exitAt ?? ends.get(e.by) ?? 0;
      // Claimed at the earliest CLAIM_AHEAD_MS before its fire time, the claim ran out a lease later.
      const claimEnd = e.runTime - CLAIM_AHEAD_MS + LEASE_MS;
      if (reporterEnd < claimEnd) {
        problems.push(
          `reported abandoned before its claim can have run out (the reporter ended ${claimEnd - reporterEnd} ms too early): ${e.line}`,
        );
      }
      continue;
    }
    const child = byChild.get(e.by);
    if (child === undefined) {
      problems.push(`written by a process that runs nothing: ${e.line}`);
      continue;
    }
    const graceMs = plan.grace === null ? null : plan.grace * 1000;
    // A retry is never missed: its fire time is past by design.
    if (e.kind === 'run' && e.attempt === 1 && graceMs !== null && e.runTime < child.spawnedAt - graceMs) {
      problems.push(
        `run after its grace time (the process started ${child.spawnedAt - e.runTime} ms after it): ${e.line}`,
      );
    }
    if (e.kind === 'missed' && (graceMs === null || e.runTime + graceMs > (child.exitAt ?? 0))) {
      problems.push(`missed before its grace time was up: ${e.line}`);
    }
  }
  // Given back at the last stop: due 1 ms after its fire time (as every run given back is), and
  // a fire time that came shortly before that stop. Any other first attempt waiting is a run lost
  // in the store.
  const settledAt = chainUntil + CHAIN_MS;
  for (const w of waiting) {
    if (w.attempt === 1 && (w.dueAt !== w.runTime + 1 || w.runTime < settledAt - GIVEN_BACK_WITHIN_MS)) {
      problems.push(
        `${attemptKey(w)} waits in the store (due ${new Date(w.dueAt).toISOString()}), yet the last process did not give it back at its stop`,
      );
    }
  }
  for (const k of waitingKeys) {
    const handled = [...(outcomes.get(k) ?? []), ...(abandoned.get(k) ?? [])];
    if (handled.length > 0)
      problems.push(`${k} waits in the store, yet was handled: ${handled.map((e) => e.line).join(' / ')}`);
  }
  for (const [k, list] of outcomes) {
    if (list.length > 1)
      problems.push(`${k} handled ${list.length} times: ${list.map((e) => e.line).join(' / ')}`);
  }
  for (const [k, list] of abandoned) {
    // Reporting is at least once: a collector reports a claim, then deletes it, so one killed in
    // between leaves it to the next. A second report is a fault unless every earlier reporter
    // was killed.
    const earlier = list.slice(0, -1);
    if (earlier.some((e) => byChild.get(e.by)?.killed !== true)) {
      problems.push(`${k} reported abandoned ${list.length} times, not only after a reporter was killed`);
    }
    const done = outcomes.get(k)?.[0];
    if (done !== undefined && done.by !== list[0].extra) {
      problems.push(`${k} abandoned by ${list[0].extra}, but handled by ${done.by}: ${done.line}`);
    }
  }
  for (const [fire, list] of byFire) {
    const plan = byPlan.get(list[0].jobId) as Plan;
    const failAttempts = plan.retry ? FAIL_ATTEMPTS : 0;
    const attempts = byAttempt(list.map(toLine));
    const shown = () => list.map((e) => e.line).join(' / ');
    const numbers = new Set([
      ...attempts.runs.keys(),
      ...attempts.failed.keys(),
      ...attempts.abandoned.keys(),
    ]);
    for (const n of numbers) {
      const label = n === 1 ? fire : `${fire} attempt ${n}`;
      if (n > 1 && (n - 1 > failAttempts || !attempts.runs.has(n - 1) || attempts.abandoned.has(n - 1))) {
        problems.push(
          `${label}: ${plan.retry ? 'without a failed attempt before it' : 'of a job that does not retry'}: ${shown()}`,
        );
      }
      const ran = attempts.runs.get(n) ?? [];
      const failed = attempts.failed.get(n) ?? [];
      if (failed.length > 1) problems.push(`${label} reported failed ${failed.length} times: ${shown()}`);
      for (const f of failed) {
        if (n > failAttempts || !ran.some((r) => r.schedulerId === f.schedulerId))
          problems.push(`${label} failed, but not as a planned failure of a run of its reporter: ${shown()}`);
      }
      // A process that was not killed reports each failure it planned.
      if (
        n <= failAttempts &&
        failed.length === 0 &&
        ran.some((r) => byChild.get(r.schedulerId)?.killed !== true)
      )
        problems.push(`${label} ran and failed by plan, but no job_error reported it: ${shown()}`);
    }
    const awaited = plan.retry ? awaitedAttempt(attempts, FAIL_ATTEMPTS) : null;
    if (awaited !== null && list[0].runTime <= chainUntil)
      problems.push(`${fire} attempt ${awaited} never ran nor was reported abandoned: ${shown()}`);
  }
  for (const plan of plans) {
    const final = finals.get(plan.id) ?? plan.startMs;
    if (plan.coalesce) {
      // The fire times a process found already due at its first look at the job were coalesced
      // into one run (or one miss).
      for (const child of children) {
        const early = entries.filter(
          (e) =>
            e.jobId === plan.id &&
            e.by === child.id &&
            OUTCOMES.has(e.kind) &&
            e.attempt === 1 &&
            e.runTime < child.spawnedAt,
        );
        if (early.length > 1) {
          problems.push(
            `${plan.id} coalesces, yet ${child.id} handled ${early.length} fire times due before it started: ${early.map((e) => e.line).join(' / ')}`,
          );
        }
      }
      continue;
    }
    for (let t = plan.startMs; t < final; t += plan.intervalMs) {
      const k = key(plan.id, t);
      if (!outcomes.has(k) && !abandoned.has(k) && !waitingKeys.has(k))
        problems.push(`${k} was never run, missed, reported abandoned nor given back`);
    }
  }
  return problems;
}

/**
 * True once every fire time of the jobs without coalescing up to `until` is in the ledger, and
 * no run of a retrying job with a fire time up to `chainUntil` waits for its next attempt.
 */
function accountedFor(entries: Entry[], plans: Plan[], until: number, chainUntil: number): boolean {
  const seen = new Set(entries.map((e) => key(e.jobId, e.runTime)));
  for (const plan of plans) {
    if (plan.coalesce) continue;
    for (let t = plan.startMs; t <= until; t += plan.intervalMs) if (!seen.has(key(plan.id, t))) return false;
  }
  const retrying = new Set(plans.filter((p) => p.retry).map((p) => p.id));
  const byFire = new Map<string, LedgerLine[]>();
  for (const e of entries) {
    if (!retrying.has(e.jobId) || e.runTime > chainUntil) continue;
    const fire = key(e.jobId, e.runTime);
    byFire.set(fire, [...(byFire.get(fire) ?? []), toLine(e)]);
  }
  for (const list of byFire.values())
    if (awaitedAttempt(byAttempt(list), FAIL_ATTEMPTS) !== null) return false;
  return true;
}

/** When each process started, was ready and ended: the context of a failure. */
function timeline(children: Child[]): string {
  const time = (t: number | null) => (t === null ? '-' : new Date(t).toISOString().slice(11, 23));
  return `processes (spawned, ready, ended): ${children
    .map((c) => `${c.id} ${time(c.spawnedAt)} ${time(c.readyAt)} ${time(c.exitAt)}`)
    .join('; ')}`;
}

// ---- the test ----

describe.each(SETUPS)('crash: $name', (setup) => {
  const dir = mkdtempSync(join(tmpdir(), `tickwork-crash-${setup.name}-`));
  let close: () => Promise<void> = async () => {};

  afterAll(async () => {
    await close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`keeps every job and handles each fire time at most once over ${ROUNDS} SIGKILLs`, async () => {
    const random = seededRandom(SEED);
    const opened = await setup.open(dir);
    close = opened.close;
    const store = opened.config;
    const ledger = join(dir, 'ledger.txt');
    const began = Date.now();
    // The first fire time comes after the jobs are added (on a loaded machine that has taken
    // over 300 ms), so each job's stored next run time is its first fire time.
    const plans = await addJobs(store, Math.ceil((Date.now() + 1000) / 100) * 100);
    const previous = new Map(plans.map((p) => [p.id, p.startMs]));
    const children: Child[] = [];
    const checkerEnds = new Map<string, number>();
    const problems: string[] = [];
    const config = (schedulerId: string): ProcessConfig => ({
      store,
      schedulerId,
      ledger,
      maxWorkers: 10,
      runHistory: HISTORY_KEPT,
    });

    for (let round = 1; round <= ROUNDS; round++) {
      const child = startChild(config(`crash-${round}`));
      children.push(child);
      await child.ready;
      await sleep(Math.floor(random() * MAX_KILL_DELAY_MS));
      await stopChild(child, 'SIGKILL');
      const jobs = await readJobs(store, `check-${round}`, ledger, checkerEnds);
      problems.push(
        ...checkJobs(
          jobs,
          plans,
          readLedger(ledger),
          child.exitAt as number,
          previous,
          `after kill ${round}`,
        ),
      );
      expect(problems, `seed ${SEED}`).toEqual([]);
      await sleep(Math.floor(random() * MAX_DOWN_MS));
    }
    const roundsMs = Date.now() - began;

    // A last process runs until the claims of the killed ones have run out and been collected,
    // and every fire time up to shortly before is in the ledger; then it stops gracefully. When
    // that does not happen in time, the checks below say what is missing.
    // It claims runs when due, so that its clean shutdown gives back (as waiting runs in the
    // store, for the next process) only the runs of the batch it was starting, if any, and the
    // runs waiting for a free worker; the checks read those from the store.
    const last = startChild({ ...config('final'), store: { ...store, claimAhead: 0 } });
    children.push(last);
    await last.ready;
    const lastKill = children[children.length - 2].exitAt as number;
    // The retrying jobs' runs with fire times up to here have had every try they can have.
    let chainUntil = 0;
    const settled = await pollUntil(
      () => {
        const now = Date.now();
        if (now <= lastKill + LEASE_MS + 2 * BEAT_MS) return false;
        if (!accountedFor(readLedger(ledger), plans, now - 500, now - CHAIN_MS)) return false;
        chainUntil = now - CHAIN_MS;
        return true;
      },
      Date.now() + 10_000,
      25,
    );
    if (!settled) problems.push('the last process did not account for every fire time within 10 s');
    await stopChild(last, 'SIGTERM');
    // Kept open until every claim left in the store has expired and been collected: only the
    // killed processes may have left any.
    const jobs = await readJobs(store, 'check-final', ledger, checkerEnds, LEASE_MS + 2 * BEAT_MS);
    const rows = await readRuns(store, 'check-history', ledger, checkerEnds, plans);
    const entries = readLedger(ledger);
    const waiting = await setup.waiting(store);
    problems.push(
      ...checkJobs(jobs, plans, entries, last.exitAt as number, previous, 'after the last process'),
    );
    problems.push(...checkLedger(entries, plans, children, checkerEnds, previous, chainUntil, waiting));
    const killed = new Set(children.filter((c) => c.killed).map((c) => c.id));
    const retries = {
      isRetrying: (jobId: string) => jobId.startsWith('retry-'),
      failAttempts: FAIL_ATTEMPTS,
    };
    problems.push(...checkHistory(entries.map(toLine), rows, killed, retries).map((p) => `history: ${p}`));

    if (problems.length > 0) problems.push(timeline(children));
    const count = (kind: string, attempt?: number) =>
      entries.filter((e) => e.kind === kind && (attempt === undefined || e.attempt === attempt)).length;
    const abandonedRetries = entries.filter((e) => e.kind === 'abandoned' && e.attempt > 1).length;
    console.log(
      `crash ${setup.name}: ${ROUNDS} rounds in ${(roundsMs / 1000).toFixed(1)} s, all in ${((Date.now() - began) / 1000).toFixed(1)} s; ledger: ${count('run')} run (${count('run', FAIL_ATTEMPTS + 1)} last attempts), ${count('failed')} failed by plan, ${count('missed')} missed, ${count('max_instances')} max_instances, ${count('abandoned')} abandoned (${abandonedRetries} retries); ${rows.length} history rows; ${waiting.length} waiting in the store (seed ${SEED})`,
    );
    expect(problems, `seed ${SEED}`).toEqual([]);
    // The rounds must have exercised each rule.
    expect(count('run'), 'runs').toBeGreaterThan(0);
    expect(count('missed'), 'missed runs').toBeGreaterThan(0);
    expect(count('abandoned'), 'abandoned runs').toBeGreaterThan(0);
    expect(count('failed', FAIL_ATTEMPTS), 'last failed attempts').toBeGreaterThan(0);
    expect(count('run', FAIL_ATTEMPTS + 1), 'last attempts').toBeGreaterThan(0);
  }, 180_000);
});
