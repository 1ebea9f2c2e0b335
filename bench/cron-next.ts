/**
 * Next-fire computation: tickwork against cron-parser 5 and croner, in the same process, checking
 * that all three agree on every fire time. Also the retained heap of 100,000 cron triggers.
 *
 *   npm run bench:cron        (node --expose-gc --import tsx bench/cron-next.ts)
 */
import { cpus } from 'node:os';
import { CronExpressionParser } from 'cron-parser';
import { Cron } from 'croner';
import { CronTrigger } from '../src/index.js';

interface Case {
  name: string;
  tickwork: CronTrigger;
  /** 6-field pattern (seconds first), Unix weekday numbering. */
  pattern: string;
  /** croner's pattern, when it differs. */
  cronerPattern?: string;
  timezone: string;
  /** `chain`: each next from the previous fire; `spread`: one next from each start instant. */
  mode: 'chain' | 'spread';
}

const N = 100_000;
const FROM = Date.UTC(2026, 0, 1);
const SPREAD_TO = Date.UTC(2126, 0, 1);

const cases: Case[] = [
  {
    name: '(a) 30 */5 9-17 * * mon-fri, New York, consecutive',
    tickwork: new CronTrigger({
      second: 30,
      minute: '*/5',
      hour: '9-17',
      dayOfWeek: 'mon-fri',
      timezone: 'America/New_York',
    }),
    pattern: '30 */5 9-17 * * 1-5',
    timezone: 'America/New_York',
    mode: 'chain',
  },
  {
    name: '(b) every second, UTC, consecutive',
    tickwork: new CronTrigger({ second: '*', timezone: 'UTC' }),
    pattern: '* * * * * *',
    timezone: 'UTC',
    mode: 'chain',
  },
  {
    name: '(c) last Friday 17:30, Berlin, 100k starts 2026-2125',
    tickwork: new CronTrigger({ day: 'last fri', hour: 17, minute: 30, timezone: 'Europe/Berlin' }),
    pattern: '0 30 17 * * 5L',
    cronerPattern: '0 30 17 * * 5#L',
    timezone: 'Europe/Berlin',
    mode: 'spread',
  },
  {
    name: '(d) 29 February 12:00, UTC, 100k starts 2026-2125',
    tickwork: new CronTrigger({ month: 2, day: 29, hour: 12, timezone: 'UTC' }),
    pattern: '0 0 12 29 2 *',
    timezone: 'UTC',
    mode: 'spread',
  },
];

type Next = (from: number) => number;

function startsOf(c: Case): number[] {
  if (c.mode === 'chain') return [];
  const step = (SPREAD_TO - FROM) / N;
  return Array.from({ length: N }, (_, i) => Math.floor(FROM + i * step));
}

function runAll(next: Next, c: Case, starts: number[]): Float64Array {
  const out = new Float64Array(N);
  if (c.mode === 'chain') {
    let t = FROM;
    for (let i = 0; i < N; i++) t = out[i] = next(t);
  } else {
    for (let i = 0; i < N; i++) out[i] = next(starts[i]);
  }
  return out;
}

function timeIt(
  next: Next,
  c: Case,
  starts: number[],
  rounds: number,
): { usPerOp: number; fires: Float64Array } {
  // Warm up on the first thousand computations, then keep the best of `rounds` full runs.
  for (let i = 0, t = FROM; i < 1000; i++) t = next(c.mode === 'chain' ? t : starts[i]);
  let t0 = performance.now();
  const fires = runAll(next, c, starts);
  let best = performance.now() - t0;
  for (let round = 1; round < rounds; round++) {
    t0 = performance.now();
    runAll(next, c, starts);
    best = Math.min(best, performance.now() - t0);
  }
  return { usPerOp: (best * 1000) / N, fires };
}

function tickworkNext(c: Case): Next {
  // As the scheduler computes it: the first fire strictly after `from`.
  return (from) => {
    const d = new Date(from);
    return (c.tickwork.getNextFireTime(d, d) as Date).getTime();
  };
}

function cronParserNext(c: Case): Next {
  return (from) =>
    CronExpressionParser.parse(c.pattern, { currentDate: new Date(from), tz: c.timezone })
      .next()
      .getTime();
}

function cronerNext(c: Case): Next {
  const job = new Cron(c.cronerPattern ?? c.pattern, { timezone: c.timezone, paused: true });
  return (from) => (job.nextRun(new Date(from)) as Date).getTime();
}

function mismatches(a: Float64Array, b: Float64Array): { count: number; first: string } {
  let count = 0;
  let first = '';
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      if (count === 0) first = `#${i}: ${new Date(a[i]).toISOString()} vs ${new Date(b[i]).toISOString()}`;
      count++;
    }
  }
  return { count, first };
}

function fmt(us: number): string {
  return us < 10 ? us.toFixed(3) : us.toFixed(1);
}

function heapOfTriggers(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return Number.NaN;
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const triggers: CronTrigger[] = [];
  for (let i = 0; i < N; i++) {
    triggers.push(
      new CronTrigger({ minute: i % 60, hour: (i >> 6) % 24, day: 1 + ((i >> 11) % 28), timezone: 'UTC' }),
    );
  }
  gc();
  gc();
  const bytes = (process.memoryUsage().heapUsed - before) / N;
  if (triggers.length !== N) throw new Error('unreachable');
  return bytes;
}

console.log(
  `cron next-fire bench, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} cores, ${N.toLocaleString('en-US')} computations per case\n`,
);
console.log(
  '| case | tickwork µs | cron-parser µs | croner µs | vs cron-parser | vs croner | disagreements |',
);
console.log('|---|---|---|---|---|---|---|');
for (const c of cases) {
  const starts = startsOf(c);
  // The peers take minutes per 100,000: one timed run each; tickwork gets the best of five.
  const tw = timeIt(tickworkNext(c), c, starts, 5);
  const cp = timeIt(cronParserNext(c), c, starts, 1);
  const cr = timeIt(cronerNext(c), c, starts, 1);
  const vsParser = mismatches(tw.fires, cp.fires);
  const vsCroner = mismatches(tw.fires, cr.fires);
  const agree =
    vsParser.count + vsCroner.count === 0
      ? 'none'
      : `cron-parser ${vsParser.count}${vsParser.first ? ` (${vsParser.first})` : ''}; croner ${vsCroner.count}${vsCroner.first ? ` (${vsCroner.first})` : ''}`;
  console.log(
    `| ${c.name} | ${fmt(tw.usPerOp)} | ${fmt(cp.usPerOp)} | ${fmt(cr.usPerOp)} | ${(cp.usPerOp / tw.usPerOp).toFixed(0)}x | ${(cr.usPerOp / tw.usPerOp).toFixed(0)}x | ${agree} |`,
  );
}
console.log(
  `\nRetained heap of ${N.toLocaleString('en-US')} distinct cron triggers: ${heapOfTriggers().toFixed(0)} bytes each`,
);
