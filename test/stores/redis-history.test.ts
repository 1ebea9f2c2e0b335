/**
 * RedisBackend's run history and retries on a real redis-server started for this file: claims
 * that carry their attempt, completeRuns writing a claim's history row and retry only while the
 * claim of that attempt is there, takeRetries (once each, even from two processes), the next
 * run time, retries cancelled by pausing and removing, history queries and pruning, and claims
 * written before attempts were kept.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RetryRow, RunOutcomeName, RunRecordRow, TakenRetry } from '../../src/stores/backend.js';
import { RedisBackend, type RedisClientLike } from '../../src/stores/redis/backend.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';
import { fakeLogger, T0 } from '../helpers/scheduler.js';
import { jobRow, lossyStore } from './backend-suite.js';

let server: RedisServer;
let admin: Redis;
const clients: Redis[] = [];
let prefixCount = 0;

beforeAll(async () => {
  server = await startRedis();
  admin = connect();
});

afterAll(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await server?.destroy();
});

function connect(): Redis {
  const client = new Redis(server.url, { maxRetriesPerRequest: 0 });
  client.on('error', () => undefined);
  clients.push(client);
  return client;
}

/** A fresh key prefix, so each test has a store of its own. */
function freshPrefix(): string {
  return `h${process.pid}_${++prefixCount}:`;
}

/** An open backend on its own connection. */
async function backend(keyPrefix: string, client: RedisClientLike = connect()): Promise<RedisBackend> {
  const db = new RedisBackend({
    client,
    owned: null,
    keyPrefix,
    instanceToken: 'token',
    logger: fakeLogger(),
  });
  await db.open();
  return db;
}

const row = (id: string, nextRunTime: number | null) => ({
  id,
  nextRunTime,
  state: `{"id":${JSON.stringify(id)}}`,
});

/**
 * Makes first-attempt claims of `runTimes` for `owner` the way a pass does (acquire, then
 * release), adding the job when it is not there; the job's next run time becomes `next`.
 */
async function claim(
  db: RedisBackend,
  id: string,
  runTimes: number[],
  { owner = 'A', next = 50_000 as number | null, claimUntil = 20_000, remove = false } = {},
): Promise<void> {
  if (!(await db.update(row(id, 100)))) await db.insert(row(id, 100));
  const others = (await db.all()).map((r) => r.id).filter((other) => other !== id);
  const [taken] = await db.acquire(owner, 1_000, 5_000, 1, others);
  expect(taken?.id).toBe(id);
  const [flags] = await db.release(
    owner,
    [{ id, token: taken.token, nextRunTime: next, remove, runTimes }],
    claimUntil,
  );
  expect(flags).toEqual(runTimes.map(() => true));
}

function record(
  jobId: string,
  finishedAt: number,
  outcome: RunOutcomeName = 'success',
  attempt = 1,
): RunRecordRow {
  return {
    jobId,
    jobName: `name of ${jobId}`,
    scheduledRunTime: 100,
    startedAt: outcome === 'missed' ? null : finishedAt - 10,
    finishedAt,
    outcome,
    error: outcome === 'error' ? '{"name":"Error","message":"boom"}' : null,
    retval: outcome === 'success' ? '"ok"' : null,
    attempt,
    schedulerId: 'A',
  };
}

const retry = (jobId: string, runTime: number, attempt: number, dueAt: number): RetryRow => ({
  jobId,
  runTime,
  attempt,
  dueAt,
});

/** (job id, run time, attempt) of taken retries, in order. */
const keysOf = (taken: TakenRetry[]) => taken.map((t) => [t.row.id, t.runTime, t.attempt]);

describe('RedisBackend completeRuns', () => {
  it('writes the history row and the retry only with the claim of that attempt, once', async () => {
    const keyPrefix = freshPrefix();
    const db = await backend(keyPrefix);
    await claim(db, 'a', [100]);
    // Another attempt's claim is not there: nothing is written, and the claim stays.
    await db.completeRuns([
      {
        jobId: 'a',
        runTime: 100,
        attempt: 2,
        record: record('a', 900, 'error', 2),
        retry: retry('a', 100, 3, 0),
      },
    ]);
    expect(await db.runs({ limit: 10 })).toEqual([]);
    expect(await db.takeRetries('B', 1_000_000, 30_000, 10)).toEqual([]);
    expect(await admin.hexists(`${keyPrefix}runs`, '100:a')).toBe(1);

    const finished = { jobId: 'a', runTime: 100, attempt: 1, record: record('a', 1_000, 'error') };
    // A job that is there runs its retry from its own row, not from the retry's state.
    await db.completeRuns([{ ...finished, retry: { ...retry('a', 100, 2, 3_000), state: 'older state' } }]);
    expect(await db.runs({ limit: 10 })).toEqual([record('a', 1_000, 'error')]);
    expect(await admin.hexists(`${keyPrefix}runs`, '100:a')).toBe(0);
    expect(await admin.zrange(`${keyPrefix}retries`, '0', '-1', 'WITHSCORES')).toEqual(['100:2:a', '3000']);
    // The same claim reported again (a second reporter, a lost reply): nothing more is written.
    await db.completeRuns([{ ...finished, retry: retry('a', 100, 2, 2_000) }]);
    expect(await db.runs({ limit: 10 })).toHaveLength(1);
    expect(await admin.zrange(`${keyPrefix}retries`, '0', '-1', 'WITHSCORES')).toEqual(['100:2:a', '3000']);

    expect(await db.takeRetries('B', 2_999, 30_000, 10)).toEqual([]);
    expect(await db.takeRetries('B', 3_000, 30_000, 10)).toEqual([
      { row: row('a', 50_000), runTime: 100, attempt: 2, dueAt: 3000 },
    ]);
    expect(await db.takeRetries('B', 3_000, 30_000, 10)).toEqual([]);
    // The retry's claim is an ordinary claim of attempt 2: renewed, then reported once expired.
    await db.renewRuns('B', 35_000);
    expect(await db.takeAbandonedRuns(34_000, 40_000)).toEqual([]);
    expect(await db.takeAbandonedRuns(35_001, 40_000)).toEqual([
      { jobId: 'a', runTime: 100, attempt: 2, schedulerId: 'B' },
    ]);
    await db.completeRuns([{ jobId: 'a', runTime: 100, attempt: 1 }]);
    expect(await db.takeAbandonedRuns(40_001, 50_000)).toEqual([
      { jobId: 'a', runTime: 100, attempt: 2, schedulerId: 'B' },
    ]);
    await db.completeRuns([
      { jobId: 'a', runTime: 100, attempt: 2, record: record('a', 40_002, 'abandoned', 2) },
    ]);
    expect(await db.takeAbandonedRuns(60_000, 70_000)).toEqual([]);
    expect((await db.runs({ limit: 10 })).map((r) => [r.outcome, r.attempt])).toEqual([
      ['abandoned', 2],
      ['error', 1],
    ]);
  });

  it('completes many runs in one call, whatever their ids hold, with rows and retries of other jobs', async () => {
    const keyPrefix = freshPrefix();
    const db = await backend(keyPrefix);
    // Ids with the characters a packed argument could trip on.
    const odd = 'a,b\x1f,c\n:';
    const other = '1,2';
    await claim(db, odd, [100, 200]);
    await claim(db, other, [100]);
    await db.completeRuns([
      // No row and no retry.
      { jobId: odd, runTime: 100, attempt: 1 },
      // A row and a retry of another job (the retry from its own state).
      {
        jobId: odd,
        runTime: 200,
        attempt: 1,
        record: record(other, 2_000, 'error'),
        retry: { ...retry(other, 200, 2, 3_000), state: '{"id":"state, with a comma"}' },
      },
      // A retry without a row; an empty state string reads as none.
      { jobId: other, runTime: 100, attempt: 1, retry: { ...retry(other, 100, 2, 2_500), state: '' } },
    ]);
    expect(await admin.hlen(`${keyPrefix}runs`)).toBe(0);
    expect(await db.runs({ limit: 10 })).toEqual([record(other, 2_000, 'error')]);
    expect(await db.runs({ limit: 10, jobId: odd })).toEqual([]);
    expect(await admin.zrange(`${keyPrefix}retries`, '0', '-1', 'WITHSCORES')).toEqual([
      `100:2:${other}`,
      '2500',
      `200:2:${other}`,
      '3000',
    ]);
    expect(await admin.hgetall(`${keyPrefix}retries:state`)).toEqual({
      [`200:2:${other}`]: '{"id":"state, with a comma"}',
    });
    expect(keysOf(await db.takeRetries('B', 3_000, 30_000, 10))).toEqual([
      [other, 100, 2],
      [other, 200, 2],
    ]);
    // Row numbers go on from the counter across calls.
    await claim(db, odd, [300]);
    await db.completeRuns([{ jobId: odd, runTime: 300, attempt: 1, record: record(odd, 4_000) }]);
    expect((await db.runs({ limit: 10 })).map((r) => r.jobId)).toEqual([odd, other]);
    expect(await admin.get(`${keyPrefix}history:seq`)).toBe('2');
  });

  it('writes no retry for a paused job, and keeps the retries of a job whose trigger ended', async () => {
    const keyPrefix = freshPrefix();
    const db = await backend(keyPrefix);
    await claim(db, 'paused', [100]);
    await db.update(row('paused', null));
    await db.completeRuns([
      {
        jobId: 'paused',
        runTime: 100,
        attempt: 1,
        record: record('paused', 1_000, 'error'),
        retry: { ...retry('paused', 100, 2, 0), state: 'paused state' },
      },
    ]);
    // The history row is written all the same.
    expect((await db.runs({ limit: 10 })).map((r) => r.jobId)).toEqual(['paused']);
    expect(await admin.zcard(`${keyPrefix}retries`)).toBe(0);

    // 'ended': its fire at 100 failed, then its last release (fire at 200) removed it; the
    // retry of 100 stays, and the one of 200 is written, both to run from their state.
    await claim(db, 'ended', [100]);
    await db.completeRuns([
      { jobId: 'ended', runTime: 100, attempt: 1, retry: { ...retry('ended', 100, 2, 3_000), state: 'S1' } },
    ]);
    await claim(db, 'ended', [200], { remove: true });
    expect(await db.get('ended')).toBeNull();
    // A retry without a state, of a job gone: nothing can run it.
    await claim(db, 'stateless', [100], { remove: true });
    await db.completeRuns([
      { jobId: 'ended', runTime: 200, attempt: 1, retry: { ...retry('ended', 200, 2, 4_000), state: 'S2' } },
      { jobId: 'stateless', runTime: 100, attempt: 1, retry: retry('stateless', 100, 2, 1_000) },
    ]);
    expect(await db.nextRunTime(0)).toBe(3_000);
    expect(await db.takeRetries('A', 10_000, 30_000, 10)).toEqual([
      { row: { id: 'ended', nextRunTime: null, state: 'S1' }, runTime: 100, attempt: 2, dueAt: 3000 },
      { row: { id: 'ended', nextRunTime: null, state: 'S2' }, runTime: 200, attempt: 2, dueAt: 4000 },
    ]);
    expect(await admin.zcard(`${keyPrefix}retries`)).toBe(0);
    expect(await admin.exists(`${keyPrefix}retries:byjob`, `${keyPrefix}retries:state`)).toBe(0);
    await db.update(row('paused', 100));
    expect(await db.takeRetries('A', 1_000_000, 30_000, 10)).toEqual([]);

    // A retry of the same run time and attempt waiting already keeps its due time.
    await claim(db, 'kept', [100]);
    await db.completeRuns([{ jobId: 'kept', runTime: 100, attempt: 1, retry: retry('kept', 100, 2, 5_000) }]);
    await claim(db, 'kept', [100]);
    await db.completeRuns([{ jobId: 'kept', runTime: 100, attempt: 1, retry: retry('kept', 100, 2, 9_000) }]);
    expect(keysOf(await db.takeRetries('A', 5_000, 30_000, 10))).toEqual([['kept', 100, 2]]);
    expect(await db.takeRetries('A', 10_000, 30_000, 10)).toEqual([]);
  });
});

describe('RedisBackend takeRetries', () => {
  it('takes due retries earliest first, up to the limit, and leaves one whose run time is claimed', async () => {
    const db = await backend(freshPrefix());
    const dues: Record<string, number> = { c: 3_000, a: 1_000, b: 2_000, d: 4_000, e: 9_000 };
    for (const [id, dueAt] of Object.entries(dues)) {
      await claim(db, id, [100]);
      await db.completeRuns([{ jobId: id, runTime: 100, attempt: 1, retry: retry(id, 100, 2, dueAt) }]);
    }
    expect(keysOf(await db.takeRetries('A', 3_500, 30_000, 2))).toEqual([
      ['a', 100, 2],
      ['b', 100, 2],
    ]);
    expect(keysOf(await db.takeRetries('A', 3_500, 30_000, 10))).toEqual([['c', 100, 2]]);
    // 'd' has its run time claimed again (its job was set back to it): the retry waits.
    await claim(db, 'd', [100], { claimUntil: 25_000 });
    expect(keysOf(await db.takeRetries('A', 10_000, 30_000, 10))).toEqual([['e', 100, 2]]);
    expect(await db.nextRunTime(10_000)).toBe(25_000);
    await db.completeRuns([{ jobId: 'd', runTime: 100, attempt: 1 }]);
    expect(await db.nextRunTime(10_000)).toBe(4_000);
    expect(keysOf(await db.takeRetries('A', 10_000, 30_000, 10))).toEqual([['d', 100, 2]]);
    expect(await db.takeRetries('A', 1_000_000, 30_000, 10)).toEqual([]);
  });

  it('takes each retry once with two backends taking at once', async () => {
    const keyPrefix = freshPrefix();
    const db = await backend(keyPrefix);
    const count = 60;
    for (let i = 0; i < count; i++) {
      const id = `job-${i}`;
      await claim(db, id, [100, 200]);
      await db.completeRuns([
        { jobId: id, runTime: 100, attempt: 1, retry: retry(id, 100, 2, 1_000 + ((i * 37) % count)) },
        { jobId: id, runTime: 200, attempt: 1, retry: retry(id, 200, 2, i === 0 ? 99_999 : 1_500) },
      ]);
    }
    const takers = [await backend(keyPrefix), await backend(keyPrefix)];
    const taken = await Promise.all(
      takers.map(async (taker, k) => {
        const mine: TakenRetry[] = [];
        for (;;) {
          const batch = await taker.takeRetries(`taker-${k}`, 2_000, 30_000, 3);
          if (batch.length === 0) return mine;
          mine.push(...batch);
        }
      }),
    );
    const all = taken.flat().map((t) => `${t.row.id}@${t.runTime}#${t.attempt}`);
    expect(all).toHaveLength(2 * count - 1);
    expect(new Set(all).size).toBe(all.length);
    expect(all).not.toContain('job-0@200#2');
    // Each claim belongs to the backend that returned it.
    const abandoned = await db.takeAbandonedRuns(40_000, 50_000);
    expect(abandoned).toHaveLength(2 * count - 1);
    for (const [k, mine] of taken.entries()) {
      const owners = new Set(
        abandoned
          .filter((c) => mine.some((t) => t.row.id === c.jobId && t.runTime === c.runTime))
          .map((c) => c.schedulerId),
      );
      if (mine.length > 0) expect([...owners]).toEqual([`taker-${k}`]);
    }
    expect(await admin.zcard(`${keyPrefix}retries`)).toBe(1);
  });

  it('gives up the claims of a call whose reply was lost, so they are reported', async () => {
    const keyPrefix = freshPrefix();
    const real = connect();
    let loseReply = false;
    const client: RedisClientLike = {
      async call(command, ...args) {
        const reply = await real.call(command, ...args);
        if (loseReply) {
          loseReply = false;
          throw new Error('Command timed out');
        }
        return reply;
      },
      duplicate: (override) => real.duplicate(override),
    };
    const db = await backend(keyPrefix, client);
    await claim(db, 'a', [100]);
    await db.completeRuns([{ jobId: 'a', runTime: 100, attempt: 1, retry: retry('a', 100, 2, 1_000) }]);
    loseReply = true;
    await expect(db.takeRetries('A', 1_000, 30_000, 10, [], 'call-1')).rejects.toThrow(/timed out/);
    // Applied: nobody else takes it; given up (as the store does before its next take), the
    // claim is not renewed but reported. Another call's claims are not given up.
    expect(await (await backend(keyPrefix)).takeRetries('B', 1_000, 30_000, 10)).toEqual([]);
    await db.giveUpTaken('A', ['call-0']);
    await db.renewRuns('A', 50_000);
    expect(await db.takeAbandonedRuns(30_001, 60_000)).toEqual([]);
    await db.giveUpTaken('A', ['call-1']);
    expect(await db.takeRetries('A', 1_000, 30_000, 10)).toEqual([]);
    await db.renewRuns('A', 50_000);
    expect(await db.takeAbandonedRuns(1_001, 60_000)).toEqual([
      { jobId: 'a', runTime: 100, attempt: 2, schedulerId: 'A' },
    ]);
  });
});

describe('RedisJobStore after a take of retries whose reply was lost', () => {
  it('gives up the claims that take made before it takes again, so they are reported', async () => {
    const keyPrefix = freshPrefix();
    const db = await backend(keyPrefix);
    const T = T0.getTime();
    const { store, loseReply, stop } = await lossyStore(db, 'A', T);
    try {
      await db.insert(jobRow('a', T + 60_000));
      expect(await db.queueRun({ jobId: 'a', runTime: T, attempt: 1, dueAt: T })).toBe('queued');
      loseReply('takeRetries');
      await expect(store.acquireRetries(new Date(T), 10)).rejects.toThrow(/lost/);
      // Applied: nobody else takes the run, and A does not run it.
      expect(await (await backend(keyPrefix)).takeRetries('B', T, T + 1_000, 10)).toEqual([]);
      // Before its next take the store gives that claim up: reported, not renewed.
      expect(await store.acquireRetries(new Date(T), 10)).toEqual([]);
      await db.renewRuns('A', T + 1e9);
      expect(await db.takeAbandonedRuns(T, T + 1e9)).toEqual([
        { jobId: 'a', runTime: T, attempt: 1, schedulerId: 'A' },
      ]);
    } finally {
      await stop();
    }
  });
});

describe('RedisBackend retries of paused and removed jobs', () => {
  // Ids that share a beginning, or hold the separators of the layout.
  const ids = ['a', 'ab', '1:a', 'a\n2', ':', 'ключ'];

  it('includes the earliest retry in the next run time', async () => {
    const db = await backend(freshPrefix());
    await claim(db, 'a', [100], { next: 50_000 });
    expect(await db.nextRunTime(0)).toBe(50_000);
    await db.completeRuns([{ jobId: 'a', runTime: 100, attempt: 1, retry: retry('a', 100, 2, 3_000) }]);
    expect(await db.nextRunTime(0)).toBe(3_000);
    await db.update(row('a', null));
    expect(await db.nextRunTime(0)).toBeNull();
  });

  it('deletes the waiting retries of a job paused or removed, and of every job with removeAll', async () => {
    const keyPrefix = freshPrefix();
    const db = await backend(keyPrefix);
    for (const id of ids) {
      await claim(db, id, [100, 200]);
      await db.completeRuns([
        { jobId: id, runTime: 100, attempt: 1, record: record(id, 1_000), retry: retry(id, 100, 2, 1_000) },
        { jobId: id, runTime: 200, attempt: 1, retry: retry(id, 200, 2, 2_000) },
      ]);
    }
    const waiting = async () =>
      (await admin.zrange(`${keyPrefix}retries`, '0', '-1')).map((m) => m.replace(/^\d+:2:/, ''));
    expect(new Set(await waiting())).toEqual(new Set(ids));
    await db.update(row('a', null));
    await db.update(row('a', 300));
    expect(await waiting()).not.toContain('a');
    expect(await db.remove('1:a')).toBe(true);
    expect(await db.remove(':')).toBe(true);
    const left = ['ab', 'a\n2', 'ключ'];
    expect((await waiting()).sort()).toEqual([...left, ...left].sort());
    expect(await admin.zcard(`${keyPrefix}retries:byjob`)).toBe(2 * left.length);
    const taken = await db.takeRetries('A', 2_000, 30_000, 100);
    expect(keysOf(taken).sort()).toEqual(
      left
        .flatMap((id) => [
          [id, 100, 2],
          [id, 200, 2],
        ])
        .sort(),
    );

    // removeAll: jobs, claims and retries go; the history stays.
    await claim(db, 'z', [100]);
    await db.completeRuns([
      { jobId: 'z', runTime: 100, attempt: 1, retry: { ...retry('z', 100, 2, 1_000), state: 'z state' } },
    ]);
    expect(await admin.hlen(`${keyPrefix}retries:state`)).toBe(1);
    await db.removeAll();
    expect(await db.all()).toEqual([]);
    expect(await db.takeAbandonedRuns(1_000_000, 2_000_000)).toEqual([]);
    expect(await db.nextRunTime(0)).toBeNull();
    expect(
      await admin.exists(
        `${keyPrefix}retries`,
        `${keyPrefix}retries:byjob`,
        `${keyPrefix}retries:state`,
        `${keyPrefix}runs:attempt`,
      ),
    ).toBe(0);
    expect((await db.runs({ limit: 100 })).map((r) => r.jobId).sort()).toEqual([...ids].sort());
  });
});

describe('RedisBackend history', () => {
  /** Writes history rows in order, each through a claim of its own. */
  async function write(db: RedisBackend, rows: RunRecordRow[]): Promise<void> {
    let runTime = 0;
    for (const r of rows) {
      runTime += 1;
      await claim(db, r.jobId, [runTime]);
      await db.completeRuns([{ jobId: r.jobId, runTime, attempt: 1, record: r }]);
    }
  }
  const brief = (rows: RunRecordRow[]) => rows.map((r) => `${r.jobId}@${r.finishedAt}:${r.outcome}`);

  it('lists rows newest first (ties: the later written first), by job, outcome and time', async () => {
    const db = await backend(freshPrefix());
    await write(db, [
      record('a', 1_000, 'success'),
      record('ab', 2_000, 'error'),
      record('a', 3_000, 'error'),
      record('1:a', 2_000, 'timeout'),
      record('a', 2_000, 'success'),
      record('ab', 5_000, 'missed'),
      record('a', 2_000, 'max_instances'),
      record('a', -5_000, 'success'),
    ]);
    expect(brief(await db.runs({ limit: 100 }))).toEqual([
      'ab@5000:missed',
      'a@3000:error',
      'a@2000:max_instances',
      'a@2000:success',
      '1:a@2000:timeout',
      'ab@2000:error',
      'a@1000:success',
      'a@-5000:success',
    ]);
    expect(brief(await db.runs({ jobId: 'a', limit: 100 }))).toEqual([
      'a@3000:error',
      'a@2000:max_instances',
      'a@2000:success',
      'a@1000:success',
      'a@-5000:success',
    ]);
    expect(brief(await db.runs({ jobId: '1:a', limit: 100 }))).toEqual(['1:a@2000:timeout']);
    expect(await db.runs({ jobId: 'b', limit: 100 })).toEqual([]);
    expect(brief(await db.runs({ limit: 3 }))).toEqual([
      'ab@5000:missed',
      'a@3000:error',
      'a@2000:max_instances',
    ]);
    expect(brief(await db.runs({ jobId: 'a', limit: 2 }))).toEqual(['a@3000:error', 'a@2000:max_instances']);
    // Bounds are inclusive, in both indexes.
    expect(brief(await db.runs({ since: 2_000, until: 3_000, limit: 100 }))).toEqual([
      'a@3000:error',
      'a@2000:max_instances',
      'a@2000:success',
      '1:a@2000:timeout',
      'ab@2000:error',
    ]);
    expect(brief(await db.runs({ jobId: 'a', since: 1_000, until: 2_000, limit: 100 }))).toEqual([
      'a@2000:max_instances',
      'a@2000:success',
      'a@1000:success',
    ]);
    expect(brief(await db.runs({ jobId: 'a', until: 0, limit: 100 }))).toEqual(['a@-5000:success']);
    expect(brief(await db.runs({ jobId: 'a', since: 2_001, limit: 100 }))).toEqual(['a@3000:error']);
    expect(await db.runs({ jobId: 'a', since: 3_001, until: 2_000, limit: 100 })).toEqual([]);
    expect(brief(await db.runs({ outcomes: ['error', 'timeout'], limit: 100 }))).toEqual([
      'a@3000:error',
      '1:a@2000:timeout',
      'ab@2000:error',
    ]);
    expect(brief(await db.runs({ outcomes: ['success'], jobId: 'a', since: 0, limit: 1 }))).toEqual([
      'a@2000:success',
    ]);
    expect(await db.runs({ outcomes: [], limit: 100 })).toEqual([]);
    expect(await db.runs({ limit: 0 })).toEqual([]);
    // Every field comes back as written.
    expect(await db.runs({ jobId: '1:a', limit: 1 })).toEqual([record('1:a', 2_000, 'timeout')]);
  });

  it('filters an outcome past many rows of others', async () => {
    const db = await backend(freshPrefix());
    const rows = Array.from({ length: 2_500 }, (_, i) => record('a', i, i === 7 ? 'error' : 'success'));
    await claim(
      db,
      'a',
      rows.map((_, i) => i),
    );
    await db.completeRuns(rows.map((r, i) => ({ jobId: 'a', runTime: i, attempt: 1, record: r })));
    expect(brief(await db.runs({ outcomes: ['error'], limit: 10 }))).toEqual(['a@7:error']);
    expect(brief(await db.runs({ jobId: 'a', outcomes: ['error'], limit: 10 }))).toEqual(['a@7:error']);
    expect(await db.runs({ limit: 5_000 })).toHaveLength(2_500);
  });

  it('prunes rows by age and beyond the newest maxPerJob of each job, a batch at a time', async () => {
    const keyPrefix = freshPrefix();
    const db = await backend(keyPrefix);
    const rows: RunRecordRow[] = [];
    for (let i = 1; i <= 10; i++) rows.push(record('a', i * 1_000));
    for (let i = 1; i <= 3; i++) rows.push(record('b', i * 1_000));
    for (let i = 1; i <= 5; i++) rows.push(record('ab', i * 1_000));
    await write(db, rows);
    const counts = async () => [
      await admin.hlen(`${keyPrefix}history`),
      await admin.zcard(`${keyPrefix}history:bytime`),
      await admin.zcard(`${keyPrefix}history:byjob`),
    ];
    expect(await counts()).toEqual([18, 18, 18]);

    // Finished before 3500: three rows of each job.
    const byAge: number[] = [];
    for (let n = -1; n !== 0; ) byAge.push((n = await db.pruneRuns(3_500, Number.POSITIVE_INFINITY, 2)));
    expect(byAge).toEqual([2, 2, 2, 2, 1, 0]);
    expect(await counts()).toEqual([9, 9, 9]);
    expect(brief(await db.runs({ jobId: 'b', limit: 100 }))).toEqual([]);

    // 'a' has 7 rows left, 'ab' 2: keep the newest 2 of each.
    const byCount: number[] = [];
    for (let n = -1; n !== 0; ) byCount.push((n = await db.pruneRuns(Number.NEGATIVE_INFINITY, 2, 3)));
    expect(byCount).toEqual([3, 2, 0]);
    expect(await counts()).toEqual([4, 4, 4]);
    expect(brief(await db.runs({ limit: 100 }))).toEqual([
      'a@10000:success',
      'a@9000:success',
      'ab@5000:success',
      'ab@4000:success',
    ]);

    // Both limits in one call, the batch shared between them.
    await write(db, [record('b', 1_000), record('b', 20_000), record('b', 21_000), record('b', 22_000)]);
    expect(await db.pruneRuns(2_000, 2, 100)).toBe(2);
    expect(brief(await db.runs({ jobId: 'b', limit: 100 }))).toEqual(['b@22000:success', 'b@21000:success']);
    expect(await db.pruneRuns(2_000, 2, 100)).toBe(0);
  });
});

describe('RedisBackend with claims written before attempts were kept', () => {
  it('reads a claim without an attempt as a first attempt', async () => {
    const keyPrefix = freshPrefix();
    const db = await backend(keyPrefix);
    await db.insert(row('old', 50_000));
    // As older code wrote a claim: owner and expiry, no attempt.
    await admin.hset(`${keyPrefix}runs`, '100:old', 'A');
    await admin.zadd(`${keyPrefix}runs:until`, 500, '100:old');
    expect(await db.takeAbandonedRuns(1_000, 2_000)).toEqual([
      { jobId: 'old', runTime: 100, attempt: 1, schedulerId: 'A' },
    ]);
    await db.completeRuns([
      { jobId: 'old', runTime: 100, attempt: 2, record: record('old', 1_500, 'abandoned', 2) },
    ]);
    expect(await admin.hexists(`${keyPrefix}runs`, '100:old')).toBe(1);
    await db.completeRuns([
      {
        jobId: 'old',
        runTime: 100,
        attempt: 1,
        record: record('old', 1_500, 'abandoned'),
        retry: retry('old', 100, 2, 1_600),
      },
    ]);
    expect(await admin.hexists(`${keyPrefix}runs`, '100:old')).toBe(0);
    expect(await db.runs({ limit: 10 })).toEqual([record('old', 1_500, 'abandoned')]);
    expect(keysOf(await db.takeRetries('A', 1_600, 30_000, 10))).toEqual([['old', 100, 2]]);
  });
});
