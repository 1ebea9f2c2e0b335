/**
 * Several scheduler processes sharing one store, for the exactly-once test and the cluster bench:
 * store setups (one entry per store kind), the child processes, the shared ledger they write, and
 * the check that every expected (job, fire time) pair ran exactly once or is accounted for.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackgroundScheduler, type Job, JobAbandonedError, registerTask } from '../../src/index.js';
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
  kind: 'run' | 'missed' | 'max_instances' | 'abandoned' | 'error';
  jobId: string;
  runTime: string;
  schedulerId: string;
  rest: string;
}

/** Parses the ledger; lines that do not parse come back as errors, so they fail the check. */
export function parseLedger(text: string): LedgerLine[] {
  const lines: LedgerLine[] = [];
  for (const raw of text.split('\n')) {
    if (raw === '') continue;
    const [kind, jobId, runTime, schedulerId, ...rest] = raw.split(' ');
    if (
      kind === 'run' ||
      kind === 'missed' ||
      kind === 'max_instances' ||
      kind === 'abandoned' ||
      kind === 'error'
    ) {
      if (schedulerId !== undefined) {
        lines.push({ kind, jobId, runTime, schedulerId, rest: rest.join(' ') });
        continue;
      }
    }
    lines.push({ kind: 'error', jobId: '?', runTime: '?', schedulerId: '?', rest: `unparsed line: ${raw}` });
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

/** What the ledger says, and everything in it that breaks the exactly-once promise. */
export interface LedgerReport {
  expected: number;
  runs: number;
  missed: number;
  /** Runs not started because the job had maxInstances runs going (an outcome, reported). */
  maxInstances: number;
  abandoned: number;
  errors: number;
  /** Pairs both run (by the killed process) and reported abandoned (its claim was not completed). */
  runAndAbandoned: number;
  runsByScheduler: Record<string, number>;
  /** Every violation, one line each (empty when the promise held). */
  problems: string[];
}

/**
 * Checks the ledger against the expected pairs: each ran once, or was missed, or was claimed by
 * the killed process and reported abandoned; never twice, never one that was not expected.
 */
export function checkLedger(lines: LedgerLine[], expected: Set<string>, killed: string | null): LedgerReport {
  const byPair = new Map<string, LedgerLine[]>();
  const report: LedgerReport = {
    expected: expected.size,
    runs: 0,
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
    } else if (line.kind === 'missed') report.missed++;
    else if (line.kind === 'max_instances') report.maxInstances++;
    else report.abandoned++;
    const key = `${line.jobId} ${line.runTime}`;
    const list = byPair.get(key);
    if (list === undefined) byPair.set(key, [line]);
    else list.push(line);
  }
  for (const [key, list] of byPair) {
    const shown = () => list.map((l) => `${l.kind}@${l.schedulerId}`).join(', ');
    if (!expected.has(key)) {
      report.problems.push(`${key}: not an expected fire, yet ${shown()}`);
      continue;
    }
    const runs = list.filter((l) => l.kind === 'run');
    const missed = list.filter((l) => l.kind === 'missed' || l.kind === 'max_instances');
    const abandoned = list.filter((l) => l.kind === 'abandoned');
    if (runs.length > 1) report.problems.push(`${key}: ran ${runs.length} times (${shown()})`);
    if (missed.length > 1 || (missed.length > 0 && runs.length > 0)) {
      report.problems.push(`${key}: decided more than once (${shown()})`);
    }
    if (abandoned.length > 1) report.problems.push(`${key}: reported abandoned ${abandoned.length} times`);
    if (abandoned.length > 0) {
      // Only the killed process leaves claims behind; a run by a live one was never abandoned.
      const byLive = runs.filter((l) => l.schedulerId !== killed);
      if (byLive.length > 0) report.problems.push(`${key}: reported abandoned but run by live ${shown()}`);
      // The line names the process that held the claim: only the killed one can have left it.
      const claimers = abandoned.map((l) => l.rest).filter((claimer) => claimer !== killed);
      if (claimers.length > 0) report.problems.push(`${key}: abandoned claim of live ${claimers.join(', ')}`);
      if (runs.length > 0) report.runAndAbandoned++;
    }
  }
  for (const key of expected) {
    if (!byPair.has(key)) report.problems.push(`${key}: never run, missed nor reported abandoned`);
  }
  return report;
}

/** True when every expected pair has a line. */
export function allAccounted(lines: LedgerLine[], expected: Set<string>): boolean {
  const seen = new Set<string>();
  for (const line of lines)
    if (expected.has(`${line.jobId} ${line.runTime}`)) seen.add(`${line.jobId} ${line.runTime}`);
  return seen.size === expected.size;
}

let ledgerTaskRegistered = false;

/**
 * Reads the jobs of a store from this process through a paused scheduler (it never runs jobs).
 * Its store heartbeat may take expired run claims: they are written to the ledger as the child
 * processes would, so no report is lost.
 */
export async function readStoreJobs(config: StoreConfig, ledger: string): Promise<Job[]> {
  if (!ledgerTaskRegistered) {
    registerTask('ledger', () => undefined);
    ledgerTaskRegistered = true;
  }
  const scheduler = new BackgroundScheduler({
    timezone: 'UTC',
    schedulerId: 'observer',
    jobstores: { default: makeStore(config) },
  });
  scheduler.on('job_error', (e) => {
    const line = `${e.jobId} ${e.scheduledRunTime.toISOString()} observer`;
    if (e.error instanceof JobAbandonedError)
      appendFileSync(ledger, `abandoned ${line} ${e.error.schedulerId}\n`);
    else appendFileSync(ledger, `error ${line} ${String(e.error).replace(/\s+/g, ' ')}\n`);
  });
  await scheduler.start({ paused: true });
  try {
    return await scheduler.getJobs();
  } finally {
    await scheduler.shutdown({ wait: false });
  }
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
 * midway, waits until every fire is accounted for, stops the rest, and checks the ledger.
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
      () => crashed().length > 0 || (Date.now() >= settleAfter && allAccounted(readLedger(ledger), expected)),
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
    const report = checkLedger(readLedger(ledger), expected, killed?.id ?? null);
    keep = report.problems.length > 0;
    return {
      report,
      killed: killed?.id ?? null,
      start,
      killedAt,
      jobsMidway,
      midwayAt,
      jobsAfter,
      end,
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
