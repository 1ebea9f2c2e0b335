/**
 * Runs that end while their shared store is slow to record them wait in the process, and reach
 * the store in calls of at most 2,500 runs once it answers: a backlog never becomes one call that
 * outlasts the store's query timeout, or holds a Redis server for long. Past 10,000 such runs
 * the process takes no new work from that store until it has caught up, so the backlog (and what
 * a crash would leave to report as abandoned) stays bounded.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { BackgroundScheduler, PromisePoolExecutor, registerTask, SqliteJobStore } from '../../src/index.js';
import type { FinishedRunRow } from '../../src/stores/backend.js';
import { pollUntil } from '../helpers/wait.js';

registerTask('complete-batches:noop', () => undefined);

const JOBS = 12_500;
const LIMIT = 10_000;

/**
 * A store whose first write of finished runs waits until `open()`; it counts each write's runs,
 * and notes how many runs had ended (`ended()`) at each end of a pass (`getNextRunTime`).
 */
class GatedWrites extends SqliteJobStore {
  readonly calls: number[] = [];
  readonly endedAtPassEnd: number[] = [];
  written = 0;
  ended: () => number = () => 0;
  open: () => void = () => {};
  readonly #gate = new Promise<void>((resolve) => {
    this.open = resolve;
  });

  override async completeRuns(runs: FinishedRunRow[]): Promise<void> {
    this.calls.push(runs.length);
    if (this.calls.length === 1) await this.#gate;
    await super.completeRuns(runs);
    this.written += runs.length;
  }

  override async getNextRunTime(): Promise<Date | null> {
    this.endedAtPassEnd.push(this.ended());
    return super.getNextRunTime();
  }
}

/** An executor that says it can start any number of runs, so that a pass takes full batches. */
class Unbounded extends PromisePoolExecutor {
  override freeSlots(): number {
    return Number.POSITIVE_INFINITY;
  }
}

let dir = '';
afterEach(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

it('takes no new work past 10,000 unrecorded runs, and writes the backlog in calls of at most 2,500', async () => {
  dir = await mkdtemp(join(tmpdir(), 'tickwork-complete-batches-'));
  const store = new GatedWrites({ path: join(dir, 'jobs.db') });
  const scheduler = new BackgroundScheduler({
    timezone: 'UTC',
    jobstores: { default: store },
    executors: { default: new Unbounded() },
    logger: false,
  });
  let executed = 0;
  scheduler.on('job_executed', () => {
    executed++;
  });
  store.ended = () => executed;
  try {
    await scheduler.start({ paused: true });
    const runDate = new Date(Date.now() - 1_000);
    for (let start = 0; start < JOBS; start += 2_500) {
      await Promise.all(
        Array.from({ length: 2_500 }, (_, i) =>
          scheduler.addJob('complete-batches:noop', 'date', {
            runDate,
            misfireGraceTime: null,
            id: `job-${start + i}`,
          }),
        ),
      );
    }
    scheduler.resume();
    // The first write waits: the pass stops once 10,000 runs have ended unrecorded, with the
    // batches it had in hand started, and the rest of the jobs not taken.
    expect(await pollUntil(() => store.endedAtPassEnd.some((n) => n >= LIMIT), Date.now() + 30_000)).toBe(
      true,
    );
    expect(store.calls.length).toBe(1);
    expect(executed).toBeGreaterThanOrEqual(LIMIT);
    expect(executed).toBeLessThan(JOBS);
    store.open();
    expect(await pollUntil(() => store.written === JOBS && executed === JOBS, Date.now() + 30_000)).toBe(
      true,
    );
    expect((await scheduler.getRuns({ limit: LIMIT })).length).toBe(LIMIT);
    expect(store.calls.reduce((a, b) => a + b, 0)).toBe(JOBS);
    expect(Math.max(...store.calls)).toBeLessThanOrEqual(2_500);
    expect(store.calls.length).toBeGreaterThanOrEqual(5);
  } finally {
    if (scheduler.running) await scheduler.shutdown({ wait: false });
  }
}, 60_000);
