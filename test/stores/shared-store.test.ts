/**
 * The shared-store protocol on a SQLite file, on fake timers (better-sqlite3 is synchronous, so
 * no real I/O waits on a timer): leases, fencing tokens, run claims, abandoned runs, and runs past
 * their grace time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  BackgroundScheduler,
  IntervalTrigger,
  JobAbandonedError,
  type JobFunction,
  PromisePoolExecutor,
  registerTask,
  SqliteJobStore,
  TaskLookupError,
} from '../../src/index.js';
import { at, makeScheduler, named, record, SECOND, T0, track, useFakeTime } from '../helpers/scheduler.js';

useFakeTime();

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tickwork-shared-'));
  path = join(dir, 'jobs.sqlite');
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const runs: Array<{ scheduler: string; runTime: string }> = [];
beforeEach(() => {
  runs.length = 0;
});
registerTask('shared.record', (scheduler: string, runTime: string) => {
  runs.push({ scheduler, runTime });
});
let release: () => void = () => {};
registerTask('shared.slow', () => new Promise<void>((resolve) => (release = resolve)));

// How long a due run waits for a free slot before it goes back to the store.
const PREFETCH = 50;

registerTask('shared.hold', () => new Promise<void>((resolve) => setTimeout(resolve, 100)));

function sqlite(): Database.Database {
  return new Database(path);
}

function schedulerOn(id: string, leaseTime = 30) {
  const store = new SqliteJobStore({ path, leaseTime });
  return { store, scheduler: makeScheduler({ schedulerId: id, jobstores: { default: store } }) };
}

/** A scheduler on the file with a pool of `maxWorkers` (a 60 s poll unless `store` says otherwise). */
function poolOn(id: string, maxWorkers: number, store: { pollInterval?: number; claimAhead?: number } = {}) {
  return makeScheduler({
    schedulerId: id,
    jobstores: { default: new SqliteJobStore({ path, pollInterval: 60, ...store }) },
    executors: { default: new PromisePoolExecutor({ maxWorkers }) },
  });
}

/** How many rows the store's table `tickwork_jobs_<table>` has (run claims, waiting runs). */
function rowCount(table: 'runs' | 'retries'): number {
  return (sqlite().prepare(`SELECT count(*) AS n FROM tickwork_jobs_${table}`).get() as { n: number }).n;
}

/** A scheduler in a process that lacks the task `shared.record` (an old build in a rolling deploy). */
class LackingScheduler extends BackgroundScheduler {
  missing = true;
  override restoreTask(ref: string, executor: string): Promise<JobFunction> {
    if (this.missing && ref === 'shared.record') {
      return Promise.reject(new TaskLookupError(ref, 'no task registered under this name'));
    }
    return super.restoreTask(ref, executor);
  }
}

function lackingOn(id: string) {
  const store = new SqliteJobStore({ path });
  const scheduler = track(
    new LackingScheduler({ timezone: 'UTC', schedulerId: id, logger: false, jobstores: { default: store } }),
  );
  return { store, scheduler };
}

/**
 * Adds an interval job of `shared.record` through a scheduler that has the task (a process of
 * the new build), which then stops: the lacking process meets the job only in the store.
 */
async function addElsewhere(options: Record<string, unknown>): Promise<void> {
  const adder = schedulerOn('adder');
  await adder.scheduler.start({ paused: true });
  await adder.scheduler.addJob('shared.record', 'interval', options);
  await adder.scheduler.shutdown();
}

/** Counts in the file every time scheduler `owner` takes a job. */
function countTakes(owner: string): () => number {
  const db = sqlite();
  db.exec(`CREATE TABLE IF NOT EXISTS takes (id TEXT);
    CREATE TRIGGER IF NOT EXISTS count_takes AFTER UPDATE OF token ON tickwork_jobs
    WHEN NEW.acquired_by = '${owner}' BEGIN INSERT INTO takes VALUES (NEW.id); END;`);
  return () => (db.prepare('SELECT count(*) AS n FROM takes').get() as { n: number }).n;
}

describe('a job one process cannot restore', () => {
  it('is released at once, reported once, and left to a process that can run it', async () => {
    const b = lackingOn('b');
    const bEvents = record(b.scheduler);
    await b.scheduler.start();
    await addElsewhere({ seconds: 1, id: 'tick', args: ['x', 'y'] });
    const takesByB = countTakes('b');
    // b takes the job at 1 s, cannot restore it, and gives it back at once.
    await vi.advanceTimersByTimeAsync(SECOND + 50);
    expect(takesByB()).toBe(1);
    const lease = sqlite().prepare("SELECT acquired_by FROM tickwork_jobs WHERE id = 'tick'").get();
    expect(lease).toEqual({ acquired_by: null });
    const errors = named(bEvents, 'job_error');
    expect(errors.map((e) => [e.jobId, (e.error as Error).name, e.willRetry])).toEqual([
      ['tick', 'TaskLookupError', false],
    ]);

    // a can run it: it runs every fire time, including the one b gave back.
    const a = schedulerOn('a');
    const aEvents = record(a.scheduler);
    await a.scheduler.start();
    await vi.advanceTimersByTimeAsync(10 * SECOND);
    expect(named(aEvents, 'job_executed').map((e) => e.scheduledRunTime)).toEqual(
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((s) => at(s * SECOND)),
    );
    // Meanwhile b took it no more and reported nothing more.
    expect(takesByB()).toBe(1);
    expect(named(bEvents, 'job_error')).toHaveLength(1);

    // a stops: the job is due and nobody runs it. b looks again once its next run time has
    // passed by a lease (30 s) without a run, and still reports nothing new.
    await a.scheduler.shutdown();
    await vi.advanceTimersByTimeAsync(60 * SECOND);
    expect(takesByB()).toBeGreaterThan(1);
    expect(named(bEvents, 'job_error')).toHaveLength(1);
    expect(named(bEvents, 'job_executed')).toEqual([]);

    // Its task appears in b (a hot reload, a plugin registered late): b runs it within a poll.
    b.scheduler.missing = false;
    await vi.advanceTimersByTimeAsync(2 * SECOND);
    expect(named(bEvents, 'job_executed').length).toBeGreaterThan(0);
  });

  it('a run asked for elsewhere runs once, in a process that has its task', async () => {
    const b = lackingOn('b');
    const bEvents = record(b.scheduler);
    await b.scheduler.start();
    await addElsewhere({
      hours: 1,
      id: 'tick',
      args: ['x', 'y'],
      misfireGraceTime: 60,
    });
    // A program without the tasks (the CLI) asks for the run; b takes it, cannot run it, and
    // puts it back. (The grace time covers the seconds until a starts.)
    const cli = schedulerOn('cli');
    await cli.scheduler.start({ paused: true });
    const runTime = await cli.scheduler.runJob('tick');
    await vi.advanceTimersByTimeAsync(5 * SECOND);
    expect(named(bEvents, 'job_error').map((e) => (e.error as Error).name)).toEqual(['TaskLookupError']);
    expect(runs).toEqual([]);
    const waiting = sqlite().prepare('SELECT job_id, run_time, attempt FROM tickwork_jobs_retries').all();
    expect(waiting).toEqual([{ job_id: 'tick', run_time: runTime.getTime(), attempt: 1 }]);

    const a = schedulerOn('a');
    const aEvents = record(a.scheduler);
    await a.scheduler.start();
    await vi.advanceTimersByTimeAsync(5 * SECOND);
    expect(named(aEvents, 'job_executed').map((e) => [e.scheduledRunTime, e.attempt])).toEqual([
      [runTime, 1],
    ]);
    expect(runs).toEqual([{ scheduler: 'x', runTime: 'y' }]);
    expect(named(bEvents, 'job_executed')).toEqual([]);
    expect(named(bEvents, 'job_error')).toHaveLength(1);
    const history = await cli.scheduler.getRuns({ jobId: 'tick' });
    expect(history.map((r) => [r.outcome, r.scheduledRunTime, r.schedulerId])).toEqual([
      ['success', runTime, 'a'],
    ]);
    // Its schedule did not move.
    expect((await cli.scheduler.getJob('tick'))?.nextRunTime).toEqual(at(3600 * SECOND));
  });

  it('leaves no lease behind after a clean shutdown', async () => {
    const b = lackingOn('b');
    await b.scheduler.start();
    await addElsewhere({ seconds: 1, id: 'tick', args: ['x', 'y'] });
    await vi.advanceTimersByTimeAsync(SECOND + 50);
    await b.scheduler.shutdown();
    const a = schedulerOn('a');
    const aEvents = record(a.scheduler);
    await a.scheduler.start();
    await vi.advanceTimersByTimeAsync(50);
    expect(named(aEvents, 'job_executed').map((e) => e.scheduledRunTime)).toEqual([at(SECOND)]);
  });

  it('is listed marked broken, and can be paused, modified and removed there', async () => {
    const a = schedulerOn('a');
    await a.scheduler.start({ paused: true });
    await a.scheduler.addJob('shared.record', 'interval', { seconds: 1, id: 'tick', args: ['x', 'y'] });
    const b = lackingOn('b');
    await b.scheduler.start({ paused: true });

    const jobs = await b.scheduler.getJobs();
    expect(jobs.map((j) => [j.id, j.func, j.taskRef, j.args, j.trigger.toString(), j.nextRunTime])).toEqual([
      ['tick', undefined, 'shared.record', ['x', 'y'], 'interval[0:00:01]', at(SECOND)],
    ]);
    expect(jobs[0].broken).toContain('no task registered under this name');
    const one = await b.scheduler.getJob('tick');
    expect([one?.id, one?.func, one?.broken]).toEqual(['tick', undefined, jobs[0].broken]);
    expect(String(await a.scheduler.getJob('tick').then((j) => j?.broken))).toBe('null');

    const paused = await b.scheduler.pauseJob('tick');
    expect([paused.nextRunTime, paused.broken]).toEqual([null, jobs[0].broken]);
    expect((await a.scheduler.getJob('tick'))?.nextRunTime).toBeNull();
    await b.scheduler.modifyJob('tick', { args: ['z', 'w'], name: 'renamed' });
    const seen = await a.scheduler.getJob('tick');
    expect([seen?.args, seen?.name, seen?.nextRunTime]).toEqual([['z', 'w'], 'renamed', null]);
    await b.scheduler.removeJob('tick');
    expect(await a.scheduler.getJobs()).toEqual([]);
  });
});

describe('a stored job whose state this code cannot read', () => {
  it('is listed marked broken, is not resumed as if done, and can be removed', async () => {
    const a = schedulerOn('a');
    await a.scheduler.start({ paused: true });
    await a.scheduler.addJob('shared.record', 'interval', { seconds: 1, id: 'odd', args: ['x', 'y'] });
    const row = sqlite().prepare("SELECT state FROM tickwork_jobs WHERE id = 'odd'").get() as {
      state: string;
    };
    const state = JSON.parse(row.state);
    state.trigger = { type: 'lunar', phase: 'full' };
    sqlite().prepare("UPDATE tickwork_jobs SET state = ? WHERE id = 'odd'").run(JSON.stringify(state));
    const events = record(a.scheduler);
    const [job] = await a.scheduler.getJobs();
    expect([job.id, job.name, job.func, job.args, job.trigger.toJSON()]).toEqual([
      'odd',
      state.name,
      undefined,
      ['x', 'y'],
      { type: 'lunar', phase: 'full' },
    ]);
    expect(job.broken).toMatch(/lunar/);
    expect(named(events, 'job_error').map((e) => e.jobId)).toEqual(['odd']);
    await expect(a.scheduler.resumeJob('odd')).rejects.toThrow(/cannot be resumed here: .*lunar/);
    expect((await a.scheduler.getJob('odd'))?.id).toBe('odd');
    await a.scheduler.removeJob('odd');
    expect(await a.scheduler.getJobs()).toEqual([]);
  });
});

describe('shared SQLite store', () => {
  it('two schedulers on one file run each fire time once', async () => {
    const a = schedulerOn('a');
    const b = schedulerOn('b');
    await a.scheduler.start();
    await b.scheduler.start();
    const fired = new Map<string, string[]>();
    for (const s of [a, b]) {
      s.scheduler.on('job_executed', (e) => {
        const list = fired.get(e.scheduledRunTime.toISOString()) ?? [];
        list.push(e.schedulerId);
        fired.set(e.scheduledRunTime.toISOString(), list);
      });
    }
    await a.scheduler.addJob('shared.record', 'interval', { seconds: 1, args: ['x', 'y'], id: 'tick' });
    await vi.advanceTimersByTimeAsync(10 * SECOND + 50);
    expect([...fired.keys()].length).toBe(10);
    for (const [, who] of fired) expect(who).toHaveLength(1);
    expect(rowCount('runs')).toBe(0);
  });

  it('a process whose runs end at once starts a whole fire on time, beyond its free slots, before any run has ended', async () => {
    // Before its first run ends an executor cannot tell how many runs it can start soon: the pass
    // 0.25 s ahead takes every job due as if runs were quick, not only its 2 free workers.
    const a = poolOn('a', 2);
    await a.start({ paused: true });
    const started: number[] = [];
    a.on('job_submitted', () => started.push(Date.now() - T0.getTime() - SECOND));
    for (let i = 0; i < 8; i++) {
      await a.addJob('shared.record', 'date', { runDate: at(SECOND), id: `job-${i}`, args: ['a', 'x'] });
    }
    a.resume();
    await vi.advanceTimersByTimeAsync(800);
    expect(rowCount('runs')).toBe(8);
    expect(started).toEqual([]);
    await vi.advanceTimersByTimeAsync(250);
    // 2 start at their time; the other 6 as soon as those have ended (1 ms: one timer turn).
    expect(started).toEqual([0, 0, 1, 1, 1, 1, 1, 1]);
    expect(runs).toHaveLength(8);
  });

  for (const claimAhead of [0.25, 0]) {
    it(`runs that find no free slot go back to the store ${PREFETCH} ms after their time, for any process (claimAhead ${claimAhead})`, async () => {
      // a (2 workers, runs of 100 ms, no run ended yet) takes all 8 jobs due at 1 s and starts 2;
      // the 6 that find no free slot go back 50 ms later, each a waiting run due at 1 s. b (a 20
      // ms poll; SQLite gives no wake-up hints) takes 2 of them (its free workers); when a's runs
      // end it takes no more than it can start soon (its runs are known to take time now).
      const make = (id: string, pollInterval: number) => poolOn(id, 2, { pollInterval, claimAhead });
      const a = make('a', 60);
      const b = make('b', 0.02);
      await a.start({ paused: true });
      await b.start({ paused: true });
      const started: Array<[string, number, string, number]> = [];
      const executed: string[] = [];
      for (const s of [a, b]) {
        s.on('job_submitted', (e) =>
          started.push([
            e.schedulerId,
            Date.now() - T0.getTime() - SECOND,
            e.scheduledRunTimes.map((t) => t.toISOString()).join(),
            e.attempt,
          ]),
        );
        s.on('job_executed', (e) => executed.push(e.jobId));
      }
      for (let i = 0; i < 8; i++) {
        await a.addJob('shared.hold', 'date', { runDate: at(SECOND), id: `job-${i}` });
      }
      a.resume();
      await vi.advanceTimersByTimeAsync(SECOND);
      b.resume();
      await vi.advanceTimersByTimeAsync(SECOND);
      const due = at(SECOND).toISOString();
      for (const [, , runTimes, attempt] of started) expect([runTimes, attempt]).toEqual([due, 1]);
      expect(started.slice(0, 2).map(([who, ms]) => [who, ms])).toEqual([
        ['a', 0],
        ['a', 0],
      ]);
      const later = started.slice(2);
      expect(later).toHaveLength(6);
      for (const [, ms] of later) expect(ms).toBeGreaterThanOrEqual(PREFETCH);
      // b's first pass after the give-back takes its 2 free workers' worth.
      expect(later.slice(0, 2).map(([who]) => who)).toEqual(['b', 'b']);
      // When a's first runs end, 100 ms in, it takes 3: 2 free workers plus the 1 run they turn
      // over in the next 50 ms at 100 ms a run.
      expect(later.filter(([who, ms]) => who === 'a' && ms >= 100 && ms < 110)).toHaveLength(3);
      expect(executed.sort()).toEqual(Array.from({ length: 8 }, (_, i) => `job-${i}`));
      expect(rowCount('runs')).toBe(0);
      await a.shutdown();
      await b.shutdown();
    });
  }

  for (const grace of [0.5, null]) {
    it(`a fire time given back keeps its misfireGraceTime (${grace}): taken after it, it is ${grace === null ? 'run' : 'reported missed'}`, async () => {
      // One worker: job-0 holds it, job-1 finds no free slot and goes back to the store 50 ms
      // after its time. Only when job-0 ends, 1 s later, is there room to take it.
      const a = poolOn('a', 1);
      await a.start({ paused: true });
      const seen: string[] = [];
      a.on('job_executed', (e) => seen.push(`executed ${e.jobId}`));
      a.on('job_missed', (e) => seen.push(`missed ${e.jobId} ${e.scheduledRunTime.toISOString()}`));
      await a.addJob('shared.slow', 'date', { runDate: at(SECOND), id: 'job-0', misfireGraceTime: grace });
      await a.addJob('shared.record', 'date', {
        runDate: at(SECOND),
        id: 'job-1',
        args: ['a', 'x'],
        misfireGraceTime: grace,
      });
      a.resume();
      await vi.advanceTimersByTimeAsync(SECOND + 100);
      expect(rowCount('retries')).toBe(1);
      await vi.advanceTimersByTimeAsync(SECOND);
      release();
      await vi.advanceTimersByTimeAsync(100);
      expect(seen).toEqual(
        grace === null
          ? ['executed job-0', 'executed job-1']
          : ['executed job-0', `missed job-1 ${at(SECOND).toISOString()}`],
      );
      expect(runs).toHaveLength(grace === null ? 1 : 0);
    });
  }

  for (const coalesce of [true, false]) {
    it(`a fire time given back ${coalesce ? "is coalesced into its job's later fire time due with it" : 'runs besides the later fire times of a job that does not coalesce'}`, async () => {
      // One worker, held by job-0 from 1 s to 3.5 s: job-1's fire at 1 s finds no free slot and
      // goes back to the store; its fires at 2 s and 3 s wait in the store. At 3.5 s all three
      // are due.
      const a = poolOn('a', 1);
      await a.start({ paused: true });
      const executed: string[] = [];
      const missed: string[] = [];
      a.on('job_executed', (e) => executed.push(`${e.jobId}@${e.scheduledRunTime.getTime() - T0.getTime()}`));
      a.on('job_missed', (e) => missed.push(e.jobId));
      await a.addJob('shared.slow', 'date', { runDate: at(SECOND), id: 'job-0' });
      await a.addJob('shared.record', 'interval', {
        seconds: 1,
        startDate: at(SECOND),
        id: 'job-1',
        args: ['a', 'x'],
        coalesce,
        misfireGraceTime: null,
      });
      a.resume();
      await vi.advanceTimersByTimeAsync(SECOND + 100);
      expect(sqlite().prepare('SELECT run_time FROM tickwork_jobs_retries').all()).toEqual([
        { run_time: at(SECOND).getTime() },
      ]);
      await vi.advanceTimersByTimeAsync(2 * SECOND + 400);
      release();
      await vi.advanceTimersByTimeAsync(200);
      expect(executed.sort()).toEqual(
        coalesce ? ['job-0@1000', 'job-1@3000'] : ['job-0@1000', 'job-1@1000', 'job-1@2000', 'job-1@3000'],
      );
      expect(missed).toEqual([]);
      expect(rowCount('retries')).toBe(0);
      expect(rowCount('runs')).toBe(0);
      await a.shutdown();
    });
  }

  it('a due run waiting for a free slot is not cancelled by a new schedule: it goes back to the store and runs', async () => {
    const a = poolOn('a', 1);
    await a.start({ paused: true });
    const executed: string[] = [];
    a.on('job_executed', (e) => executed.push(`${e.jobId}@${e.scheduledRunTime.getTime() - T0.getTime()}`));
    await a.addJob('shared.slow', 'date', { runDate: at(SECOND), id: 'job-0' });
    await a.addJob('shared.record', 'interval', {
      seconds: 10,
      startDate: at(SECOND),
      id: 'job-1',
      args: ['a', 'x'],
      misfireGraceTime: null,
    });
    a.resume();
    // job-0 holds the only worker; job-1's run at 1 s waits for it.
    await vi.advanceTimersByTimeAsync(SECOND + 20);
    await a.rescheduleJob('job-1', 'interval', { seconds: 10, startDate: at(5 * SECOND) });
    await vi.advanceTimersByTimeAsync(SECOND);
    release();
    await vi.advanceTimersByTimeAsync(100);
    // Like a run handed to the executor, the run at 1 s goes on; the new schedule starts at 5 s.
    expect(executed).toEqual(['job-0@1000', 'job-1@1000']);
    await vi.advanceTimersByTimeAsync(4 * SECOND);
    expect(executed).toEqual(['job-0@1000', 'job-1@1000', 'job-1@5000']);
  });

  it('a shutdown gives back the runs waiting for a free slot; the next scheduler runs them', async () => {
    const make = (id: string) => poolOn(id, 1);
    const a = make('a');
    await a.start({ paused: true });
    const submitted: string[] = [];
    a.on('job_submitted', (e) => submitted.push(e.jobId));
    await a.addJob('shared.slow', 'date', { runDate: at(SECOND), id: 'job-0' });
    for (let i = 1; i <= 3; i++) {
      await a.addJob('shared.record', 'date', { runDate: at(SECOND), id: `job-${i}`, args: ['a', 'x'] });
    }
    a.resume();
    await vi.advanceTimersByTimeAsync(SECOND + 20);
    expect(submitted).toEqual(['job-0']);
    await a.shutdown({ wait: false });
    expect(submitted).toEqual(['job-0']);
    const waiting = sqlite().prepare('SELECT job_id FROM tickwork_jobs_retries ORDER BY job_id').all();
    expect(waiting).toEqual([{ job_id: 'job-1' }, { job_id: 'job-2' }, { job_id: 'job-3' }]);
    const b = make('b');
    await b.start();
    await vi.advanceTimersByTimeAsync(100);
    expect(runs).toHaveLength(3);
    expect(rowCount('retries')).toBe(0);
  });

  it('a pass whose batch filled the free slots takes no more until that batch has started', async () => {
    // Runs of 100 ms on 2 workers: once one has ended, the executor can start 3 within 50 ms (2
    // free, 1 more turn). A pass takes 3 of the 6 jobs due at 2 s, and no second batch while the
    // first one's runs have not started (they start once its release is stored).
    const a = poolOn('a', 2, { claimAhead: 0 });
    await a.start({ paused: true });
    const executed: string[] = [];
    a.on('job_executed', (e) => executed.push(e.jobId));
    await a.addJob('shared.hold', 'date', { runDate: at(SECOND), id: 'warm' });
    for (let i = 0; i < 6; i++) {
      await a.addJob('shared.hold', 'date', { runDate: at(2 * SECOND), id: `job-${i}` });
    }
    a.resume();
    await vi.advanceTimersByTimeAsync(2 * SECOND + 5);
    expect(executed).toEqual(['warm']);
    expect(rowCount('runs')).toBe(3);
    expect(rowCount('retries')).toBe(0);
    await vi.advanceTimersByTimeAsync(400);
    expect(executed.slice(1).sort()).toEqual(['job-0', 'job-1', 'job-2', 'job-3', 'job-4', 'job-5']);
    expect(rowCount('runs')).toBe(0);
  });

  it('processes waking together for the same fire time take its runs in turns', async () => {
    // Both wake claimAhead before each fire; runs not yet due are claimed 200 jobs at a time,
    // so one process does not claim a whole fire of 600 jobs while the other waits.
    const make = (id: string) =>
      makeScheduler({ schedulerId: id, jobstores: { default: new SqliteJobStore({ path }) } });
    const a = make('a');
    const b = make('b');
    await a.start({ paused: true });
    await b.start({ paused: true });
    const byFire = new Map<string, Record<string, number>>();
    for (const s of [a, b]) {
      s.on('job_executed', (e) => {
        const key = e.scheduledRunTime.toISOString();
        const counts = byFire.get(key) ?? {};
        counts[e.schedulerId] = (counts[e.schedulerId] ?? 0) + 1;
        byFire.set(key, counts);
      });
    }
    for (let i = 0; i < 600; i++) {
      await a.addJob('shared.record', 'interval', { seconds: 1, id: `job-${i}`, args: ['x', 'y'] });
    }
    a.resume();
    b.resume();
    await vi.advanceTimersByTimeAsync(3 * SECOND + 100);
    expect([...byFire.keys()]).toEqual(
      [at(SECOND), at(2 * SECOND), at(3 * SECOND)].map((t) => t.toISOString()),
    );
    for (const [fire, counts] of byFire) {
      expect([fire, (counts.a ?? 0) + (counts.b ?? 0)]).toEqual([fire, 600]);
    }
    // From the second fire on, each process wakes knowing that the next fire is not due yet.
    for (const fire of [at(2 * SECOND), at(3 * SECOND)]) {
      const counts = byFire.get(fire.toISOString()) ?? {};
      expect(counts.a).toBeGreaterThanOrEqual(200);
      expect(counts.b).toBeGreaterThanOrEqual(200);
    }
  });

  it('a release with a token that moved on is ignored: a change made during the pass wins', async () => {
    const { store, scheduler } = schedulerOn('a');
    await scheduler.start({ paused: true });
    await scheduler.addJob(
      'shared.record',
      new IntervalTrigger({ seconds: 10, startDate: at(0), timezone: 'UTC' }),
      {
        id: 'job',
        args: ['a', 'b'],
        nextRunTime: T0,
      },
    );
    const [taken] = await store.acquireDueJobs(new Date(T0.getTime()), 10);
    expect(taken.job.id).toBe('job');
    // While this pass holds it, the job is paused through the API.
    await scheduler.pauseJob('job');
    const applied = await store.releaseJobs([
      { id: 'job', token: taken.token, nextRunTime: at(10 * SECOND), remove: false, runTimes: [T0] },
    ]);
    expect(applied).toEqual([null]);
    expect((await scheduler.getJob('job'))?.nextRunTime).toBeNull();
    expect(rowCount('runs')).toBe(0);
  });

  it('a lease blocks other schedulers until it expires; then the job is taken and the misfire rules apply', async () => {
    const a = schedulerOn('a', 5);
    const b = schedulerOn('b', 5);
    await a.scheduler.start({ paused: true });
    await b.scheduler.start({ paused: true });
    await a.scheduler.addJob(
      'shared.record',
      new IntervalTrigger({ seconds: 60, startDate: at(0), timezone: 'UTC' }),
      {
        id: 'job',
        args: ['b', 'x'],
        nextRunTime: T0,
        misfireGraceTime: 2,
      },
    );
    // Scheduler a takes the job and dies before releasing it.
    expect(await a.store.acquireDueJobs(T0, 10)).toHaveLength(1);
    expect(await b.store.acquireDueJobs(T0, 10)).toHaveLength(0);
    const events = record(b.scheduler);
    b.scheduler.resume();
    await vi.advanceTimersByTimeAsync(4 * SECOND);
    expect(named(events, 'job_executed')).toHaveLength(0);
    // The lease ends at 5 s; the fire at T0 is then 5 s late, past its 2 s grace.
    await vi.advanceTimersByTimeAsync(2 * SECOND);
    expect(named(events, 'job_missed').map((e) => e.scheduledRunTime)).toEqual([T0]);
    expect((await b.scheduler.getJob('job'))?.nextRunTime).toEqual(at(60 * SECOND));
  });

  it('reports the claimed runs of a scheduler that died as abandoned, once, and never runs them again', async () => {
    const a = schedulerOn('a', 3);
    const b = schedulerOn('b', 3);
    await a.scheduler.start();
    await b.scheduler.start({ paused: true });
    await a.scheduler.addJob('shared.slow', 'date', { runDate: at(SECOND), id: 'slow' });
    await vi.advanceTimersByTimeAsync(SECOND + 10);
    const claims = () => sqlite().prepare('SELECT job_id, scheduler_id FROM tickwork_jobs_runs').all();
    expect(claims()).toEqual([{ job_id: 'slow', scheduler_id: 'a' }]);
    // While a lives, its heartbeat keeps the claim.
    const events = record(b.scheduler);
    b.scheduler.resume();
    await vi.advanceTimersByTimeAsync(10 * SECOND);
    expect(named(events, 'job_error')).toHaveLength(0);
    expect(claims()).toHaveLength(1);
    // a dies: its timers stop (the store's heartbeat with them) and its run never finishes.
    await a.store.shutdown();
    await vi.advanceTimersByTimeAsync(6 * SECOND);
    const errors = named(events, 'job_error');
    expect(errors).toHaveLength(1);
    expect(errors[0].error).toBeInstanceOf(JobAbandonedError);
    expect(errors[0]).toMatchObject({ jobId: 'slow', scheduledRunTime: at(SECOND), schedulerId: 'b' });
    expect((errors[0].error as JobAbandonedError).schedulerId).toBe('a');
    expect(claims()).toHaveLength(0);
    expect(named(events, 'job_submitted')).toHaveLength(0);
    release();
  });

  it("tries an abandoned run again when the job's retry.on has 'abandoned', in another process", async () => {
    let first = true;
    registerTask('shared.stuck-once', () => {
      if (!first) return 'second try';
      first = false;
      return new Promise<void>(() => {});
    });
    const a = schedulerOn('a', 3);
    const b = schedulerOn('b', 3);
    await a.scheduler.start();
    await b.scheduler.start({ paused: true });
    await a.scheduler.addJob('shared.stuck-once', 'interval', {
      hours: 1,
      startDate: at(SECOND),
      id: 'stuck',
      retry: { attempts: 1, delay: 2, on: ['abandoned'] },
    });
    await vi.advanceTimersByTimeAsync(SECOND + 10);
    const events = record(b.scheduler);
    b.scheduler.resume();
    // a dies with its run going; b reports it once its claim expires, and tries it again.
    await a.store.shutdown();
    await vi.advanceTimersByTimeAsync(15 * SECOND);
    expect(
      named(events, 'job_error').map((e) => [e.attempt, e.willRetry, e.error instanceof JobAbandonedError]),
    ).toEqual([[1, true, true]]);
    expect(named(events, 'job_retry').map((e) => e.attempt)).toEqual([2]);
    expect(named(events, 'job_executed').map((e) => [e.attempt, e.retval, e.scheduledRunTime])).toEqual([
      [2, 'second try', at(SECOND)],
    ]);
    const history = await b.scheduler.getRuns({ jobId: 'stuck' });
    expect(history.map((r) => [r.attempt, r.outcome, r.schedulerId, r.startedAt === null])).toEqual([
      [2, 'success', 'b', false],
      [1, 'abandoned', 'a', true],
    ]);
  });

  it('reports fires past their grace time as missed without claiming them', async () => {
    const { scheduler } = schedulerOn('a');
    const events = record(scheduler);
    await scheduler.addJob(
      'shared.record',
      new IntervalTrigger({ seconds: 1, startDate: at(-10 * SECOND), timezone: 'UTC' }),
      {
        id: 'late',
        args: ['a', 'b'],
        nextRunTime: at(-10 * SECOND),
        coalesce: false,
        misfireGraceTime: 2.5,
      },
    );
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(10);
    // Fires at -10 s … -3 s are past the grace time, reported as one event; -2 s … 0 s run.
    expect(
      named(events, 'job_missed').map((e) => [
        e.scheduledRunTime.getTime() - T0.getTime(),
        e.missedCount,
        e.lastMissedTime.getTime() - T0.getTime(),
      ]),
    ).toEqual([[-10_000, 8, -3_000]]);
    expect(named(events, 'job_executed').map((e) => e.scheduledRunTime.getTime() - T0.getTime())).toEqual([
      -2_000, -1_000, 0,
    ]);
    // Only the runs within their grace time were handed to the executor; the missed ones were
    // claimed with them as one claim (their first fire time) and completed once reported.
    expect(
      named(events, 'job_submitted').flatMap((e) =>
        e.scheduledRunTimes.map((t) => t.getTime() - T0.getTime()),
      ),
    ).toEqual([-2_000, -1_000, 0]);
    expect(rowCount('runs')).toBe(0);
  });

  it('a late release from an earlier acquisition by the same scheduler is ignored', async () => {
    const { store, scheduler } = schedulerOn('a', 5);
    await scheduler.start({ paused: true });
    await scheduler.addJob(
      'shared.record',
      new IntervalTrigger({ seconds: 60, startDate: at(0), timezone: 'UTC' }),
      {
        id: 'job',
        args: ['a', 'b'],
        nextRunTime: T0,
      },
    );
    const [first] = await store.acquireDueJobs(T0, 10);
    // That pass fails before releasing; the next pass of the same scheduler takes the job again
    // at once, without waiting for its own lease to end.
    const later = at(SECOND);
    const [second] = await store.acquireDueJobs(later, 10);
    expect(second.token).not.toBe(first.token);
    const stale = await store.releaseJobs([
      { id: 'job', token: first.token, nextRunTime: at(60 * SECOND), remove: false, runTimes: [T0] },
    ]);
    expect(stale).toEqual([null]);
    const fresh = await store.releaseJobs([
      { id: 'job', token: second.token, nextRunTime: at(120 * SECOND), remove: false, runTimes: [] },
    ]);
    expect(fresh).toEqual([[]]);
    expect((await scheduler.getJob('job'))?.nextRunTime).toEqual(at(120 * SECOND));
  });

  it('while stopped, the job API sees pending jobs only and leaves the closed store alone', async () => {
    const { scheduler } = schedulerOn('a');
    await scheduler.addJob('shared.record', 'interval', { seconds: 5, args: ['a', 'b'], id: 'pending' });
    expect((await scheduler.getJobs()).map((j) => [j.id, j.pending])).toEqual([['pending', true]]);
    expect(await scheduler.getJob('unknown')).toBeNull();
    await expect(scheduler.removeJob('unknown')).rejects.toThrow(/unknown/);
    await scheduler.removeAllJobs();
    expect(await scheduler.getJobs()).toEqual([]);
    await scheduler.start();
    expect(await scheduler.getJobs()).toEqual([]);
  });

  it('a scheduler that dies right after storing a pass leaves its missed runs to be reported by another', async () => {
    // The release is stored, then the process dies before it reports or runs anything.
    class DyingStore extends SqliteJobStore {
      override async releaseJobs(
        ...args: Parameters<SqliteJobStore['releaseJobs']>
      ): Promise<Array<Date[] | null>> {
        await super.releaseJobs(...args);
        await this.shutdown();
        throw new Error('killed');
      }
    }
    const dying = new DyingStore({ path, leaseTime: 3 });
    const a = makeScheduler({ schedulerId: 'a', jobstores: { default: dying } });
    const b = schedulerOn('b', 3);
    await b.scheduler.start({ paused: true });
    await b.scheduler.addJob(
      'shared.record',
      new IntervalTrigger({ seconds: 1, startDate: at(-5 * SECOND), timezone: 'UTC' }),
      {
        id: 'late',
        args: ['a', 'b'],
        nextRunTime: at(-5 * SECOND),
        coalesce: false,
        misfireGraceTime: 2.5,
      },
    );
    const seenByA = record(a);
    await a.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(named(seenByA, 'job_missed')).toHaveLength(0);
    expect(named(seenByA, 'job_submitted')).toHaveLength(0);
    // Every fire time from -5 s to 0 s is claimed by a, which will never report it, each by its
    // own claim (a run of more than MAX_CLAIMED_MISSES misses would be one claim).
    const events = record(b.scheduler);
    b.scheduler.resume();
    await vi.advanceTimersByTimeAsync(5 * SECOND);
    const abandoned = named(events, 'job_error').map((e) => e.scheduledRunTime.getTime() - T0.getTime());
    expect(abandoned.sort((x, y) => x - y)).toEqual([-5_000, -4_000, -3_000, -2_000, -1_000, 0]);
    // The later fire times are b's to run.
    expect(named(events, 'job_executed').map((e) => e.scheduledRunTime.getTime() - T0.getTime())).toEqual([
      1_000, 2_000, 3_000, 4_000, 5_000,
    ]);
  });

  it('a run time claimed already is not claimed again; the other run times of the release are', async () => {
    const { store, scheduler } = schedulerOn('a');
    await scheduler.start({ paused: true });
    await scheduler.addJob(
      'shared.record',
      new IntervalTrigger({ seconds: 1, startDate: at(-2 * SECOND), timezone: 'UTC' }),
      {
        id: 'job',
        args: ['a', 'b'],
        nextRunTime: at(-2 * SECOND),
        coalesce: false,
        misfireGraceTime: null,
      },
    );
    // Another scheduler is running the fire at -1 s (its claim is in the store).
    sqlite()
      .prepare(
        'INSERT INTO tickwork_jobs_runs (job_id, run_time, scheduler_id, expires_at) VALUES (?, ?, ?, ?)',
      )
      .run('job', T0.getTime() - SECOND, 'b', T0.getTime() + 60 * SECOND);
    const [taken] = await store.acquireDueJobs(T0, 10);
    const runTimes = [at(-2 * SECOND), at(-SECOND), T0];
    const claimed = await store.releaseJobs([
      { id: 'job', token: taken.token, nextRunTime: at(SECOND), remove: false, runTimes },
    ]);
    expect(claimed).toEqual([[at(-2 * SECOND), T0]]);
    expect((await scheduler.getJob('job'))?.nextRunTime).toEqual(at(SECOND));
    // Through the scheduler: it runs the two run times it claimed, and not the other one.
    await scheduler.modifyJob('job', { nextRunTime: at(-2 * SECOND) });
    sqlite().prepare("DELETE FROM tickwork_jobs_runs WHERE scheduler_id = 'a'").run();
    const events = record(scheduler);
    scheduler.resume();
    await vi.advanceTimersByTimeAsync(10);
    expect(named(events, 'job_executed').map((e) => e.scheduledRunTime)).toEqual([at(-2 * SECOND), T0]);
  });

  it('a job whose executor is gone is kept and paused in the store, with one job_modified', async () => {
    const store = new SqliteJobStore({ path });
    const scheduler = makeScheduler({
      schedulerId: 'a',
      jobstores: { default: store },
      executors: { default: new PromisePoolExecutor(), extra: new PromisePoolExecutor() },
    });
    await scheduler.start();
    await scheduler.addJob('shared.record', 'interval', {
      seconds: 1,
      args: ['a', 'b'],
      id: 'orphan',
      executor: 'extra',
    });
    await scheduler.removeExecutor('extra');
    const events = record(scheduler);
    await vi.advanceTimersByTimeAsync(3 * SECOND);
    expect(named(events, 'job_modified').map((e) => e.jobId)).toEqual(['orphan']);
    expect(named(events, 'job_submitted')).toEqual([]);
    const kept = await scheduler.getJob('orphan');
    expect(kept?.nextRunTime).toBeNull();
    expect(kept?.executor).toBe('extra');
  });
});
