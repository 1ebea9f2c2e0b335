/**
 * Where the scheduler's time goes: a CPU profile of the burst case of `bench/scheduler.ts`
 * (100,000 date jobs due at once on the memory store, each a trivial async function), taken
 * over the burst only (the adds before it are not profiled), summed by source file and by
 * function. `--no-history` runs it with `runHistory: false`. Then the floor: what the least a
 * scheduler must do per run costs on this machine and Node (an async function called in an
 * `AsyncLocalStorage` context, as `getJobContext()` needs; its id deleted from a 100,000-entry
 * Map; with the history on, a 10-field history record kept), the median of 5 rounds.
 *
 *   npm run bench:profile [-- --no-history] [-- --n 100000]
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Session } from 'node:inspector/promises';
import { BackgroundScheduler, DateTrigger } from '../src/index.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}

const args = process.argv.slice(2);
const history = !args.includes('--no-history');
const nIndex = args.indexOf('--n');
const n = nIndex >= 0 ? Number(args[nIndex + 1]) : 100_000;

/** Where a frame's code lives: a source file of this package, a Node module, or V8 itself. */
function place(url: string, fn: string): string {
  const src = url.indexOf('/src/');
  if (src >= 0 && !url.includes('node_modules')) return url.slice(src + 1);
  if (url.startsWith('node:')) return url;
  if (url.includes('node_modules/')) return `node_modules/${url.split('node_modules/')[1].split('/')[0]}`;
  if (url === '') return fn === '' ? '(native)' : fn;
  return url.slice(url.lastIndexOf('/') + 1);
}

/** A trivial async task, and a promise that resolves once it has run `n` times. */
function countdown(): { task: () => Promise<void>; all: Promise<void> } {
  let done = 0;
  let finished: () => void = () => {};
  const all = new Promise<void>((resolve) => {
    finished = resolve;
  });
  const task = async () => {
    if (++done === n) finished();
  };
  return { task, all };
}

async function main(): Promise<void> {
  const { task, all } = countdown();
  const scheduler = new BackgroundScheduler({ timezone: 'UTC', runHistory: history ? {} : false });
  await scheduler.start({ paused: true });
  const at = new Date(Date.now());
  for (let i = 0; i < n; i++) {
    await scheduler.addJob(task, new DateTrigger({ runDate: at, timezone: 'UTC' }), {
      misfireGraceTime: null,
    });
  }
  globalThis.gc?.();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  const t0 = performance.now();
  scheduler.resume();
  await all;
  const ms = performance.now() - t0;
  const { profile } = (await session.post('Profiler.stop')) as {
    profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  };
  session.disconnect();
  await scheduler.shutdown();

  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const byPlace = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const frame = (nodes.get(profile.samples[i]) as ProfileNode).callFrame;
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    const where = place(frame.url, frame.functionName);
    byPlace.set(where, (byPlace.get(where) ?? 0) + dt);
    const fn = `${where} ${frame.functionName || '(anonymous)'}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + dt);
  }
  const top = (map: Map<string, number>, k: number) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([name, t]) => `  ${((100 * t) / total).toFixed(1).padStart(5)}%  ${name}`)
      .join('\n');
  console.log(
    `burst of ${n.toLocaleString('en-US')} date jobs, history ${history ? 'on' : 'off'}, Node ${process.version}: ` +
      `${Math.round((n / ms) * 1000).toLocaleString('en-US')} jobs/s (${ms.toFixed(0)} ms, ${((1000 * ms) / n).toFixed(2)} µs per run)`,
  );
  const share = (test: (place: string) => boolean) => {
    let t = 0;
    for (const [where, dt] of byPlace) if (test(where)) t += dt;
    return `${((100 * t) / total).toFixed(1)}%`;
  };
  console.log(
    [
      `executor ${share((p) => p.startsWith('src/executors/'))}`,
      `memory store ${share((p) => p === 'src/stores/memory.ts')}`,
      `history rows ${share((p) => p === 'src/scheduler/run-reports.ts' || p === 'src/scheduler/history.ts')}`,
      `garbage collector ${share((p) => p === '(garbage collector)')}`,
      `AsyncLocalStorage ${share((p) => /^node:(internal\/)?async_(hooks|local_storage|context_frame)/.test(p))}`,
      `run loop and rules ${share((p) => p === 'src/scheduler/run-loop.ts' || p === 'src/scheduler/run-rules.ts')}`,
    ].join(', '),
  );
  console.log(`self time by place:\n${top(byPlace, 15)}`);
  console.log(`self time by function:\n${top(byFunction, 20)}`);
}

/** One round of the floor: microseconds per run. */
async function floorRound(keepHistory: boolean): Promise<number> {
  const storage = new AsyncLocalStorage<{ id: string }>();
  const ids = new Map<string, { i: number }>();
  for (let i = 0; i < n; i++) ids.set(`job-${i.toString(16).padStart(28, '0')}`, { i });
  const keys = [...ids.keys()];
  const history: object[] = [];
  const { task, all } = countdown();
  globalThis.gc?.();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const id = keys[i];
    ids.delete(id);
    storage.run({ id }, task).then(() => {
      if (!keepHistory) return;
      const t = Date.now();
      history.push({
        jobId: id,
        jobName: id,
        scheduledRunTime: t0,
        startedAt: t,
        finishedAt: t,
        outcome: 'success',
        error: null,
        retval: null,
        attempt: 1,
        schedulerId: 'floor',
      });
    });
    if ((i & 1023) === 1023) await new Promise((resolve) => setImmediate(resolve));
  }
  await all;
  await new Promise((resolve) => setImmediate(resolve));
  return ((performance.now() - t0) * 1000) / n;
}

await main();
const rounds: number[] = [];
for (let k = 0; k < 5; k++) rounds.push(await floorRound(history));
rounds.sort((a, b) => a - b);
console.log(
  `floor (async call in an AsyncLocalStorage context, Map delete${history ? ', history record kept' : ''}): ` +
    `${rounds[2].toFixed(2)} µs per run, ${Math.round(1e6 / rounds[2]).toLocaleString('en-US')} runs/s`,
);
