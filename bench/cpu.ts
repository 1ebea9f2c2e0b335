/**
 * Question: with 8 CPU-bound jobs (about 200 ms each) due at once, how long until all are done,
 * and how late does the main thread's event loop run meanwhile? PromisePoolExecutor runs them on
 * the main thread; WorkerThreadExecutor in worker threads (cold: the workers start with the
 * batch; warm: they have started and run once before it).
 *
 * Run: npm run bench:cpu
 */
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import {
  BackgroundScheduler,
  type Executor,
  PromisePoolExecutor,
  WorkerThreadExecutor,
} from '../src/index.js';
import { burn } from './cpu-task.js';

const JOBS = 8;
const JOB_MS = 200;

interface Row {
  executor: string;
  totalMs: number;
  p99Ms: number;
  maxMs: number;
}

/** Adds `count` jobs due now and resolves once they have all run. */
async function runBatch(
  scheduler: BackgroundScheduler,
  func: typeof burn | string,
  count: number,
  ms: number,
  prefix: string,
): Promise<void> {
  let done = 0;
  const finished = new Promise<void>((resolve, reject) => {
    const onExecuted = (event: { jobId: string }) => {
      if (event.jobId.startsWith(prefix) && ++done === count) {
        scheduler.off('job_executed', onExecuted);
        resolve();
      }
    };
    scheduler.on('job_executed', onExecuted);
    scheduler.on('job_error', (event) => reject(event.error));
    scheduler.on('job_missed', (event) => reject(new Error(`run of ${event.jobId} missed`)));
  });
  for (let i = 0; i < count; i++) {
    // No grace limit: on the main thread the eighth 200 ms job starts 1.4 s late, and the question
    // is how long the batch takes, not whether it misses.
    const options = { id: `${prefix}${i}`, args: [ms] as [number], misfireGraceTime: null };
    if (typeof func === 'string') await scheduler.addJob(func, undefined, options);
    else await scheduler.addJob(func, undefined, options);
  }
  await finished;
}

async function measure(
  label: string,
  executor: Executor,
  func: typeof burn | string,
  warm: boolean,
): Promise<Row> {
  const scheduler = new BackgroundScheduler({ timezone: 'UTC', executors: { default: executor } });
  await scheduler.start();
  // Warm: every worker has started and run once before the clock starts.
  if (warm) await runBatch(scheduler, func, availableParallelism(), 1, 'warmup-');
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  // Let the histogram take its first samples: a stall before its first tick goes unrecorded.
  await new Promise((resolve) => setTimeout(resolve, 20));
  const started = performance.now();
  await runBatch(scheduler, func, JOBS, JOB_MS, 'cpu-');
  const totalMs = performance.now() - started;
  // The histogram samples when its timer gets a turn: a stall shows once the loop is free again.
  await new Promise((resolve) => setTimeout(resolve, 50));
  histogram.disable();
  await scheduler.shutdown({ wait: true });
  return { executor: label, totalMs, p99Ms: histogram.percentile(99) / 1e6, maxMs: histogram.max / 1e6 };
}

async function main(): Promise<void> {
  const cores = availableParallelism();
  const rows: Row[] = [];
  const pool = () => new PromisePoolExecutor({ maxWorkers: 10 });
  const workers = () => new WorkerThreadExecutor({ maxWorkers: cores });
  const ref = './bench/cpu-task.ts#burn';
  rows.push(await measure('PromisePoolExecutor(maxWorkers: 10)', pool(), burn, false));
  rows.push(await measure(`WorkerThreadExecutor(maxWorkers: ${cores}), cold`, workers(), ref, false));
  rows.push(await measure(`WorkerThreadExecutor(maxWorkers: ${cores}), warm`, workers(), ref, true));

  const ideal = (JOBS * JOB_MS) / cores;
  console.log(
    `# bench/cpu.ts, ${new Date().toISOString().slice(0, 10)}, ${cores} cores, Node ${process.version}`,
  );
  console.log(
    `# ${JOBS} jobs of ${JOB_MS} ms CPU due at once; ideal total ${JOBS} x ${JOB_MS} ms / ${cores} = ${ideal} ms`,
  );
  console.log('| executor | total (ms) | event-loop delay p99 (ms) | max (ms) |');
  console.log('|---|---:|---:|---:|');
  for (const row of rows) {
    console.log(
      `| ${row.executor} | ${row.totalMs.toFixed(0)} | ${row.p99Ms.toFixed(1)} | ${row.maxMs.toFixed(1)} |`,
    );
  }
}

await main();
