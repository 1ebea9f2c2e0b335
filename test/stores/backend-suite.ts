/**
 * The StoreBackend contract (src/stores/backend.ts), run on each persistent backend by its store's
 * test file: leases taken and released under fencing tokens, the ids to skip, run claims made
 * once, renewed, completed and handed back when abandoned, the next run time around other
 * schedulers' leases, inserts and their duplicates, updates and removals, when a lease and a
 * claim end, runs queued outside the schedule, and retries left to other processes.
 *
 * A second backend object on the same database stands for another process; where the contract
 * lets a scheduler take back its own leases, the other owner is that second object, so each
 * backend's choice there does not change what the tests see.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ReleaseRow, StoreBackend } from '../../src/stores/backend.js';
import type { StoreHost } from '../../src/stores/base.js';
import { PersistentJobStore } from '../../src/stores/persistent.js';
import { encodeJob, type JobRow } from '../../src/stores/state.js';
import { setClock } from '../../src/time/clock.js';
import { fakeLogger, makeJob, T0 } from '../helpers/scheduler.js';

/** How a store's test file gives the suite its backends. */
export interface BackendFactory {
  /** Opens a backend on a new, empty database. */
  create(): Promise<StoreBackend>;
  /** Opens another backend object on the database of the last `create` (another process). */
  peer(): Promise<StoreBackend>;
  /** Closes every backend opened for the test and drops its database. */
  cleanup(): Promise<void>;
}

const row = (id: string, nextRunTime: number | null, state = `{"id":${JSON.stringify(id)}}`): JobRow => ({
  id,
  nextRunTime,
  state,
});

/** The release of one job. */
const releaseOf = (
  id: string,
  token: number,
  nextRunTime: number | null,
  runTimes: number[],
  remove = false,
): ReleaseRow => ({ id, token, nextRunTime, remove, runTimes });

/** `n` jobs `j000001`… due at 1001… */
const numbered = (n: number): JobRow[] =>
  Array.from({ length: n }, (_, i) => row(`j${String(i + 1).padStart(6, '0')}`, 1001 + i, '{}'));

/** Far past every time the tests use: every claim has expired by then. */
const LATER = 1e12;

/** The methods whose calls `lossyStore` can make fail. */
export type LossyMethod = 'acquire' | 'release' | 'takeRetries';

/** A job row a store can restore (its task is any name: the test host resolves every one). */
export const jobRow = (id: string, nextRunTime: number | null): JobRow =>
  encodeJob(makeJob(id, nextRunTime === null ? null : new Date(nextRunTime), { taskRef: 'suite.task' }));

class StoreOver extends PersistentJobStore {
  constructor(readonly backend: StoreBackend) {
    super({});
  }

  protected override async createBackend(): Promise<StoreBackend> {
    return this.backend;
  }
}

/**
 * A PersistentJobStore of scheduler `schedulerId` over `backend` (opened and closed by the test,
 * without wake-up hints), started on a clock that stands at `now` and fires no timer (so no
 * heartbeat runs unless the test calls it). `loseReply(method)` makes the next call of `method`
 * go through and then fail, as when its reply is lost (a timeout, a dropped connection);
 * `failNext(method)` makes it fail without reaching the database. `stop()` shuts the store
 * down and gives the clock back.
 */
export async function lossyStore(backend: StoreBackend, schedulerId: string, now: number) {
  const lost = new Set<string>();
  const failing = new Set<string>();
  const wrapped = new Proxy(backend, {
    get(target, key) {
      if (key === 'open' || key === 'close') return async () => undefined;
      if (key === 'listen' || key === 'notify') return undefined;
      const value = Reflect.get(target, key, target);
      if (typeof value !== 'function' || typeof key !== 'string') return value;
      return async (...args: unknown[]) => {
        if (failing.delete(key)) throw new Error(`${key} failed`);
        const result = await value.apply(target, args);
        if (lost.delete(key)) throw new Error(`The reply of ${key} was lost`);
        return result;
      };
    },
  });
  const fail = () => Promise.reject(new Error('no scheduler'));
  const host = {
    logger: fakeLogger(),
    schedulerId,
    reportBrokenJob: () => undefined,
    wakeup: () => undefined,
    restoreTask: async () => () => undefined,
    reportAbandonedRuns: async () => [],
    modifyJob: fail,
    rescheduleJob: fail,
    pauseJob: fail,
    resumeJob: fail,
    removeJob: fail,
  } as StoreHost;
  setClock({ now: () => now, setTimeout: () => null, clearTimeout: () => undefined });
  const store = new StoreOver(wrapped);
  await store.start(host, 'default');
  return {
    store,
    loseReply: (method: LossyMethod) => lost.add(method),
    failNext: (method: LossyMethod) => failing.add(method),
    async stop() {
      try {
        await store.shutdown();
      } finally {
        setClock();
      }
    },
  };
}

export function describeBackendSuite(name: string, factory: BackendFactory): void {
  describe(`${name} (StoreBackend contract)`, () => {
    afterEach(async () => {
      await factory.cleanup();
    });

    it('does not acquire the jobs it is told to skip (jobs this process cannot restore)', async () => {
      const backend = await factory.create();
      await backend.insertMany(numbered(3));
      const taken = await backend.acquire('me', 20_000, 60_000, 10, ['j000001', 'j000003']);
      expect(taken.map((r) => r.id)).toEqual(['j000002']);
      const other = await factory.peer();
      expect((await other.acquire('other', 20_000, 60_000, 10)).map((r) => r.id)).toEqual([
        'j000001',
        'j000003',
      ]);
    });

    it('acquires and releases 10,000 jobs in one call each, fenced by tokens', async () => {
      const backend = await factory.create();
      await backend.insertMany(numbered(10_000));
      const acquired = await backend.acquire('me', 20_000, 60_000, 10_000);
      expect(acquired).toHaveLength(10_000);
      expect(acquired[0]).toMatchObject({ id: 'j000001', nextRunTime: 1001 });
      expect(acquired.map((r) => r.nextRunTime)).toEqual(acquired.map((_, i) => 1001 + i));
      const other = await factory.peer();
      expect(await other.acquire('other', 20_000, 60_000, 10)).toEqual([]);

      // A change made meanwhile moves the token on: that release must not apply.
      await backend.update({ id: 'j000002', nextRunTime: 5, state: '{"changed":true}' });
      const releases = acquired.map((r, i) => ({
        id: r.id,
        token: r.token,
        nextRunTime: i % 2 === 0 ? 100_000 + i : null,
        remove: i % 3 === 0,
        runTimes: [r.nextRunTime as number],
      }));
      const flags = await backend.release('me', releases, 90_000);
      expect(flags).toHaveLength(10_000);
      expect(flags[1]).toBeNull();
      expect(flags.filter((f) => f === null)).toHaveLength(1);
      expect(flags[0]).toEqual([true]);
      expect(await backend.all()).toHaveLength(10_000 - Math.ceil(10_000 / 3));
      expect((await backend.get('j000002'))?.state).toBe('{"changed":true}');
      expect((await backend.get('j000003'))?.nextRunTime).toBe(100_002);
      expect((await backend.get('j000006'))?.nextRunTime).toBeNull();

      // The same release again: the leases are over.
      expect(await backend.release('me', releases.slice(0, 3), 90_000)).toEqual([null, null, null]);
      // One run claim per release applied.
      expect(await backend.takeAbandonedRuns(90_001, LATER)).toHaveLength(9_999);
    });

    it('claims runs once, renews them, completes them and hands back abandoned ones', async () => {
      const backend = await factory.create();
      await backend.insert({ id: 'x', nextRunTime: 10, state: '{}' });
      await backend.insert({ id: 'y', nextRunTime: 10, state: '{}' });
      const [x, y] = await backend.acquire('a', 10, 100, 10);
      await backend.release(
        'a',
        [
          { id: x.id, token: x.token, nextRunTime: 20, remove: false, runTimes: [10] },
          { id: y.id, token: y.token, nextRunTime: 20, remove: false, runTimes: [10] },
        ],
        50,
      );
      // Set back to 10 by hand: the run at 10 is claimed already, the one at 15 is not.
      await backend.update({ id: 'x', nextRunTime: 10, state: '{}' });
      const [again] = await backend.acquire('b', 10, 100, 10);
      expect(
        await backend.release(
          'b',
          [{ id: 'x', token: again.token, nextRunTime: 20, remove: false, runTimes: [10, 15] }],
          50,
        ),
      ).toEqual([[false, true]]);
      await backend.completeRuns([{ jobId: 'x', runTime: 15, attempt: 1 }]);
      await backend.renewRuns('a', 500);
      await backend.completeRuns([{ jobId: 'x', runTime: 10, attempt: 1 }]);
      expect(await backend.takeAbandonedRuns(400, 900)).toEqual([]);
      expect(await backend.takeAbandonedRuns(501, 900)).toEqual([
        { jobId: 'y', runTime: 10, attempt: 1, schedulerId: 'a' },
      ]);
      // Taken until 900: nobody else takes it meanwhile; not completed by then, it comes back.
      expect(await backend.takeAbandonedRuns(501, 900)).toEqual([]);
      expect(await backend.takeAbandonedRuns(901, 1_500)).toEqual([
        { jobId: 'y', runTime: 10, attempt: 1, schedulerId: 'a' },
      ]);
      await backend.completeRuns([{ jobId: 'y', runTime: 10, attempt: 1 }]);
      expect(await backend.takeAbandonedRuns(2_000, 2_500)).toEqual([]);
      expect(await backend.remove('x')).toBe(true);
      expect(await backend.remove('x')).toBe(false);
      expect(await backend.insert({ id: 'y', nextRunTime: 1, state: '{}' })).toBe(false);
      await backend.removeAll();
      expect(await backend.all()).toEqual([]);
    });

    it('fences releases by owner and token, and claims each run once', async () => {
      const db = await factory.create();
      const other = await factory.peer();
      expect(await db.insert(row('a', 100))).toBe(true);
      expect(await db.insert(row('a', 100))).toBe(false);
      const [taken] = await db.acquire('A', 1_000, 5_000, 10);
      expect(taken).toMatchObject({ id: 'a', nextRunTime: 100 });
      // Leased: nobody else takes it until the lease ends.
      expect(await other.acquire('B', 2_000, 6_000, 10)).toEqual([]);
      const [retaken] = await other.acquire('B', 5_000, 9_000, 10);
      expect(retaken.token).toBeGreaterThan(taken.token);
      const release = (token: number, runTimes = [100]) => ({
        id: 'a',
        token,
        nextRunTime: 200,
        remove: false,
        runTimes,
      });
      expect(await db.release('A', [release(taken.token)], 20_000)).toEqual([null]);
      expect(await other.release('B', [release(retaken.token)], 20_000)).toEqual([[true]]);
      // Released once: the same release again changes nothing.
      expect(await other.release('B', [release(retaken.token)], 20_000)).toEqual([null]);
      expect((await db.get('a'))?.nextRunTime).toBe(200);
      // Set back to 100 by hand, the run at 100 is not claimed again.
      await db.update(row('a', 100));
      const [again] = await db.acquire('A', 5_000, 9_000, 10);
      expect(await db.release('A', [release(again.token, [100, 150])], 20_000)).toEqual([[false, true]]);
      expect((await db.get('a'))?.nextRunTime).toBe(200);
      await db.completeRuns([{ jobId: 'a', runTime: 150, attempt: 1 }]);
      await other.renewRuns('B', 30_000);
      expect(await db.takeAbandonedRuns(25_000, 40_000)).toEqual([]);
      expect(await db.takeAbandonedRuns(31_000, 40_000)).toEqual([
        { jobId: 'a', runTime: 100, attempt: 1, schedulerId: 'B' },
      ]);
      // Taken until 40,000: nobody else takes it meanwhile; not completed by then, it comes back.
      expect(await other.takeAbandonedRuns(31_000, 40_000)).toEqual([]);
      expect(await other.takeAbandonedRuns(40_001, 50_000)).toEqual([
        { jobId: 'a', runTime: 100, attempt: 1, schedulerId: 'B' },
      ]);
      await db.completeRuns([{ jobId: 'a', runTime: 100, attempt: 1 }]);
      expect(await db.takeAbandonedRuns(60_000, 70_000)).toEqual([]);
    });

    it('ends a lease at its end time: one ending at now is over, for acquire and the next run time', async () => {
      const db = await factory.create();
      const other = await factory.peer();
      await db.insert(row('a', 100));
      const [held] = await db.acquire('A', 100, 500, 10);
      expect(await other.acquire('B', 499, 900, 10)).toEqual([]);
      expect(await other.nextRunTime(499)).toBe(500);
      // At 500 the lease is over: the job is due (at its own time) and taken.
      expect(await other.nextRunTime(500)).toBe(100);
      const [taken] = await other.acquire('B', 500, 900, 10);
      expect(taken).toMatchObject({ id: 'a', nextRunTime: 100 });
      expect(taken.token).not.toBe(held.token);
      expect(await db.release('A', [releaseOf('a', held.token, 200, [])], 0)).toEqual([null]);
    });

    it('holds a run claim through its expiry time: one expiring at now is not abandoned yet', async () => {
      const db = await factory.create();
      await db.insert(row('a', 100));
      const [held] = await db.acquire('A', 100, 500, 10);
      expect(await db.release('A', [releaseOf('a', held.token, 200, [100])], 1_000)).toEqual([[true]]);
      expect(await db.takeAbandonedRuns(1_000, 2_000)).toEqual([]);
      expect(await db.takeAbandonedRuns(1_001, 2_000)).toEqual([
        { jobId: 'a', runTime: 100, attempt: 1, schedulerId: 'A' },
      ]);
      await db.renewRuns('A', 3_000);
      expect(await db.takeAbandonedRuns(3_000, 4_000)).toEqual([]);
      expect(await db.takeAbandonedRuns(3_001, 4_000)).toHaveLength(1);
    });

    it('answers the next run time around other schedulers leases', async () => {
      const backend = await factory.create();
      expect(await backend.nextRunTime(0)).toBeNull();
      await backend.insert({ id: 'early', nextRunTime: 100, state: '{}' });
      await backend.insert({ id: 'late', nextRunTime: 200, state: '{}' });
      await backend.insert({ id: 'paused', nextRunTime: null, state: '{}' });
      expect(await backend.nextRunTime(0)).toBe(100);
      await backend.acquire('other', 150, 1_000, 1);
      expect(await backend.nextRunTime(150)).toBe(200);
      await backend.acquire('another', 250, 900, 1);
      expect(await backend.nextRunTime(250)).toBe(900);
      // Leases over: both are due again.
      expect(await backend.nextRunTime(1_000)).toBe(100);
      expect((await backend.due(1_000)).map((r) => r.id)).toEqual(['early', 'late']);
      expect((await backend.all()).map((r) => r.id)).toEqual(['early', 'late', 'paused']);
    });

    it('answers the next run time without a lease in the way, never late', async () => {
      const db = await factory.create();
      const other = await factory.peer();
      expect(await db.nextRunTime(0)).toBeNull();
      await db.insert(row('early', 100));
      await db.insert(row('late', 10_000));
      await db.insert(row('paused', null));
      expect(await db.nextRunTime(0)).toBe(100);
      await db.acquire('A', 1_000, 3_000, 1);
      // 'early' is held until 3000: that is when it may be taken again.
      expect(await db.nextRunTime(1_000)).toBe(3_000);
      expect(await db.nextRunTime(3_000)).toBe(100);
      // Many leased jobs: the answer may come early, never late.
      for (let i = 0; i < 150; i++) await db.insert(row(`held-${String(i).padStart(3, '0')}`, 50));
      await other.acquire('B', 1_000, 4_000, 1_000);
      const next = await db.nextRunTime(1_000);
      expect(next).not.toBeNull();
      expect(next as number).toBeLessThanOrEqual(3_000);
    });

    it('takes due jobs in order, in batches, and removes a job with its claims', async () => {
      const db = await factory.create();
      const other = await factory.peer();
      await db.insertMany(
        Array.from({ length: 1_200 }, (_, i) => row(`j${String(i).padStart(4, '0')}`, 1_000 - (i % 7))),
      );
      await db.insert(row('future', 5_000));
      const first = await db.acquire('A', 2_000, 9_000, 1_000);
      expect(first).toHaveLength(1_000);
      const order = first.map((r) => [r.nextRunTime, r.id] as [number, string]);
      const sorted = [...order].sort((x, y) => x[0] - y[0] || (x[1] < y[1] ? -1 : 1));
      expect(order).toEqual(sorted);
      expect(await other.acquire('B', 2_000, 9_000, 1_000)).toHaveLength(200);
      expect((await db.due(2_000)).length).toBe(1_200);
      const releases = first.map((r) => ({
        id: r.id,
        token: r.token,
        nextRunTime: null,
        remove: false,
        runTimes: [1, 2],
      }));
      expect(await db.release('A', releases, 9_000)).toEqual(releases.map(() => [true, true]));
      expect(await db.remove('j0001')).toBe(true);
      expect(await db.remove('j0001')).toBe(false);
      const abandoned = await db.takeAbandonedRuns(10_000, 20_000);
      expect(abandoned).toHaveLength(2 * 999);
      expect(abandoned.some((c) => c.jobId === 'j0001')).toBe(false);
      await db.removeAll();
      expect(await db.all()).toEqual([]);
    });

    it('inserts many rows in order: a row whose id exists, or came earlier in the call, changes nothing', async () => {
      const db = await factory.create();
      expect(await db.insertMany([])).toEqual([]);
      await db.insert(row('x', 50, '{"first":"x"}'));
      expect(
        await db.insertMany([
          row('a', 100, '{"first":"a"}'),
          row('x', 10, '{"second":"x"}'),
          row('b', null, '{"first":"b"}'),
          row('a', 20, '{"second":"a"}'),
        ]),
      ).toEqual([true, false, true, false]);
      expect(await db.all()).toEqual([
        row('x', 50, '{"first":"x"}'),
        row('a', 100, '{"first":"a"}'),
        row('b', null, '{"first":"b"}'),
      ]);
    });

    it('updates a job ending its lease and moving its token; pausing cancels its waiting runs', async () => {
      const db = await factory.create();
      const other = await factory.peer();
      expect(await db.update(row('missing', 1))).toBe(false);
      expect(await db.get('missing')).toBeNull();
      await db.insert(row('a', 100));
      const [held] = await db.acquire('A', 100, 10_000, 10);
      expect(await db.update(row('a', 150, '{"v":2}'))).toBe(true);
      expect(await db.get('a')).toEqual(row('a', 150, '{"v":2}'));
      // The lease is over at once: another scheduler takes the job, the old token is refused.
      const [taken] = await other.acquire('B', 200, 10_000, 10);
      expect(taken).toMatchObject({ id: 'a', nextRunTime: 150, state: '{"v":2}' });
      expect(await db.release('A', [releaseOf('a', held.token, 300, [])], 0)).toEqual([null]);

      expect(await db.queueRun({ jobId: 'a', runTime: 400, attempt: 1, dueAt: 0 })).toBe('queued');
      expect(await db.update(row('a', null))).toBe(true);
      expect(await db.get('a')).toEqual(row('a', null));
      expect(await db.update(row('a', 500))).toBe(true);
      expect(await db.takeRetries('A', 1_000, 2_000, 10)).toEqual([]);
      expect(await db.nextRunTime(0)).toBe(500);
    });

    it('removes a job with its claims and waiting runs; removeAll removes every one', async () => {
      const db = await factory.create();
      await db.insertMany([row('a', 100), row('b', 100)]);
      const taken = await db.acquire('A', 100, 500, 10);
      expect(
        await db.release(
          'A',
          taken.map((r) => releaseOf(r.id, r.token, 1_000, [100])),
          600,
        ),
      ).toEqual([[true], [true]]);
      expect(await db.queueRun({ jobId: 'a', runTime: 200, attempt: 1, dueAt: 0 })).toBe('queued');
      expect(await db.queueRun({ jobId: 'b', runTime: 200, attempt: 1, dueAt: 0 })).toBe('queued');
      expect(await db.remove('a')).toBe(true);
      expect(await db.remove('a')).toBe(false);
      expect(await db.get('a')).toBeNull();
      expect(await db.takeAbandonedRuns(700, 800)).toEqual([
        { jobId: 'b', runTime: 100, attempt: 1, schedulerId: 'A' },
      ]);
      expect((await db.takeRetries('A', 0, 900, 10)).map((t) => [t.row.id, t.runTime])).toEqual([['b', 200]]);
      await db.insert(row('c', 100));
      expect(await db.queueRun({ jobId: 'c', runTime: 200, attempt: 1, dueAt: 0 })).toBe('queued');
      await db.removeAll();
      expect(await db.all()).toEqual([]);
      expect(await db.takeAbandonedRuns(LATER, LATER)).toEqual([]);
      expect(await db.nextRunTime(0)).toBeNull();
      await db.insert(row('c', 100));
      expect(await db.takeRetries('A', LATER, LATER, 10)).toEqual([]);
    });

    it('queues a run outside the schedule: no_job, paused, exists for a run time in use, else queued', async () => {
      const db = await factory.create();
      const run = (jobId: string, runTime: number, dueAt = 0) => ({ jobId, runTime, attempt: 1, dueAt });
      expect(await db.queueRun(run('missing', 50))).toBe('no_job');
      await db.insert(row('paused', null));
      expect(await db.queueRun(run('paused', 50))).toBe('paused');
      expect(await db.takeRetries('A', LATER, LATER, 10)).toEqual([]);

      await db.insert(row('a', 100));
      // Its next run time is a run of its schedule.
      expect(await db.queueRun(run('a', 100))).toBe('exists');
      expect(await db.queueRun(run('a', 50, 30))).toBe('queued');
      // Waiting already.
      expect(await db.queueRun(run('a', 50, 10))).toBe('exists');
      expect(await db.nextRunTime(0)).toBe(30);
      expect(await db.takeRetries('A', 29, 1_000, 10)).toEqual([]);
      expect(await db.takeRetries('A', 30, 1_000, 10)).toEqual([
        { row: row('a', 100), runTime: 50, attempt: 1, dueAt: 30 },
      ]);
      // Taken: now a claim, still in use.
      expect(await db.queueRun(run('a', 50))).toBe('exists');
      expect(await db.takeAbandonedRuns(1_001, 2_000)).toEqual([
        { jobId: 'a', runTime: 50, attempt: 1, schedulerId: 'A' },
      ]);
      await db.completeRuns([{ jobId: 'a', runTime: 50, attempt: 1 }]);
      expect(await db.queueRun(run('a', 50))).toBe('queued');

      // A run time claimed by a release of the schedule.
      const [held] = await db.acquire('A', 100, 500, 10);
      expect(await db.release('A', [releaseOf('a', held.token, 200, [100])], 600)).toEqual([[true]]);
      expect(await db.queueRun(run('a', 100))).toBe('exists');
      expect(await db.queueRun(run('a', 150))).toBe('queued');
    });

    it("queues a run with the job's stored state, which it runs from if the job's trigger ends first", async () => {
      const db = await factory.create();
      await db.insert(row('a', 100, '{"v":1}'));
      expect(
        await db.queueRun({ jobId: 'a', runTime: 50, attempt: 1, dueAt: 0, state: '{"not":"this"}' }),
      ).toBe('queued');
      // The job changes after the run was queued, then its trigger ends (its release removes it).
      await db.update(row('a', 100, '{"v":2}'));
      const [held] = await db.acquire('A', 100, 500, 10);
      expect(await db.release('A', [releaseOf('a', held.token, null, [], true)], 600)).toEqual([[]]);
      expect(await db.get('a')).toBeNull();
      expect(await db.takeRetries('A', 0, 1_000, 10)).toEqual([
        { row: { id: 'a', nextRunTime: null, state: '{"v":1}' }, runTime: 50, attempt: 1, dueAt: 0 },
      ]);
    });

    it('gives up the run claims of a release whose reply was lost, before the next acquisition', async () => {
      const db = await factory.create();
      const T = T0.getTime();
      const FAR = T + 1e9;
      const { store, loseReply, stop } = await lossyStore(db, 'A', T);
      try {
        await db.insert(jobRow('a', T));
        const [{ token }] = await store.acquireDueJobs(new Date(T), 10);
        loseReply('release');
        await expect(
          store.releaseJobs([
            { id: 'a', token, nextRunTime: new Date(T + 60_000), remove: false, runTimes: [new Date(T)] },
          ]),
        ).rejects.toThrow(/lost/);
        // Applied: the job moved on, and its run at T is claimed by A, which does not run it.
        expect((await db.get('a'))?.nextRunTime).toBe(T + 60_000);
        // The store gives that claim up before it acquires again: renewal passes it by, and it
        // is reported as abandoned (then tried again if its job says so) instead of held forever.
        expect(await store.acquireDueJobs(new Date(T), 10)).toEqual([]);
        await db.renewRuns('A', FAR);
        expect(await db.takeAbandonedRuns(T, FAR)).toEqual([
          { jobId: 'a', runTime: T, attempt: 1, schedulerId: 'A' },
        ]);
      } finally {
        await stop();
      }
    });

    it('takes its own leases back at once after an acquire whose reply was lost or a failed release', async () => {
      const db = await factory.create();
      const other = await factory.peer();
      const T = T0.getTime();
      const FAR = T + 1e9;
      const { store, loseReply, failNext, stop } = await lossyStore(db, 'A', T);
      try {
        await db.insert(jobRow('a', T));
        loseReply('acquire');
        await expect(store.acquireDueJobs(new Date(T), 10)).rejects.toThrow(/lost/);
        // Applied: the job is leased to A, so nobody else takes it; A takes it back at once.
        expect(await other.acquire('B', T, T + 1_000, 10)).toEqual([]);
        const [again] = await store.acquireDueJobs(new Date(T), 10);
        expect(again.job.id).toBe('a');
        // A release that fails before the database sees it: the lease is still A's.
        failNext('release');
        const release = (token: number) => ({
          id: 'a',
          token,
          nextRunTime: new Date(T + 10_000),
          remove: false,
          runTimes: [new Date(T)],
        });
        await expect(store.releaseJobs([release(again.token)])).rejects.toThrow(/failed/);
        expect(await other.acquire('B', T, T + 1_000, 10)).toEqual([]);
        const [third] = await store.acquireDueJobs(new Date(T), 10);
        expect(third.token).toBeGreaterThan(again.token);
        expect(await store.releaseJobs([release(third.token)])).toEqual([[new Date(T)]]);
        // Giving up touched only claims there at the time: the run claimed now is renewed.
        await db.renewRuns('A', FAR);
        expect(await db.takeAbandonedRuns(T + 1, FAR)).toEqual([]);
        // Released, the lease is over (it ran to T + 30 s): anyone takes the job when it is due.
        expect((await other.acquire('B', T + 10_000, T + 20_000, 10)).map((r) => r.id)).toEqual(['a']);
      } finally {
        await stop();
      }
    });

    it('leaves the retries of skipped jobs waiting, for a process that can restore them', async () => {
      const db = await factory.create();
      const other = await factory.peer();
      await db.insertMany([row('a', 1_000), row('b', 1_000), row('c', 1_000)]);
      for (const [jobId, dueAt] of [
        ['a', 10],
        ['b', 20],
        ['c', 30],
      ] as const) {
        expect(await db.queueRun({ jobId, runTime: 500, attempt: 1, dueAt })).toBe('queued');
      }
      const taken = await db.takeRetries('A', 100, 1_000, 10, ['a', 'c']);
      expect(taken.map((t) => t.row.id)).toEqual(['b']);
      expect(await db.takeRetries('A', 100, 1_000, 10, ['a', 'c'])).toEqual([]);
      // Still waiting: the next run time counts them.
      expect(await db.nextRunTime(100)).toBe(10);
      expect((await other.takeRetries('B', 100, 1_000, 1, ['b'])).map((t) => [t.row.id, t.attempt])).toEqual([
        ['a', 1],
      ]);
      expect((await other.takeRetries('B', 100, 1_000, 10)).map((t) => t.row.id)).toEqual(['c']);
      expect(await db.takeAbandonedRuns(1_001, 2_000)).toHaveLength(3);
    });
  });
}
