/**
 * Batched adds and folded wake-up hints on every persistent store (SQLite on a temp file,
 * Postgres and Redis on throwaway servers): concurrent `addJob` calls are written together yet
 * each settles on its own job, a failed batch fails each of its callers and nothing else, and
 * many changes send far fewer hints, the last change always among the announced.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  BackgroundScheduler,
  ConflictingIdError,
  type Job,
  type JobStore,
  PostgresJobStore,
  RedisJobStore,
  registerTask,
  type SchedulerOptions,
  SqliteJobStore,
} from '../../src/index.js';
import type { StoreBackend } from '../../src/stores/backend.js';
import { PostgresBackend } from '../../src/stores/postgres/backend.js';
import { RedisBackend } from '../../src/stores/redis/backend.js';
import { SqliteBackend } from '../../src/stores/sqlite/backend.js';
import { type PostgresServer, startPostgres } from '../helpers/postgres-server.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';
import { fakeLogger } from '../helpers/scheduler.js';
import { sleep, waitFor } from '../helpers/wait.js';

const calls: string[] = [];
const record = registerTask('batching.record', (tag: string, _n: number) => {
  calls.push(tag);
});

/** Counts the wake-up hints sent on a store's channel. */
interface HintCounter {
  count(): number;
  close(): Promise<void>;
}

/** One persistent store kind: where its stores live, and how to break and mend one. */
interface StoreKind {
  name: string;
  backend: { prototype: StoreBackend };
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** A new place for a store (file, table or key prefix). */
  fresh(): string;
  open(place: string, pollInterval?: number): JobStore;
  /**
   * Makes the next write of a batch holding the job id `poison` fail; resolves to the function
   * that mends the store.
   */
  breakWrites(place: string): Promise<() => Promise<void>>;
  /** Counts wake-up hints; absent for a store that sends none. */
  listenHints?(place: string): Promise<HintCounter>;
}

let dir = '';
let sqliteCount = 0;
const sqlite: StoreKind = {
  name: 'SQLite',
  backend: SqliteBackend,
  async setup() {
    dir = mkdtempSync(join(tmpdir(), 'tickwork-batching-'));
  },
  async teardown() {
    rmSync(dir, { recursive: true, force: true });
  },
  fresh: () => join(dir, `jobs-${++sqliteCount}.sqlite`),
  open: (path, pollInterval = 1) => new SqliteJobStore({ path, pollInterval }),
  async breakWrites(path) {
    const db = new Database(path);
    db.exec(`CREATE TRIGGER poison BEFORE INSERT ON tickwork_jobs WHEN NEW.id = 'poison'
             BEGIN SELECT RAISE(ABORT, 'poisoned batch'); END`);
    db.close();
    return async () => {
      const mend = new Database(path);
      mend.exec('DROP TRIGGER poison');
      mend.close();
    };
  },
};

let postgresServer: PostgresServer;
let admin: pg.Pool;
let tableCount = 0;
const postgres: StoreKind = {
  name: 'Postgres',
  backend: PostgresBackend,
  async setup() {
    postgresServer = await startPostgres();
    admin = new pg.Pool({ connectionString: postgresServer.connectionString, max: 2 });
    admin.on('error', () => undefined);
  },
  async teardown() {
    await admin?.end();
    await postgresServer?.destroy();
  },
  fresh: () => `batch_${process.pid}_${++tableCount}`,
  open: (tableName, pollInterval = 1) =>
    new PostgresJobStore({ connectionString: postgresServer.connectionString, tableName, pollInterval }),
  async breakWrites(table) {
    await admin.query(`
      CREATE FUNCTION "${table}_poison"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.id = 'poison' THEN RAISE EXCEPTION 'poisoned batch'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER poison BEFORE INSERT ON "${table}"
        FOR EACH ROW EXECUTE FUNCTION "${table}_poison"();`);
    return async () => {
      await admin.query(`DROP TRIGGER poison ON "${table}"`);
    };
  },
  async listenHints(table) {
    const client = new pg.Client({ connectionString: postgresServer.connectionString });
    await client.connect();
    let hints = 0;
    client.on('notification', (message) => {
      if (message.channel === `${table}_wakeup`) hints++;
    });
    await client.query(`LISTEN "${table}_wakeup"`);
    return { count: () => hints, close: () => client.end() };
  },
};

let redisServer: RedisServer;
let prefixCount = 0;
const redis: StoreKind = {
  name: 'Redis',
  backend: RedisBackend,
  async setup() {
    redisServer = await startRedis();
  },
  async teardown() {
    await redisServer?.destroy();
  },
  fresh: () => `batch${process.pid}_${++prefixCount}:`,
  open: (keyPrefix, pollInterval = 1) => new RedisJobStore({ url: redisServer.url, keyPrefix, pollInterval }),
  // Redis has no triggers: the whole server goes away, which fails every write.
  async breakWrites() {
    await redisServer.stop();
    return () => redisServer.start();
  },
  async listenHints(keyPrefix) {
    const client = new Redis(redisServer.url, { maxRetriesPerRequest: 0 });
    client.on('error', () => undefined);
    let hints = 0;
    client.on('message', (channel) => {
      if (channel === `${keyPrefix}changes`) hints++;
    });
    await client.subscribe(`${keyPrefix}changes`);
    return {
      count: () => hints,
      close: async () => {
        client.disconnect();
      },
    };
  },
};

const schedulers: BackgroundScheduler[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const scheduler of schedulers.splice(0)) {
    if (scheduler.running) await scheduler.shutdown({ wait: false });
  }
});

function schedulerOn(store: JobStore, options: SchedulerOptions = {}): BackgroundScheduler {
  const scheduler = new BackgroundScheduler({
    timezone: 'UTC',
    jobstores: { default: store },
    logger: fakeLogger(),
    ...options,
  });
  schedulers.push(scheduler);
  return scheduler;
}

const fields = (job: Job) => ({
  id: job.id,
  name: job.name,
  args: job.args,
  trigger: String(job.trigger),
  nextRunTime: job.nextRunTime?.getTime() ?? null,
  misfireGraceTime: job.misfireGraceTime,
  coalesce: job.coalesce,
  maxInstances: job.maxInstances,
});

/** Adds `ids` all at once; resolves to each call's outcome. */
function burst(scheduler: BackgroundScheduler, ids: string[]) {
  return Promise.allSettled(
    ids.map((id) => scheduler.addJob(record, 'interval', { minutes: 5, id, args: [id, 0] })),
  );
}

describe.each([sqlite, postgres, redis])('batched adds on $name', (kind) => {
  beforeAll(() => kind.setup());
  afterAll(() => kind.teardown());

  it('lands 500 concurrent adds, written as one batch, every field intact', async () => {
    const place = kind.fresh();
    const scheduler = schedulerOn(kind.open(place));
    await scheduler.start({ paused: true });
    const insertMany = vi.spyOn(kind.backend.prototype, 'insertMany');
    const added = await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        scheduler.addJob(record, 'interval', {
          seconds: 30 + i,
          id: `job-${String(i).padStart(3, '0')}`,
          name: `name ${i} "quoted"`,
          args: [`tag-${i}`, i],
          misfireGraceTime: i % 2 === 0 ? null : i,
          coalesce: i % 3 === 0,
          maxInstances: 1 + (i % 4),
          nextRunTime: i % 5 === 0 ? null : undefined,
        }),
      ),
    );
    expect(insertMany).toHaveBeenCalledTimes(1);
    expect(insertMany.mock.calls[0][0]).toHaveLength(500);

    const stored = await scheduler.getJobs();
    expect(stored).toHaveLength(500);
    const byId = new Map(stored.map((job) => [job.id, fields(job)]));
    for (const job of added) expect(byId.get(job.id)).toEqual(fields(job));
    // A second process reading the store sees the same.
    const reader = schedulerOn(kind.open(place));
    await reader.start({ paused: true });
    expect((await reader.getJobs()).map(fields)).toEqual(stored.map(fields));
  });

  it('settles each call on its own: a duplicate id in one burst fails once, the first job kept', async () => {
    const scheduler = schedulerOn(kind.open(kind.fresh()));
    await scheduler.start({ paused: true });
    await scheduler.addJob(record, 'interval', { minutes: 5, id: 'old', args: ['old', 0] });
    await scheduler.addJob(record, 'interval', { minutes: 5, id: 'replaced', args: ['before', 0] });

    const outcomes = await Promise.allSettled([
      scheduler.addJob(record, 'interval', { minutes: 1, id: 'a', args: ['a', 0] }),
      scheduler.addJob(record, 'interval', { minutes: 1, id: 'dup', args: ['first', 1] }),
      scheduler.addJob(record, 'interval', { minutes: 1, id: 'b', args: ['b', 0] }),
      scheduler.addJob(record, 'interval', { minutes: 2, id: 'dup', args: ['second', 2] }),
      scheduler.addJob(record, 'interval', { minutes: 1, id: 'old', args: ['new', 0] }),
      scheduler.addJob(record, 'interval', {
        minutes: 1,
        id: 'replaced',
        args: ['after', 0],
        replaceExisting: true,
      }),
      scheduler.addJob(record, 'interval', { minutes: 1, id: 'c', args: ['c', 0] }),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'rejected',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    for (const index of [3, 4]) {
      const reason = (outcomes[index] as PromiseRejectedResult).reason;
      expect(reason).toBeInstanceOf(ConflictingIdError);
    }
    expect(String((outcomes[3] as PromiseRejectedResult).reason)).toMatch(/dup/);
    expect(String((outcomes[4] as PromiseRejectedResult).reason)).toMatch(/old/);

    const stored = new Map((await scheduler.getJobs()).map((job) => [job.id, job]));
    expect([...stored.keys()].sort()).toEqual(['a', 'b', 'c', 'dup', 'old', 'replaced']);
    expect(stored.get('dup')?.args).toEqual(['first', 1]);
    expect(String(stored.get('dup')?.trigger)).toBe(String(stored.get('a')?.trigger));
    expect(stored.get('old')?.args).toEqual(['old', 0]);
    expect(stored.get('replaced')?.args).toEqual(['after', 0]);
  });

  it('fails every call of a batch that fails, and stays usable', async () => {
    const place = kind.fresh();
    const scheduler = schedulerOn(kind.open(place));
    await scheduler.start({ paused: true });
    await scheduler.addJob(record, 'interval', { minutes: 5, id: 'kept', args: ['kept', 0] });
    const mend = await kind.breakWrites(place);
    let outcomes: PromiseSettledResult<Job>[];
    try {
      const ids = Array.from({ length: 50 }, (_, i) => (i === 25 ? 'poison' : `lost-${i}`));
      outcomes = await burst(scheduler, ids);
    } finally {
      await mend();
    }
    expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(50);
    const reasons = new Set(outcomes.map((o) => (o as PromiseRejectedResult).reason));
    // One failure, the batch's, for each of its callers.
    expect(reasons.size).toBe(1);
    expect([...reasons][0]).not.toBeInstanceOf(ConflictingIdError);

    // The store answers again (a Redis client reconnects on its own after a back-off).
    await waitFor(
      () =>
        scheduler.getJobs().then(
          () => true,
          () => false,
        ),
      'the store to answer again',
      10_000,
    );
    expect(scheduler.running).toBe(true);
    expect((await scheduler.getJobs()).map((job) => job.id)).toEqual(['kept']);
    const again = await burst(
      scheduler,
      Array.from({ length: 50 }, (_, i) => `again-${i}`),
    );
    expect(again.every((o) => o.status === 'fulfilled')).toBe(true);
    expect(await scheduler.getJobs()).toHaveLength(51);
  });

  it('finishes a batch under way before the store shuts down', async () => {
    const place = kind.fresh();
    const scheduler = schedulerOn(kind.open(place));
    await scheduler.start({ paused: true });
    // A batch that takes a while, so the shutdown comes while it is being written.
    const write = kind.backend.prototype.insertMany;
    let started: () => void = () => {};
    const writing = new Promise<void>((resolve) => {
      started = resolve;
    });
    vi.spyOn(kind.backend.prototype, 'insertMany').mockImplementation(async function (
      this: StoreBackend,
      rows,
    ) {
      started();
      await sleep(100);
      return write.call(this, rows);
    });
    const ids = Array.from({ length: 200 }, (_, i) => `late-${i}`);
    const adding = burst(scheduler, ids);
    await writing;
    await scheduler.shutdown();
    vi.restoreAllMocks();
    expect((await adding).every((o) => o.status === 'fulfilled')).toBe(true);
    const reopened = schedulerOn(kind.open(place));
    await reopened.start({ paused: true });
    expect(await reopened.getJobs()).toHaveLength(200);
  });

  const { listenHints } = kind;
  if (listenHints !== undefined) {
    it('folds wake-up hints: many changes, few hints, the last change announced', async () => {
      const place = kind.fresh();
      const hints = await listenHints(place);
      try {
        const writer = schedulerOn(kind.open(place, 60), { schedulerId: 'writer' });
        const runner = schedulerOn(kind.open(place, 60), { schedulerId: 'runner' });
        await writer.start({ paused: true });
        await runner.start();
        // Let the runner's first pass end, so it sleeps on its 60 s poll.
        await sleep(200);

        // A burst of adds is one batch, so one hint.
        let before = hints.count();
        const added = await burst(
          writer,
          Array.from({ length: 500 }, (_, i) => `quiet-${i}`),
        );
        expect(added.every((o) => o.status === 'fulfilled')).toBe(true);
        await sleep(100);
        expect(hints.count() - before).toBe(1);

        // Changes one after another: at most one hint per 20 ms window.
        before = hints.count();
        const changes = 150;
        const started = Date.now();
        for (let i = 0; i < changes - 2; i++) await writer.modifyJob('quiet-0', { args: ['quiet-0', i] });
        // The last change comes just after a change announced at once: late enough for the pass
        // that hint starts to be over, early enough to fall in the hint's window, so only the
        // hint at the window's end can announce it.
        await sleep(50);
        await writer.modifyJob('quiet-0', { args: ['quiet-0', -1] });
        await sleep(8);
        const tag = `${place}last`;
        await writer.addJob(record, 'date', {
          runDate: new Date(Date.now() + 50),
          id: 'last',
          args: [tag, 0],
        });
        const elapsed = Date.now() - started;
        // Only a hint sent after the last change wakes the runner before its poll.
        await waitFor(() => calls.includes(tag), 'the runner to run the last job', 5_000);
        await sleep(100);
        const sent = hints.count() - before;
        expect(sent).toBeGreaterThanOrEqual(1);
        expect(sent).toBeLessThanOrEqual(Math.floor(elapsed / 20) + 2);
        expect(sent).toBeLessThan(changes / 2);
      } finally {
        await hints.close();
      }
    });
  }
});
