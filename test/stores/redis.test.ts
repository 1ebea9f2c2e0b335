/**
 * RedisJobStore on a real redis-server started for this file: the job API through a scheduler,
 * restarts, hostile ids, runs shared by two schedulers, stored values this code cannot restore,
 * wake-up hints, and outages (the server shut down, or frozen) that the scheduler rides out; the
 * backend after a lost reply, and the StoreBackend contract (see backend-suite.ts).
 */
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  BackgroundScheduler,
  type Job,
  MemoryJobStore,
  RedisJobStore,
  type RedisJobStoreOptions,
  registerTask,
  type SchedulerEventAny,
  type SchedulerOptions,
  SchemaVersionError,
  SerializationError,
  TaskLookupError,
} from '../../src/index.js';
import { RedisBackend } from '../../src/stores/redis/backend.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';
import { fakeLogger } from '../helpers/scheduler.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { describeBackendSuite } from './backend-suite.js';
import { describeStoreSuite } from './store-suite.js';

let server: RedisServer;
let admin: Redis;
const schedulers: BackgroundScheduler[] = [];
const clients: Redis[] = [];
let prefixCount = 0;

beforeAll(async () => {
  server = await startRedis();
  admin = connect();
});

afterEach(async () => {
  for (const scheduler of schedulers.splice(0)) {
    if (scheduler.running) await scheduler.shutdown({ wait: false });
  }
});

afterAll(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await server?.destroy();
});

/** A fresh key prefix, so each test has a store of its own. */
function freshPrefix(): string {
  return `t${process.pid}_${++prefixCount}:`;
}

/** A client for looking at (and damaging) the store's keys. */
function connect(options: RedisOptions = {}): Redis {
  const client = new Redis(server.url, { maxRetriesPerRequest: 0, ...options });
  client.on('error', () => undefined);
  clients.push(client);
  return client;
}

function store(options: Partial<RedisJobStoreOptions> & { keyPrefix: string }): RedisJobStore {
  return new RedisJobStore({ url: server.url, ...options } as RedisJobStoreOptions);
}

function scheduler(jobstore: RedisJobStore, options: SchedulerOptions = {}): BackgroundScheduler {
  const s = new BackgroundScheduler({ timezone: 'UTC', jobstores: { default: jobstore }, ...options });
  schedulers.push(s);
  return s;
}

function events(s: BackgroundScheduler): SchedulerEventAny[] {
  const seen: SchedulerEventAny[] = [];
  s.addListener((e) => {
    seen.push(e);
  });
  return seen;
}

const calls: Array<{ tag: string; at: number }> = [];
const record = registerTask('redis-test:record', (tag: string, ..._extra: unknown[]) => {
  calls.push({ tag, at: Date.now() });
  return tag;
});
const callsOf = (tag: string) => calls.filter((c) => c.tag === tag);

const summary = (jobs: Job[]) =>
  jobs.map((j) => ({
    id: j.id,
    next: j.nextRunTime?.getTime() ?? null,
    args: j.args,
    trigger: String(j.trigger),
  }));

describe('RedisJobStore through the scheduler', () => {
  it('adds, reads, modifies, pauses, resumes and removes jobs', async () => {
    const keyPrefix = freshPrefix();
    const s = scheduler(store({ keyPrefix }));
    await s.start();
    const when = new Date(Date.now() + 3_600_000);
    const job = await s.addJob(record, 'interval', {
      hours: 2,
      startDate: when,
      id: 'a',
      args: ['a'],
      name: 'first',
    });
    expect(job.nextRunTime?.getTime()).toBe(when.getTime());
    await s.addJob(record, 'date', { runDate: new Date(when.getTime() - 60_000), id: 'b', args: ['b'] });

    const a = await s.getJob('a');
    expect(a?.name).toBe('first');
    expect(a?.args).toEqual(['a']);
    expect(a?.func).toBe(record);
    expect((await s.getJobs()).map((j) => j.id)).toEqual(['b', 'a']);
    // The layout documented in scripts.ts.
    expect(await admin.hexists(`${keyPrefix}jobs`, 'a')).toBe(1);
    expect(Number(await admin.zscore(`${keyPrefix}next`, 'a'))).toBe(when.getTime());
    expect(await admin.get(`${keyPrefix}version`)).toBe('1');

    await s.modifyJob('a', { name: 'renamed', args: ['A'], maxInstances: 3 });
    const modified = await s.getJob('a');
    expect([modified?.name, modified?.args, modified?.maxInstances]).toEqual(['renamed', ['A'], 3]);

    await s.pauseJob('a');
    expect((await s.getJob('a'))?.nextRunTime).toBeNull();
    expect(await admin.zscore(`${keyPrefix}next`, 'a')).toBeNull();
    expect((await s.getJobs()).map((j) => [j.id, j.nextRunTime === null])).toEqual([
      ['b', false],
      ['a', true],
    ]);
    await s.resumeJob('a');
    expect((await s.getJob('a'))?.nextRunTime).not.toBeNull();

    await s.rescheduleJob('b', 'date', { runDate: new Date(when.getTime() + 60_000) });
    expect((await s.getJobs()).map((j) => j.id)).toEqual(['a', 'b']);

    await s.removeJob('a');
    expect(await s.getJob('a')).toBeNull();
    await expect(s.removeJob('a')).rejects.toThrow(/a/);
    await s.removeAllJobs();
    expect(await s.getJobs()).toEqual([]);
    expect(await admin.exists(`${keyPrefix}jobs`, `${keyPrefix}next`)).toBe(0);
  });

  it('keeps jobs across a restart with a new scheduler and a new store object', async () => {
    const keyPrefix = freshPrefix();
    const first = scheduler(store({ keyPrefix }));
    await first.start();
    const soon = Date.now() + 3_600_000;
    await first.addJob(record, 'cron', { hour: 5, minute: 30, id: 'cron', args: ['c'] });
    await first.addJob(record, 'interval', {
      minutes: 5,
      startDate: new Date(soon),
      id: 'interval',
      args: ['i', new Date(0), { nested: [new Date(1)] }],
    });
    await first.addJob(record, 'date', {
      runDate: new Date(soon),
      id: 'paused',
      args: ['p'],
      nextRunTime: null,
    });
    const before = summary(await first.getJobs());
    await first.shutdown();

    const second = scheduler(store({ keyPrefix }));
    await second.start({ paused: true });
    expect(summary(await second.getJobs())).toEqual(before);
    expect((await second.getJob('interval'))?.args).toEqual(['i', new Date(0), { nested: [new Date(1)] }]);
    expect((await second.getJobs()).map((j) => j.id).at(-1)).toBe('paused');
  });

  it('round-trips ids with quotes, unicode, separators and 1 KB length', async () => {
    const keyPrefix = freshPrefix();
    const s = scheduler(store({ keyPrefix }));
    await s.start({ paused: true });
    const ids = [`it's "quoted" \\ '`, 'ключ-🕐-日本', 'x'.repeat(1024), '123:456', ':', ' '];
    const runDate = new Date(Date.now() + 3_600_000);
    for (const id of ids) await s.addJob(record, 'date', { runDate, id, args: [id] });
    for (const id of ids) {
      const job = await s.getJob(id);
      expect(job?.id).toBe(id);
      expect(job?.args).toEqual([id]);
    }
    expect((await s.getJobs()).map((j) => j.id).sort()).toEqual([...ids].sort());
    for (const id of ids) await s.removeJob(id);
    expect(await s.getJobs()).toEqual([]);
  });

  it('runs a due job and advances its next run time', async () => {
    const keyPrefix = freshPrefix();
    const s = scheduler(store({ keyPrefix }));
    const seen = events(s);
    await s.start();
    const tag = `${keyPrefix}run`;
    await s.addJob(record, 'interval', { seconds: 0.2, id: 'tick', args: [tag] });
    await waitFor(() => callsOf(tag).length >= 3, 'three runs');
    const executed = seen.filter((e) => e.name === 'job_executed');
    expect(executed.length).toBeGreaterThanOrEqual(2);
    const next = (await s.getJob('tick'))?.nextRunTime?.getTime() ?? 0;
    expect(next).toBeGreaterThan(callsOf(tag)[0].at);
    // Finished runs leave no claim behind.
    await waitFor(async () => (await admin.hlen(`${keyPrefix}runs`)) <= 1, 'run claims to be completed');
  });

  it('runs a date job exactly once with two schedulers on the same prefix', async () => {
    const keyPrefix = freshPrefix();
    const a = scheduler(store({ keyPrefix }), { schedulerId: 'sched-a' });
    const b = scheduler(store({ keyPrefix }), { schedulerId: 'sched-b' });
    const seenA = events(a);
    const seenB = events(b);
    await a.start();
    await b.start();
    const tag = `${keyPrefix}once`;
    const runDate = new Date(Date.now() + 300);
    const count = 20;
    for (let i = 0; i < count; i++) {
      await a.addJob(record, 'date', { runDate, id: `once-${i}`, args: [`${tag}-${i}`] });
    }
    await waitFor(async () => (await a.getJobs()).length === 0, 'every date job to run and go');
    await waitFor(() => calls.filter((c) => c.tag.startsWith(tag)).length >= count, 'every run');
    // A second run would come within a pass or two.
    await sleep(300);
    for (let i = 0; i < count; i++) expect(callsOf(`${tag}-${i}`)).toHaveLength(1);
    const executed = [...seenA, ...seenB].filter((e) => e.name === 'job_executed');
    expect(executed).toHaveLength(count);
    expect(await admin.hlen(`${keyPrefix}runs`)).toBe(0);
  });

  it('reports stored values it cannot restore, keeps them, and goes on running', async () => {
    const keyPrefix = freshPrefix();
    const setup = scheduler(store({ keyPrefix }));
    await setup.start({ paused: true });
    const due = Date.now() - 1;
    await setup.addJob(record, 'interval', {
      hours: 1,
      id: 'ghost',
      args: ['g'],
      nextRunTime: new Date(due),
    });
    await setup.shutdown();
    const state = JSON.parse((await admin.hget(`${keyPrefix}jobs`, 'ghost')) as string);
    await admin.hset(
      `${keyPrefix}jobs`,
      'ghost',
      JSON.stringify({ ...state, task: 'redis-test:no-such-task' }),
    );
    await admin.hset(`${keyPrefix}jobs`, 'garbage', '{not json');
    await admin.zadd(`${keyPrefix}next`, due, 'garbage');

    const logger = fakeLogger();
    const s = scheduler(store({ keyPrefix }), { logger });
    const seen = events(s);
    await s.start();
    const tag = `${keyPrefix}healthy`;
    await s.addJob(record, 'interval', { seconds: 0.2, id: 'healthy', args: [tag] });
    await waitFor(() => callsOf(tag).length >= 2, 'the healthy job to run twice');
    const errors = seen.filter((e) => e.name === 'job_error').map((e) => (e as { jobId: string }).jobId);
    expect(errors.sort()).toEqual(['garbage', 'ghost']);
    expect(s.running).toBe(true);
    // Listed, marked broken, without a function.
    const ghost = await s.getJob('ghost');
    expect([ghost?.func, ghost?.args, ghost?.taskRef]).toEqual([undefined, ['g'], 'redis-test:no-such-task']);
    expect(ghost?.broken).toMatch(/redis-test:no-such-task/);
    expect((await s.getJobs()).map((j) => [j.id, j.broken === null]).sort()).toEqual([
      ['garbage', false],
      ['ghost', false],
      ['healthy', true],
    ]);
    expect((await s.getJob('garbage'))?.broken).toMatch(/not JSON/);
    expect(await admin.hexists(`${keyPrefix}jobs`, 'ghost')).toBe(1);
    expect(await admin.hget(`${keyPrefix}jobs`, 'garbage')).toBe('{not json');
  });

  it('refuses jobs it cannot store when they are added', async () => {
    const s = scheduler(store({ keyPrefix: freshPrefix() }));
    await s.start({ paused: true });
    const unregistered = await s
      .addJob(function notRegistered() {}, 'interval', { seconds: 5 })
      .catch((e: unknown) => e);
    expect(unregistered).toBeInstanceOf(TaskLookupError);
    expect(String(unregistered)).toMatch(/notRegistered/);
    const badArgs = await s
      .addJob(record, 'interval', { seconds: 5, args: [{ nested: [1, () => 2] }] as unknown as [string] })
      .catch((e: unknown) => e);
    expect(badArgs).toBeInstanceOf(SerializationError);
    expect((badArgs as SerializationError).path).toBe('args[0].nested[1]');
    expect(String(badArgs)).toMatch(/args\[0\]\.nested\[1\]/);
    expect(await s.getJobs()).toEqual([]);
  });

  it('rejects bad options, naming the option and the value', () => {
    const make = (options: unknown) => () => new RedisJobStore(options as RedisJobStoreOptions);
    expect(make(undefined)).toThrow(/RedisJobStore options to be an object, got undefined/);
    expect(make({})).toThrow(/needs a url or a client/);
    expect(make({ url: 'http://localhost' })).toThrow(/url to be a redis:\/\/.*"http:\/\/localhost"/);
    expect(make({ url: 6379 })).toThrow(/url .* got 6379 \(number\)/);
    expect(make({ url: 'nonsense' })).toThrow(/url .* got "nonsense"/);
    expect(make({ url: 'https://user:hunter2@host' })).toThrow(/user:\*\*\*@host/);
    expect(make({ url: 'https://user:hunter2@host' })).not.toThrow(/hunter2/);
    expect(make({ client: {} })).toThrow(/client to be an ioredis client/);
    expect(make({ client: admin, url: server.url })).toThrow(/not both/);
    expect(make({ url: server.url, keyPrefix: 'bad prefix' })).toThrow(/keyPrefix .* got "bad prefix"/);
    expect(make({ url: server.url, keyPrefix: '' })).toThrow(/keyPrefix/);
    expect(make({ url: server.url, leaseTime: 0 })).toThrow(/leaseTime .* got 0 \(number\)/);
    expect(make({ url: server.url, pollInterval: 'x' })).toThrow(/pollInterval .* got "x"/);
    expect(make({ url: server.url, tableName: 'x' })).toThrow(/Unknown RedisJobStore option "tableName"/);
    expect(make({ url: server.url, keyPrefix: '{app}:jobs-1.' })).not.toThrow();
  });

  it('refuses a store written by a newer schema version', async () => {
    const keyPrefix = freshPrefix();
    await admin.set(`${keyPrefix}version`, '99');
    const s = scheduler(store({ keyPrefix }));
    const error = await s.start().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SchemaVersionError);
    expect(error).toMatchObject({ found: 99, supported: 1 });
    expect(String(error)).toMatch(/schema version 99, newer than the 1/);
  });

  it('uses a client it was given and leaves it open; closes the connections it made', async () => {
    const connectionIds = async () =>
      new Set(((await admin.client('LIST')) as string).match(/(?<=^id=)\d+/gm) ?? []);
    const client = connect();
    const s = scheduler(new RedisJobStore({ client, keyPrefix: freshPrefix() }));
    await s.start();
    await s.addJob(record, 'interval', { hours: 1, id: 'given', args: ['given'] });
    await s.shutdown();
    expect(await client.ping()).toBe('PONG');

    const before = await connectionIds();
    const made = scheduler(store({ keyPrefix: freshPrefix() }));
    await made.start();
    const opened = [...(await connectionIds())].filter((id) => !before.has(id));
    // One for commands, one for the wake-up channel.
    expect(opened).toHaveLength(2);
    await made.shutdown();
    await waitFor(async () => {
      const now = await connectionIds();
      return opened.every((id) => !now.has(id));
    }, 'the store connections to close');
  });

  it('wakes another scheduler when jobs change, long before its poll', async () => {
    const keyPrefix = freshPrefix();
    const writer = scheduler(store({ keyPrefix, pollInterval: 60 }), { schedulerId: 'writer' });
    const runner = scheduler(store({ keyPrefix, pollInterval: 60 }), { schedulerId: 'runner' });
    await writer.start({ paused: true });
    await runner.start();
    // Let the runner's first pass finish, so it sleeps on its (long) poll.
    await sleep(100);
    const tag = `${keyPrefix}hint`;
    await writer.addJob(record, 'date', { runDate: new Date(Date.now() + 200), id: 'hinted', args: [tag] });
    await waitFor(() => callsOf(tag).length === 1, 'the runner to run the job', 3_000);
  });
});

describe('RedisJobStore in an outage', () => {
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  beforeAll(() => {
    process.on('unhandledRejection', onRejection);
  });
  afterAll(() => {
    process.off('unhandledRejection', onRejection);
  });

  /** Starts a scheduler with a memory job and a Redis job, both every 0.1 s. */
  async function startBoth(jobstore: RedisJobStore, keyPrefix: string) {
    const s = new BackgroundScheduler({
      timezone: 'UTC',
      jobstores: { default: new MemoryJobStore(), redis: jobstore },
      jobstoreRetryInterval: 0.5,
      logger: fakeLogger(),
    });
    schedulers.push(s);
    await s.start();
    const memoryTag = `${keyPrefix}memory`;
    const redisTag = `${keyPrefix}redis`;
    await s.addJob(record, 'interval', { seconds: 0.1, id: 'mem', args: [memoryTag] });
    await s.addJob(record, 'interval', { seconds: 0.1, id: 'red', args: [redisTag], jobstore: 'redis' });
    await s.addJob(record, 'interval', {
      hours: 1,
      id: 'kept',
      args: ['kept'],
      jobstore: 'redis',
      nextRunTime: null,
    });
    await waitFor(() => callsOf(redisTag).length >= 2 && callsOf(memoryTag).length >= 2, 'both jobs to run');
    return { s, memoryTag, redisTag };
  }

  it('keeps other stores running while the server is down, and resumes without a restart', async () => {
    const keyPrefix = freshPrefix();
    const { s, memoryTag, redisTag } = await startBoth(store({ keyPrefix, leaseTime: 3 }), keyPrefix);
    await server.stop();
    const down = Date.now();
    // Calls fail at once rather than wait for the server.
    await expect(
      s.addJob(record, 'interval', { seconds: 1, args: ['x'], jobstore: 'redis' }),
    ).rejects.toThrow();
    expect(Date.now() - down).toBeLessThan(1_000);
    await sleep(2_000);
    const up = Date.now();
    const memoryDuring = callsOf(memoryTag).filter((c) => c.at > down && c.at < up).length;
    expect(memoryDuring).toBeGreaterThanOrEqual(10);
    expect(callsOf(redisTag).filter((c) => c.at > down + 500 && c.at < up)).toEqual([]);
    await server.start();
    await waitFor(() => callsOf(redisTag).some((c) => c.at > up), 'the Redis job to run again', 8_000);
    expect(s.running).toBe(true);
    expect((await s.getJobs('redis')).map((j) => j.id).sort()).toEqual(['kept', 'red']);
    // The wake-up channel is subscribed again too.
    await waitFor(async () => {
      const [, subscribers] = (await admin.pubsub('NUMSUB', `${keyPrefix}changes`)) as [string, number];
      return Number(subscribers) === 1;
    }, 'the wake-up channel to be subscribed again');
    expect(rejections).toEqual([]);
  });

  it('rides out a frozen server: calls time out instead of hanging', async () => {
    const keyPrefix = freshPrefix();
    const client = connect({ commandTimeout: 300, enableOfflineQueue: false, lazyConnect: true });
    await client.connect();
    const { s, memoryTag, redisTag } = await startBoth(new RedisJobStore({ client, keyPrefix }), keyPrefix);
    server.freeze();
    const frozen = Date.now();
    try {
      await expect(s.getJobs('redis')).rejects.toThrow(/timed out/i);
      expect(Date.now() - frozen).toBeLessThan(1_000);
      await sleep(1_500);
    } finally {
      server.thaw();
    }
    const thawed = Date.now();
    expect(callsOf(memoryTag).filter((c) => c.at > frozen && c.at < thawed).length).toBeGreaterThanOrEqual(8);
    await waitFor(() => callsOf(redisTag).some((c) => c.at > thawed), 'the Redis job to run again', 5_000);
    expect(s.running).toBe(true);
    expect((await s.getJobs('redis')).map((j) => j.id).sort()).toEqual(['kept', 'red']);
    expect(rejections).toEqual([]);
  });
});

describe('RedisBackend', () => {
  function backend(keyPrefix = freshPrefix()) {
    return new RedisBackend({
      client: connect(),
      owned: null,
      keyPrefix,
      instanceToken: 'token',
      logger: fakeLogger(),
    });
  }
  const row = (id: string, nextRunTime: number | null) => ({
    id,
    nextRunTime,
    state: `{"id":${JSON.stringify(id)}}`,
  });

  it('takes back its own jobs, and gives up its claims, after a reply was lost', async () => {
    const keyPrefix = freshPrefix();
    const real = connect();
    let loseReply = false;
    // The server applies the script; the reply never arrives (as after a command timeout).
    const client = {
      async call(command: string, ...args: Array<string | number>) {
        const reply = await real.call(command, ...args);
        if (loseReply) {
          loseReply = false;
          throw new Error('Command timed out');
        }
        return reply;
      },
      duplicate: (override: { lazyConnect: boolean }) => real.duplicate(override),
    };
    const db = new RedisBackend({
      client,
      owned: null,
      keyPrefix,
      instanceToken: 't',
      logger: fakeLogger(),
    });
    await db.open();
    await db.insert(row('a', 100));
    loseReply = true;
    await expect(db.acquire('A', 1_000, 30_000, 10)).rejects.toThrow(/timed out/);
    expect(await backend(keyPrefix).acquire('B', 2_000, 30_000, 10)).toEqual([]);
    // Asked to (as the store does after a failure), it takes back the job it holds.
    const [again] = await db.acquire('A', 2_000, 30_000, 10, [], true);
    expect(again?.id).toBe('a');
    // Only when asked: a job it holds is not taken twice.
    expect(await db.acquire('A', 2_000, 30_000, 10)).toEqual([]);
    loseReply = true;
    const release = { id: 'a', token: again.token, nextRunTime: 5_000, remove: false, runTimes: [100] };
    await expect(db.release('A', [release], 40_000)).rejects.toThrow(/timed out/);
    // The release was applied but its run never started: given up (as the store does before
    // its next acquire), the claim is reported, not renewed.
    await db.giveUpClaims('A', [{ jobId: 'a', runTime: 100 }]);
    expect(await db.acquire('A', 3_000, 30_000, 10, [], true)).toEqual([]);
    await db.renewRuns('A', 50_000);
    expect(await db.takeAbandonedRuns(3_001, 60_000)).toEqual([
      { jobId: 'a', runTime: 100, attempt: 1, schedulerId: 'A' },
    ]);
    expect((await db.get('a'))?.nextRunTime).toBe(5_000);
  });
});

let backendPrefix = '';
const backendsOpened: Array<{ backend: RedisBackend; client: Redis }> = [];

/** A backend on a connection of its own (as another process would have), on `keyPrefix`. */
async function openBackend(keyPrefix: string): Promise<RedisBackend> {
  const client = connect();
  const backend = new RedisBackend({
    client,
    owned: null,
    keyPrefix,
    instanceToken: `token-${backendsOpened.length}`,
    logger: fakeLogger(),
  });
  backendsOpened.push({ backend, client });
  await backend.open();
  return backend;
}

describeBackendSuite('RedisBackend', {
  create: () => openBackend((backendPrefix = freshPrefix())),
  peer: () => openBackend(backendPrefix),
  async cleanup() {
    for (const { backend, client } of backendsOpened.splice(0)) {
      await backend.close();
      client.disconnect();
    }
    if (backendPrefix === '') return;
    const keys = await admin.keys(`${backendPrefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    backendPrefix = '';
  },
});

let suitePrefix = '';
describeStoreSuite('RedisJobStore', {
  persistent: true,
  create: () => new RedisJobStore({ url: server.url, keyPrefix: (suitePrefix = freshPrefix()) }),
  reopen: () => new RedisJobStore({ url: server.url, keyPrefix: suitePrefix }),
  async cleanup() {
    const keys = await admin.keys(`${suitePrefix}*`);
    if (keys.length > 0) await admin.del(...keys);
  },
});
