/**
 * Job store speed, every store in the same run: the memory store, SQLite (a temp file), Postgres
 * and Redis (throwaway servers started with the test helpers). Each (store, case) runs in a fresh
 * child process on a fresh table, file or key prefix, on the scheduler's own clock.
 *
 *   add:   N jobs through `scheduler.addJob` (registered task, interval trigger), the way a
 *          program adding many jobs does it: concurrently, in chunks of 1,000 calls awaited with
 *          `Promise.all`, the scheduler started paused so each goes to the store at once. A
 *          persistent store writes the adds that arrive together in one batch (one transaction,
 *          one round trip) and folds their wake-up hints into one, so this measures batched
 *          writes; the memory store runs the same chunks, so the comparison is fair.
 *   add one by one: S jobs the same way, each call awaited before the next (no batching: one
 *          write per job), for comparison
 *   burst: M date jobs due at the same instant, from `resume()` until the last `job_executed`
 *
 *   npm run bench:stores                 (node --expose-gc --import tsx bench/stores.ts)
 *   QUICK=1 npm run bench:stores         (smaller sizes, for a smoke run)
 *   STORES=sqlite,redis npm run bench:stores
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackgroundScheduler, type JobStore, MemoryJobStore, registerTask } from '../src/index.js';
import { startPostgres } from '../test/helpers/postgres-server.js';
import { startRedis } from '../test/helpers/redis-server.js';
import { makeStore, type StoreConfig } from '../test/helpers/store-config.js';

type StoreName = 'memory' | 'sqlite' | 'postgres' | 'redis';
type BenchStore = { kind: 'memory' } | StoreConfig;
type Result = { ms: number; jobs: number } | { error: string };

const QUICK = process.env.QUICK === '1';
const ADD_N = QUICK ? 10_000 : 100_000;
// Fewer jobs one by one: one write each, so the rate is plain after a few thousand.
const ADD_SEQ_N = QUICK ? 2_000 : 10_000;
const CHUNK = 1_000;
const BURST_N = QUICK ? 2_000 : 10_000;
const CHILD_TIMEOUT_MS = 600_000;

/** The goals: most seconds for the adds, fewest jobs per second for the burst. */
const GOALS: Record<StoreName, { addSeconds: number; burstPerSecond: number } | null> = {
  memory: null,
  sqlite: { addSeconds: 3, burstPerSecond: 20_000 },
  postgres: { addSeconds: 10, burstPerSecond: 10_000 },
  redis: { addSeconds: 3, burstPerSecond: 20_000 },
};

// ---- the cases, run inside a child ----

function openStore(config: BenchStore): JobStore {
  return config.kind === 'memory' ? new MemoryJobStore() : makeStore(config);
}

type Mode = 'add' | 'add-seq' | 'burst';

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

async function caseBurst(config: BenchStore, n: number): Promise<Result> {
  let done = 0;
  let finished: () => void = () => {};
  const all = new Promise<void>((resolve) => {
    finished = resolve;
  });
  registerTask('bench-noop', () => {});
  const scheduler = new BackgroundScheduler({ timezone: 'UTC', jobstores: { default: openStore(config) } });
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
    return { ms: performance.now() - t0, jobs: n };
  } finally {
    await scheduler.shutdown();
  }
}

// ---- the parent ----

const leaks: string[] = [];

function runChild(mode: Mode, config: BenchStore, n: number): Promise<Result> {
  const script = fileURLToPath(import.meta.url);
  const args = ['--expose-gc', '--import', 'tsx', script, mode, JSON.stringify(config), String(n)];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { timeout: CHILD_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        const last = stdout.trim().split('\n').pop() ?? '';
        if (error === null && last.startsWith('{')) {
          const leak = stderr.split('\n').find((l) => l.startsWith('LEAK:'));
          if (leak !== undefined) leaks.push(`${mode} on ${config.kind}: ${leak.slice(6)}`);
          resolve(JSON.parse(last) as Result);
          return;
        }
        const why = error?.killed
          ? `no result in ${CHILD_TIMEOUT_MS / 1000} s`
          : (error?.message ?? 'no result');
        resolve({ error: `${why} ${stderr.trim().split('\n').slice(-3).join(' ')}`.trim() });
      },
    );
  });
}

function fmt(value: number, digits = 0): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const perSecond = (r: Result) => ('error' in r ? null : (r.jobs / r.ms) * 1000);

async function main(): Promise<void> {
  const [mode, configText, nText] = process.argv.slice(2);
  if (mode !== undefined) {
    const config = JSON.parse(configText) as BenchStore;
    const n = Number(nText);
    const result =
      mode === 'burst' ? await caseBurst(config, n) : await caseAdd(config, n, mode === 'add-seq');
    process.stdout.write(`${JSON.stringify(result)}\n`);
    // After shutdown nothing of the store may keep the process alive: say so if something does.
    setTimeout(() => {
      const resources = (
        process as unknown as { getActiveResourcesInfo(): string[] }
      ).getActiveResourcesInfo();
      process.stderr.write(`LEAK: still running 5 s after shutdown, with ${resources.join(', ')}\n`);
      process.exit(0);
    }, 5_000).unref();
    return;
  }

  const all: StoreName[] = ['memory', 'sqlite', 'postgres', 'redis'];
  const wanted = process.env.STORES?.split(',').map((s) => s.trim());
  const names = wanted === undefined ? all : all.filter((s) => s === 'memory' || wanted.includes(s));
  const dir = await mkdtemp(join(tmpdir(), 'tickwork-bench-stores-'));
  const [postgres, redis] = await Promise.all([
    names.includes('postgres') ? startPostgres() : null,
    names.includes('redis') ? startRedis() : null,
  ]);
  const results = new Map<StoreName, { add: Result; addSeq: Result; burst: Result }>();
  try {
    let fresh = 0;
    // Every case gets its own file, table or key prefix.
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
    for (const name of names) {
      const add = await runChild('add', configFor(name), ADD_N);
      const addSeq = await runChild('add-seq', configFor(name), ADD_SEQ_N);
      const burst = await runChild('burst', configFor(name), BURST_N);
      results.set(name, { add, addSeq, burst });
      process.stderr.write(`${name}: done\n`);
    }
  } finally {
    await Promise.all([postgres?.destroy(), redis?.destroy()]);
    await rm(dir, { recursive: true, force: true });
  }

  const memory = results.get('memory');
  const memoryAdd = memory === undefined ? null : perSecond(memory.add);
  const memoryAddSeq = memory === undefined ? null : perSecond(memory.addSeq);
  const memoryBurst = memory === undefined ? null : perSecond(memory.burst);
  const ratio = (rate: number | null, base: number | null) =>
    rate === null || base === null ? '' : `${fmt(rate / base, rate / base < 0.1 ? 3 : 2)}x`;
  const rows: string[][] = [];
  for (const [name, { add, addSeq, burst }] of results) {
    // The goals are for the full sizes.
    const goal = QUICK ? null : GOALS[name];
    const addRate = perSecond(add);
    const addSeqRate = perSecond(addSeq);
    const burstRate = perSecond(burst);
    const addGoal =
      goal === null
        ? ''
        : `< ${goal.addSeconds} s: ${'error' in add ? 'no' : add.ms / 1000 < goal.addSeconds ? 'met' : 'missed'}`;
    const burstGoal =
      goal === null
        ? ''
        : `>= ${fmt(goal.burstPerSecond)}/s: ${burstRate !== null && burstRate >= goal.burstPerSecond ? 'met' : 'missed'}`;
    rows.push([
      name,
      'error' in add ? add.error : fmt(add.ms / 1000, 2),
      addRate === null ? '' : fmt(addRate),
      ratio(addRate, memoryAdd),
      addGoal,
      'error' in addSeq ? addSeq.error : fmt(addSeqRate as number),
      ratio(addSeqRate, memoryAddSeq),
      'error' in burst ? burst.error : fmt(burstRate as number),
      ratio(burstRate, memoryBurst),
      burstGoal,
    ]);
  }
  console.log(
    `\ntickwork store bench, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} cores${QUICK ? ' (QUICK)' : ''}\n`,
  );
  const header = [
    'store',
    `add ${fmt(ADD_N)}: s`,
    'add jobs/s',
    'vs memory',
    'add goal',
    `one by one ${fmt(ADD_SEQ_N)}: jobs/s`,
    'vs memory',
    `burst ${fmt(BURST_N)}: jobs/s`,
    'vs memory',
    'burst goal',
  ];
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map(() => '---').join('|')}|`);
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
  for (const leak of leaks) console.log(`\nA child did not end by itself: ${leak}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
