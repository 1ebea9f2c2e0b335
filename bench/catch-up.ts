/**
 * Catching up: a job every 1 ms whose next run time is a day in the past (86.4 million missed
 * fire times), in the memory store and in a SQLite file. Measures, on the real clock, the time
 * from `resume()` to the backlog's outcome (the run with coalesce; the job_missed event without),
 * and the heap it left in use (after a full GC, against the heap before).
 *
 *   npm run bench:catchup        (node --expose-gc --import tsx bench/catch-up.ts)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BackgroundScheduler,
  type JobStore,
  MemoryJobStore,
  registerTask,
  type SchedulerEventAny,
  SqliteJobStore,
} from '../src/index.js';

const DAY_MS = 86_400_000;
registerTask('catch-up:noop', () => undefined);

const gc = (globalThis as { gc?: () => void }).gc;

function heapMb(): number {
  gc?.();
  return process.memoryUsage().heapUsed / 1_048_576;
}

async function measure(
  store: JobStore,
  coalesce: boolean,
): Promise<{ ms: number; heapMb: number; peakMb: number; events: string }> {
  const scheduler = new BackgroundScheduler({ timezone: 'UTC', jobstores: { default: store } });
  const seen: SchedulerEventAny[] = [];
  scheduler.addListener((e) => {
    seen.push(e);
  });
  await scheduler.start({ paused: true });
  const dayAgo = new Date(Date.now() - DAY_MS);
  await scheduler.addJob('catch-up:noop', 'interval', {
    seconds: 0.001,
    startDate: dayAgo,
    nextRunTime: dayAgo,
    coalesce,
    maxInstances: 10,
    id: 'fast',
  });
  const before = heapMb();
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed / 1_048_576);
  }, 1);
  const started = performance.now();
  const outcome = new Promise<void>((resolve) => {
    scheduler.addListener((e) => {
      if ((coalesce && e.name === 'job_executed') || (!coalesce && e.name === 'job_missed')) resolve();
    });
  });
  scheduler.resume();
  await outcome;
  const ms = performance.now() - started;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().heapUsed / 1_048_576);
  await scheduler.shutdown({ wait: false });
  const counts = new Map<string, number>();
  for (const e of seen) counts.set(e.name, (counts.get(e.name) ?? 0) + 1);
  return {
    ms,
    heapMb: heapMb() - before,
    peakMb: peak - before,
    events: [...counts].map(([n, c]) => `${n}×${c}`).join(' '),
  };
}

const dir = await mkdtemp(join(tmpdir(), 'tickwork-catch-up-'));
console.log('| store | coalesce | to outcome | heap peak over start | heap after | events |');
console.log('|---|---|---|---|---|---|');
let n = 0;
for (const [name, make] of [
  ['memory', () => new MemoryJobStore()],
  ['SQLite', () => new SqliteJobStore({ path: join(dir, `jobs-${++n}.db`) })],
] as const) {
  for (const coalesce of [true, false]) {
    const r = await measure(make(), coalesce);
    console.log(
      `| ${name} | ${coalesce} | ${r.ms.toFixed(1)} ms | ${r.peakMb.toFixed(2)} MB | ${r.heapMb.toFixed(2)} MB | ${r.events} |`,
    );
  }
}
await rm(dir, { recursive: true, force: true });
