/**
 * Fires per second that 1, 2 and 3 scheduler processes sharing one store run, on each persistent
 * store (SQLite file, Postgres and Redis on throwaway servers; Postgres with its default
 * durability, fsync and synchronous_commit on), in the same run.
 *
 * N interval jobs fire every second, N large enough that no case keeps up, so the processes run
 * flat out. Without a misfire grace time every fire runs, however late: `runs/s` is what the
 * cluster can run. Each case gets a fresh store (the first process adds the jobs, the others
 * start once they are in), settles for 3 s, then counts the ledger's `run` lines over 10 s. Runs
 * seen twice are counted too (there must be none).
 *
 *   npm run bench:cluster                      (node --expose-gc --import tsx bench/cluster.ts)
 *   BENCH_JOBS=20000 BENCH_STORES=sqlite npm run bench:cluster
 *   BENCH_GRACE=1 npm run bench:cluster        (misfire grace time 1 s: late fires are missed)
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  killAllSchedulerProcesses,
  SchedulerProcess,
  type StoreInstance,
  type StoreSetup,
  selectedSetups,
} from '../test/helpers/cluster.js';
import type { StoreConfig } from '../test/helpers/store-config.js';
import { pollUntil, sleep } from '../test/helpers/wait.js';

const JOBS = Number(process.env.BENCH_JOBS ?? 200_000);
const GRACE = process.env.BENCH_GRACE === undefined ? null : Number(process.env.BENCH_GRACE);
const PROCESSES = [1, 2, 3];
const WARMUP_MS = 3_000;
const WINDOW_MS = 10_000;
// Every job fires on whole seconds from here on, whenever it was added.
const START_DATE = '2020-01-01T00:00:00.000Z';
// The whole bench gives up after this long, killing what it started.
const WATCHDOG_MS = 20 * 60_000;

const gc = (globalThis as { gc?: () => void }).gc;

/** Reads the complete lines appended to a file since the last call. */
class LedgerTail {
  #fd = -1;
  #position = 0;
  #partial = '';
  readonly #buffer = Buffer.alloc(1 << 20);

  constructor(readonly path: string) {}

  lines(): string[] {
    if (this.#fd < 0) {
      try {
        this.#fd = openSync(this.path, 'r');
      } catch {
        return [];
      }
    }
    let text = this.#partial;
    for (;;) {
      const n = readSync(this.#fd, this.#buffer, 0, this.#buffer.length, this.#position);
      if (n === 0) break;
      this.#position += n;
      text += this.#buffer.toString('utf8', 0, n);
    }
    const end = text.lastIndexOf('\n');
    this.#partial = text.slice(end + 1);
    return end < 0 ? [] : text.slice(0, end).split('\n');
  }

  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }
}

/** What one case's ledger showed. */
class Tally {
  // Runs seen, as job number * 1e10 + fire time in seconds: millions of them fit as numbers.
  readonly #runs = new Set<number>();
  duplicates = 0;
  errors = 0;
  runs = 0;
  missed = 0;
  readonly runsBy = new Map<string, number>();

  /** Counts lines; only those inside the window count toward the rates. */
  add(lines: string[], inWindow: boolean): void {
    for (const line of lines) {
      const [kind, jobId, runTime, schedulerId] = line.split(' ');
      if (kind === 'run') {
        const key = Number(jobId.slice(4)) * 1e10 + Date.parse(runTime) / 1000;
        if (this.#runs.has(key)) this.duplicates++;
        else this.#runs.add(key);
        if (inWindow) {
          this.runs++;
          this.runsBy.set(schedulerId, (this.runsBy.get(schedulerId) ?? 0) + 1);
        }
      } else if (kind === 'missed') {
        if (inWindow) this.missed++;
      } else {
        this.errors++;
      }
    }
  }
}

interface Row {
  store: string;
  processes: number;
  runsPerSecond: number;
  missedPerSecond: number;
  shares: string;
  duplicates: number;
  errors: number;
  note: string;
}

async function startProcesses(
  store: StoreConfig,
  name: string,
  count: number,
  ledger: string,
): Promise<SchedulerProcess[]> {
  const spawnOne = (i: number, jobs: boolean) =>
    new SchedulerProcess({
      store,
      schedulerId: `${name}-${count}p${i}`,
      ledger,
      misfireGraceTime: GRACE,
      ...(jobs ? { jobs: { count: JOBS, seconds: 1, startDate: START_DATE } } : {}),
    });
  // The first process adds the jobs (before it says ready); the others start once they are in.
  const processes = [spawnOne(0, true)];
  const first = processes[0];
  if (
    !(await pollUntil(() => first.ready || first.exited !== null, Date.now() + 180_000, 100)) ||
    !first.ready
  ) {
    throw new Error(`${first.id} did not get ready: ${first.output}`);
  }
  for (let i = 1; i < count; i++) processes.push(spawnOne(i, false));
  const ready = await pollUntil(
    () => processes.every((p) => p.ready || p.exited !== null),
    Date.now() + 60_000,
  );
  const late = processes.filter((p) => !p.ready);
  if (!ready || late.length > 0)
    throw new Error(`Not ready: ${late.map((p) => `${p.id}: ${p.output}`).join('; ')}`);
  return processes;
}

/** One case: `count` processes on a fresh store with the jobs, flat out for the window. */
async function benchCase(
  instance: StoreInstance,
  setup: StoreSetup,
  count: number,
  dir: string,
): Promise<Row> {
  const ledger = join(dir, `${count}.ledger`);
  const store = instance.config(`bench_${setup.name}_${count}`, { leaseTime: 30, pollInterval: 1 });
  const tail = new LedgerTail(ledger);
  const tally = new Tally();
  const began = Date.now();
  const processes = await startProcesses(store, setup.name, count, ledger);
  const notes = [`jobs added in ${((Date.now() - began) / 1000).toFixed(1)} s`];
  try {
    const windowStart = Date.now() + WARMUP_MS;
    const windowEnd = windowStart + WINDOW_MS;
    while (Date.now() < windowStart) {
      tally.add(tail.lines(), false);
      await sleep(100);
    }
    tally.add(tail.lines(), false);
    while (Date.now() < windowEnd) {
      await sleep(Math.min(100, windowEnd - Date.now()));
      tally.add(tail.lines(), true);
    }
    const crashed = processes.filter((p) => p.exited !== null);
    if (crashed.length > 0) notes.push(`${crashed.map((p) => p.id).join(', ')} died`);
  } finally {
    const stopped = await Promise.all(processes.map((p) => p.stop(15_000)));
    if (stopped.some((graceful) => !graceful)) notes.push('killed: no graceful stop in 15 s');
    // Runs finished while stopping count for the duplicate check only.
    tally.add(tail.lines(), false);
    tail.close();
    await rm(ledger, { force: true });
  }
  const total = [...tally.runsBy.values()].reduce((a, b) => a + b, 0) || 1;
  return {
    store: setup.name,
    processes: count,
    runsPerSecond: Math.round(tally.runs / (WINDOW_MS / 1000)),
    missedPerSecond: Math.round(tally.missed / (WINDOW_MS / 1000)),
    shares: processes.map((p) => `${Math.round((100 * (tally.runsBy.get(p.id) ?? 0)) / total)}%`).join(' / '),
    duplicates: tally.duplicates,
    errors: tally.errors,
    note: notes.join('; '),
  };
}

async function benchStore(setup: StoreSetup): Promise<Row[]> {
  const rows: Row[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'tickwork-bench-cluster-'));
  const instance = await setup.start({ durable: true });
  try {
    for (const count of PROCESSES) {
      gc?.();
      rows.push(await benchCase(instance, setup, count, dir));
      process.stderr.write(
        `${setup.name}, ${count} process(es): ${rows[rows.length - 1].runsPerSecond} runs/s\n`,
      );
    }
  } finally {
    killAllSchedulerProcesses();
    await instance.destroy();
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}

function printTable(rows: Row[]): void {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const cores = availableParallelism();
  console.log(
    `\ntickwork cluster bench, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cores} cores (${cpu})`,
  );
  console.log(
    `${JOBS} interval jobs firing every second, ${GRACE === null ? 'no misfire grace time (every fire runs, however late)' : `misfire grace time ${GRACE} s`}; rates over ${WINDOW_MS / 1000} s after ${WARMUP_MS / 1000} s of warm-up.`,
  );
  if (cores < 3) {
    console.log(
      `The machine has ${cores} cores: 2 and 3 processes contend for them (and with the database server, and this script).`,
    );
  }
  console.log('');
  const header = [
    'store',
    'processes',
    'offered fires/s',
    'runs/s',
    'missed/s',
    'runs by process',
    'runs seen twice',
    'errors',
    'note',
  ];
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map(() => '---').join('|')}|`);
  for (const r of rows) {
    console.log(
      `| ${r.store} | ${r.processes} | ${JOBS} | ${r.runsPerSecond} | ${r.missedPerSecond} | ${r.shares} | ${r.duplicates} | ${r.errors} | ${r.note} |`,
    );
  }
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    process.stderr.write(`Cluster bench: still running after ${WATCHDOG_MS / 60_000} min, giving up\n`);
    killAllSchedulerProcesses();
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      killAllSchedulerProcesses();
      // The server helpers stop their servers on exit.
      process.exit(130);
    });
  }
  if (!Number.isInteger(JOBS) || JOBS < 1) {
    throw new TypeError(
      `Expected BENCH_JOBS to be a whole number from 1 and up, got ${process.env.BENCH_JOBS}`,
    );
  }
  const rows: Row[] = [];
  for (const setup of selectedSetups('BENCH_STORES')) {
    try {
      rows.push(...(await benchStore(setup)));
    } catch (error) {
      process.stderr.write(`${setup.name}: ${(error as Error).stack ?? String(error)}\n`);
      rows.push({
        store: setup.name,
        processes: 0,
        runsPerSecond: 0,
        missedPerSecond: 0,
        shares: '',
        duplicates: 0,
        errors: 0,
        note: `failed: ${(error as Error).message.split('\n')[0].slice(0, 120)}`,
      });
    }
  }
  printTable(rows);
  clearTimeout(watchdog);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    killAllSchedulerProcesses();
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
