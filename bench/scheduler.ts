/**
 * Scheduler speed and memory against croner, toad-scheduler and node-schedule, in the same run.
 * Every (case, library, size) runs in a fresh child process so heap figures do not mix.
 *
 *   npm run bench:scheduler            (node --expose-gc --import tsx bench/scheduler.ts)
 *   QUICK=1 npm run bench:scheduler    (smaller sizes, for a smoke run)
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Cron } from 'croner';
import schedule from 'node-schedule';
import { SimpleIntervalJob, Task, ToadScheduler } from 'toad-scheduler';
import { BackgroundScheduler, DateTrigger, IntervalTrigger } from '../src/index.js';

type Lib = 'tickwork' | 'croner' | 'toad-scheduler' | 'node-schedule';
type Result = Record<string, number | string | null>;

const gc = (globalThis as { gc?: () => void }).gc;
function heap(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function activeTimers(): number {
  const resources = (process as unknown as { getActiveResourcesInfo(): string[] }).getActiveResourcesInfo();
  return resources.filter((r) => r === 'Timeout').length;
}

/**
 * TELEMETRY=1: tickwork's burst with telemetry on, into the OpenTelemetry SDK as an application
 * would set it up (async context, batched spans to an exporter that drops them, metrics
 * aggregated for a reader), so the figure is the cost of tickwork's spans and metrics.
 */
async function telemetryProviders() {
  const { context } = await import('@opentelemetry/api');
  const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
  const { BasicTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
  const { MeterProvider, PeriodicExportingMetricReader, InMemoryMetricExporter, AggregationTemporality } =
    await import('@opentelemetry/sdk-metrics');
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const drop = {
    export: (_: unknown, done: (r: { code: number }) => void) => done({ code: 0 }),
    shutdown: async () => {},
  };
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(drop)] });
  const reader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 60_000,
  });
  return { tracerProvider, meterProvider: new MeterProvider({ readers: [reader] }) };
}

// ---- the cases, run inside a child ----

async function caseAdd(lib: Lib, n: number): Promise<Result> {
  const noop = () => {};
  const before = heap();
  const t0 = performance.now();
  let cleanup: () => unknown = () => {};
  if (lib === 'tickwork') {
    const scheduler = new BackgroundScheduler({ timezone: 'UTC', daemon: true });
    await scheduler.start({ paused: true });
    for (let i = 0; i < n; i++)
      await scheduler.addJob(noop, new IntervalTrigger({ seconds: 60, timezone: 'UTC' }));
    cleanup = () => scheduler.shutdown({ wait: false });
  } else if (lib === 'croner') {
    const jobs: Cron[] = [];
    for (let i = 0; i < n; i++) jobs.push(new Cron('* * * * *', { unref: true }, noop));
    cleanup = () => {
      for (const j of jobs) j.stop();
    };
  } else if (lib === 'toad-scheduler') {
    const s = new ToadScheduler();
    for (let i = 0; i < n; i++)
      s.addSimpleIntervalJob(new SimpleIntervalJob({ seconds: 60 }, new Task(`t${i}`, noop)));
    cleanup = () => s.stop();
  } else {
    for (let i = 0; i < n; i++) schedule.scheduleJob('* * * * *', noop);
    cleanup = () => schedule.gracefulShutdown();
  }
  const ms = performance.now() - t0;
  const bytes = (heap() - before) / n;
  await cleanup();
  return { ms, bytesPerJob: bytes };
}

/** CPU time (user + system) of this process since `since`, per run, in microseconds. */
function cpuPerRun(since: NodeJS.CpuUsage, n: number): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / n;
}

async function caseBurst(lib: Lib, n: number): Promise<Result> {
  let cpu0 = process.cpuUsage();
  const h = monitorEventLoopDelay({ resolution: 1 });
  let done = 0;
  let t0 = 0;
  let finished: () => void = () => {};
  const all = new Promise<void>((resolve) => {
    finished = resolve;
  });
  const task = async () => {
    if (++done === n) finished();
  };
  if (lib === 'tickwork') {
    const scheduler = new BackgroundScheduler({
      timezone: 'UTC',
      telemetry: process.env.TELEMETRY === '1' ? await telemetryProviders() : false,
    });
    await scheduler.start({ paused: true });
    const at = new Date(Date.now());
    for (let i = 0; i < n; i++) {
      await scheduler.addJob(task, new DateTrigger({ runDate: at, timezone: 'UTC' }), {
        misfireGraceTime: null,
      });
    }
    h.enable();
    t0 = performance.now();
    cpu0 = process.cpuUsage();
    scheduler.resume();
    await all;
    const ms = performance.now() - t0;
    h.disable();
    await scheduler.shutdown();
    return { jobsPerSecond: (n / ms) * 1000, p99ms: h.percentile(99) / 1e6, cpuUsPerRun: cpuPerRun(cpu0, n) };
  }
  // The instant must still be ahead once every job is added (node-schedule takes ~1 ms per add).
  const setupMs = lib === 'node-schedule' ? n * 2 : n * 0.3;
  const at = new Date(Date.now() + 2000 + setupMs);
  if (lib === 'croner') {
    for (let i = 0; i < n; i++) new Cron(at, task);
  } else if (lib === 'node-schedule') {
    for (let i = 0; i < n; i++) schedule.scheduleJob(at, task);
  } else {
    return { jobsPerSecond: null, p99ms: null };
  }
  h.enable();
  await new Promise((r) => setTimeout(r, Math.max(0, at.getTime() - Date.now() - 5)));
  t0 = performance.now();
  cpu0 = process.cpuUsage();
  await all;
  const ms = performance.now() - t0;
  h.disable();
  if (lib === 'node-schedule') await schedule.gracefulShutdown();
  return { jobsPerSecond: (n / ms) * 1000, p99ms: h.percentile(99) / 1e6, cpuUsPerRun: cpuPerRun(cpu0, n) };
}

async function caseSteady(lib: Lib, n: number, seconds: number): Promise<Result> {
  const lateness: number[] = [];
  const runs = new Map<number, number>();
  let stopAt = 0;
  const record = (id: number, expected: number) => {
    const now = Date.now();
    if (expected >= stopAt) return;
    lateness.push(now - expected);
    runs.set(id, (runs.get(id) ?? 0) + 1);
  };
  const start = Math.ceil(Date.now() / 1000) * 1000 + 2000;
  stopAt = start + seconds * 1000;
  let stop: () => unknown = () => {};
  if (lib === 'tickwork') {
    const scheduler = new BackgroundScheduler({ timezone: 'UTC' });
    scheduler.on('job_executed', () => {});
    for (let i = 0; i < n; i++) {
      await scheduler.addJob(
        (id: number) => {
          record(id, Math.floor(Date.now() / 1000) * 1000);
        },
        'interval',
        { seconds: 1, startDate: new Date(start), args: [i], misfireGraceTime: null, timezone: 'UTC' },
      );
    }
    await scheduler.start();
    stop = () => scheduler.shutdown();
  } else if (lib === 'croner') {
    const jobs: Cron[] = [];
    for (let i = 0; i < n; i++) {
      jobs.push(
        new Cron('* * * * * *', { startAt: new Date(start - 1) }, () =>
          record(i, Math.floor(Date.now() / 1000) * 1000),
        ),
      );
    }
    stop = () => {
      for (const j of jobs) j.stop();
    };
  } else if (lib === 'toad-scheduler') {
    const s = new ToadScheduler();
    await new Promise((r) => setTimeout(r, start - 1000 - Date.now()));
    const base = Date.now();
    for (let i = 0; i < n; i++) {
      let k = 0;
      s.addSimpleIntervalJob(
        new SimpleIntervalJob({ seconds: 1 }, new Task(`t${i}`, () => record(i, base + ++k * 1000))),
      );
    }
    stop = () => s.stop();
  } else {
    for (let i = 0; i < n; i++)
      schedule.scheduleJob('* * * * * *', () => record(i, Math.floor(Date.now() / 1000) * 1000));
    stop = () => schedule.gracefulShutdown();
  }
  await new Promise((r) => setTimeout(r, stopAt + 500 - Date.now()));
  await stop();
  lateness.sort((a, b) => a - b);
  let total = 0;
  let doubled = 0;
  for (const count of runs.values()) {
    total += count;
    if (count > seconds) doubled += count - seconds;
  }
  return {
    p50ms: percentile(lateness, 50),
    p99ms: percentile(lateness, 99),
    runs: total,
    expected: n * seconds,
    doubled,
  };
}

async function caseIdle(lib: Lib, n: number): Promise<Result> {
  const nextWeek = new Date(Date.now() + 7 * 86_400_000);
  const noop = () => {};
  const before = activeTimers();
  let stop: () => unknown = () => {};
  if (lib === 'tickwork') {
    const scheduler = new BackgroundScheduler({ timezone: 'UTC' });
    await scheduler.start();
    for (let i = 0; i < n; i++) await scheduler.addJob(noop, 'date', { runDate: nextWeek });
    await new Promise((r) => setTimeout(r, 200));
    stop = () => scheduler.shutdown();
  } else if (lib === 'croner') {
    const jobs: Cron[] = [];
    for (let i = 0; i < n; i++) jobs.push(new Cron(nextWeek, noop));
    stop = () => {
      for (const j of jobs) j.stop();
    };
  } else if (lib === 'toad-scheduler') {
    const s = new ToadScheduler();
    for (let i = 0; i < n; i++)
      s.addSimpleIntervalJob(new SimpleIntervalJob({ days: 7 }, new Task(`t${i}`, noop)));
    stop = () => s.stop();
  } else {
    for (let i = 0; i < n; i++) schedule.scheduleJob(nextWeek, noop);
    stop = () => schedule.gracefulShutdown();
  }
  const after = activeTimers();
  await stop();
  return { timers: after - before };
}

// ---- the driver ----

const self = fileURLToPath(import.meta.url);

function runChild(args: string[]): Result {
  let out: string;
  try {
    out = execFileSync(
      process.execPath,
      ['--expose-gc', '--max-old-space-size=16000', '--import', 'tsx', self, ...args],
      { encoding: 'utf8', maxBuffer: 1 << 20, stdio: ['ignore', 'pipe', 'inherit'], timeout: 240_000 },
    );
  } catch (error) {
    // A peer that does not finish a case in 4 minutes is reported as timed out.
    console.error(`${args.join(' ')}: ${(error as Error).message.split('\n')[0]}`);
    return { timedOut: 'yes' };
  }
  return JSON.parse(out.trim().split('\n').pop() as string) as Result;
}

function fmt(v: number | string | null | undefined, digits = 1): string {
  if (v === null || v === undefined) return 'n/a';
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return 'n/a';
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(digits);
}

function table(title: string, header: string[], rows: string[][]): void {
  console.log(`\n${title}\n`);
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map(() => '---').join('|')}|`);
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
}

async function main(): Promise<void> {
  const [mode, lib, nText, extra] = process.argv.slice(2);
  if (mode !== undefined) {
    // Some peers unref their timers: keep the child alive until its case is done.
    const keepAlive = setInterval(() => {}, 1 << 30);
    const n = Number(nText);
    const result =
      mode === 'add'
        ? await caseAdd(lib as Lib, n)
        : mode === 'burst'
          ? await caseBurst(lib as Lib, n)
          : mode === 'steady'
            ? await caseSteady(lib as Lib, n, Number(extra))
            : await caseIdle(lib as Lib, n);
    clearInterval(keepAlive);
    process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
    return;
  }
  const quick = process.env.QUICK === '1';
  const libs: Lib[] = ['tickwork', 'croner', 'toad-scheduler', 'node-schedule'];
  console.log(
    `tickwork scheduler bench, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} cores${quick ? ' (QUICK)' : ''}`,
  );

  const only = process.env.CASES?.split(',');
  const want = (name: string) => only === undefined || only.includes(name);
  if (want('add')) {
    const sizes = quick ? [10_000] : [10_000, 100_000, 1_000_000];
    const addRows: string[][] = [];
    for (const n of sizes) {
      const results = new Map<Lib, Result>();
      for (const lib of libs) {
        const skip = (lib === 'node-schedule' && n > 10_000) || (lib === 'croner' && n > 10_000);
        results.set(lib, skip ? { ms: null, bytesPerJob: null } : runChild(['add', lib, String(n)]));
      }
      const t = results.get('tickwork') as Result;
      for (const lib of libs) {
        const r = results.get(lib) as Result;
        const ratio =
          lib === 'tickwork' || r.ms === null ? '' : `${fmt((r.ms as number) / (t.ms as number))}x`;
        addRows.push([n.toLocaleString('en-US'), lib, fmt(r.ms), fmt(r.bytesPerJob, 0), ratio]);
      }
    }
    table(
      '1. Add N recurring jobs (time, retained heap per job after GC)',
      ['N', 'library', 'ms', 'bytes/job', 'tickwork faster by'],
      addRows,
    );
  }
  if (want('burst')) {
    const burstN = quick ? 10_000 : 100_000;
    const burstRows: string[][] = [];
    const burst = new Map<Lib, Result>();
    for (const lib of libs) {
      const n = lib === 'node-schedule' ? Math.min(burstN, 10_000) : burstN;
      // toad-scheduler has no one-off date jobs.
      burst.set(
        lib,
        lib === 'toad-scheduler' ? { jobsPerSecond: null, p99ms: null } : runChild(['burst', lib, String(n)]),
      );
    }
    const tb = burst.get('tickwork') as Result;
    for (const lib of libs) {
      const r = burst.get(lib) as Result;
      const ratio =
        lib === 'tickwork' || typeof r.jobsPerSecond !== 'number'
          ? ''
          : `${fmt((tb.jobsPerSecond as number) / (r.jobsPerSecond as number))}x`;
      burstRows.push([
        lib,
        lib === 'node-schedule' ? String(Math.min(burstN, 10_000)) : String(burstN),
        r.timedOut === 'yes' ? 'did not finish in 240 s' : fmt(r.jobsPerSecond, 0),
        fmt(r.p99ms),
        fmt(r.cpuUsPerRun, 2),
        ratio,
      ]);
    }
    table(
      '2. Burst: date jobs due at one instant, trivial async function',
      ['library', 'jobs', 'jobs/s', 'event-loop p99 ms', 'CPU µs/run', 'tickwork faster by'],
      burstRows,
    );
  }
  if (want('steady')) {
    const steadyN = quick ? 1_000 : 10_000;
    const steadySeconds = quick ? 3 : 10;
    const steadyRows: string[][] = [];
    for (const lib of libs) {
      const n = lib === 'node-schedule' ? Math.min(steadyN, 10_000) : steadyN;
      const r = runChild(['steady', lib, String(n), String(steadySeconds)]);
      steadyRows.push([
        lib,
        String(n),
        fmt(r.p50ms),
        fmt(r.p99ms),
        `${r.runs} / ${r.expected}`,
        String(r.doubled),
      ]);
    }
    table(
      `3. Steady: jobs each every second for ${steadySeconds} s`,
      ['library', 'jobs', 'lateness p50 ms', 'lateness p99 ms', 'runs / expected', 'doubled'],
      steadyRows,
    );
  }
  if (want('idle')) {
    const idleN = quick ? 10_000 : 100_000;
    const idleRows: string[][] = [];
    for (const lib of libs) {
      const n = lib === 'node-schedule' ? Math.min(idleN, 10_000) : idleN;
      const r = runChild(['idle', lib, String(n)]);
      idleRows.push([lib, String(n), fmt(r.timers as number, 0)]);
    }
    table(
      '4. Idle: jobs due next week (timers armed, from process.getActiveResourcesInfo)',
      ['library', 'jobs', 'timers armed'],
      idleRows,
    );
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
