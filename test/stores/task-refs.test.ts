/**
 * Stored task references are data: anyone who can write a row can name any module. On SQLite,
 * Postgres and Redis, rows injected behind the scheduler's back that name a Node.js builtin, a
 * data: URL, a bare builtin, or a file outside the application root are refused like a missing
 * task (job_error with TaskLookupError, the row kept, nothing run), while a file inside the root
 * still runs. The taskModules and taskRoot options widen or narrow what may be imported.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  BackgroundScheduler,
  IntervalTrigger,
  type JobStore,
  PostgresJobStore,
  RedisJobStore,
  registerTask,
  type SchedulerEventAny,
  type SchedulerOptions,
  SqliteJobStore,
  TaskLookupError,
} from '../../src/index.js';
import { type PostgresServer, startPostgres } from '../helpers/postgres-server.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait.js';

let dir: string;
let postgres: PostgresServer;
let redis: RedisServer;
let pgAdmin: pg.Pool;
let redisAdmin: Redis;
const schedulers: BackgroundScheduler[] = [];
let count = 0;

const marker = () => join(dir, 'pwned');
const pwned = () => (globalThis as { __tickworkPwned?: unknown }).__tickworkPwned;
const allowedRuns = () => ((globalThis as { __tickworkAllowedRuns?: string[] }).__tickworkAllowedRuns ??= []);

registerTask('refs:template', () => undefined);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tickwork-refs-'));
  // A module outside the application root that leaves a trace when imported or run.
  await writeFile(
    join(dir, 'evil.mjs'),
    `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(join(dir, 'pwned'))}, 'imported');\nexport function run() { writeFileSync(${JSON.stringify(join(dir, 'pwned'))}, 'ran'); }\n`,
  );
  [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
  pgAdmin = new pg.Pool({ connectionString: postgres.connectionString, max: 2 });
  redisAdmin = new Redis(redis.url, { maxRetriesPerRequest: 0 });
}, 60_000);

afterEach(async () => {
  for (const s of schedulers.splice(0)) if (s.running) await s.shutdown({ wait: false });
});

afterAll(async () => {
  redisAdmin?.disconnect();
  await pgAdmin?.end();
  await Promise.all([postgres?.destroy(), redis?.destroy()]);
  await rm(dir, { recursive: true, force: true });
});

/** The hostile references, by the id of the row that carries each. */
function hostileRefs(): Record<string, { task: string; args: unknown[] }> {
  const evil = join(dir, 'evil.mjs');
  return {
    builtin: { task: 'node:child_process#execSync', args: [`touch ${marker()}`] },
    bareBuiltin: { task: 'child_process#execSync', args: [`touch ${marker()}`] },
    dataUrl: {
      task: 'data:text/javascript,globalThis.__tickworkPwned=1;export function run(){globalThis.__tickworkPwned=2}#run',
      args: [],
    },
    httpUrl: { task: 'https://example.invalid/evil.mjs#run', args: [] },
    outsidePath: { task: `${evil}#run`, args: [] },
    outsideUrl: { task: `${pathToFileURL(evil).href}#run`, args: [] },
    escapingPath: { task: `./${relative(process.cwd(), evil)}#run`, args: [] },
  };
}

interface Kind {
  name: string;
  /** A fresh store, and a function that writes a raw row into it. */
  make(): {
    store: () => JobStore;
    inject: (id: string, nextRunTime: number, state: string) => Promise<void>;
  };
  /** The ids of the rows in the store, read directly. */
  ids(store: JobStore): Promise<string[]>;
}

const paths = new Map<JobStore, string>();
const tables = new Map<JobStore, string>();
const prefixes = new Map<JobStore, string>();

const kinds: Kind[] = [
  {
    name: 'SQLite',
    make() {
      const path = join(dir, `jobs-${++count}.db`);
      return {
        store: () => {
          const s = new SqliteJobStore({ path, pollInterval: 0.05 });
          paths.set(s, path);
          return s;
        },
        async inject(id, nextRunTime, state) {
          const db = new Database(path);
          db.prepare('INSERT INTO tickwork_jobs (id, next_run_time, state) VALUES (?, ?, ?)').run(
            id,
            nextRunTime,
            state,
          );
          db.close();
        },
      };
    },
    async ids(store) {
      const db = new Database(paths.get(store) as string, { readonly: true });
      try {
        const rows = db.prepare('SELECT id FROM tickwork_jobs ORDER BY id').all() as Array<{ id: string }>;
        return rows.map((r) => r.id);
      } finally {
        db.close();
      }
    },
  },
  {
    name: 'Postgres',
    make() {
      const tableName = `refs_${process.pid}_${++count}`;
      return {
        store: () => {
          const s = new PostgresJobStore({
            connectionString: postgres.connectionString,
            tableName,
            pollInterval: 0.05,
          });
          tables.set(s, tableName);
          return s;
        },
        async inject(id, nextRunTime, state) {
          await pgAdmin.query(`INSERT INTO "${tableName}" (id, next_run_time, state) VALUES ($1, $2, $3)`, [
            id,
            nextRunTime,
            state,
          ]);
        },
      };
    },
    async ids(store) {
      const result = await pgAdmin.query(`SELECT id FROM "${tables.get(store)}" ORDER BY id`);
      return result.rows.map((r: { id: string }) => r.id);
    },
  },
  {
    name: 'Redis',
    make() {
      const keyPrefix = `refs${process.pid}_${++count}:`;
      return {
        store: () => {
          const s = new RedisJobStore({ url: redis.url, keyPrefix, pollInterval: 0.05 });
          prefixes.set(s, keyPrefix);
          return s;
        },
        async inject(id, nextRunTime, state) {
          await redisAdmin.hset(`${keyPrefix}jobs`, id, state);
          await redisAdmin.zadd(`${keyPrefix}next`, nextRunTime, id);
        },
      };
    },
    async ids(store) {
      return (await redisAdmin.hkeys(`${prefixes.get(store)}jobs`)).sort();
    },
  },
];

function scheduler(store: JobStore, options: SchedulerOptions = {}): BackgroundScheduler {
  const s = new BackgroundScheduler({ timezone: 'UTC', jobstores: { default: store }, ...options });
  schedulers.push(s);
  return s;
}

describe.each(kinds)('stored task references on $name', (kind) => {
  it('never imports a builtin, a URL or a file outside the root from an injected row', async () => {
    const { store, inject } = kind.make();
    // Creates the schema, with one ordinary job in it.
    const setup = scheduler(store());
    await setup.start({ paused: true });
    await setup.addJob('refs:template', 'interval', { hours: 1, id: 'template' });
    await setup.shutdown();

    const base = {
      version: 1,
      name: 'injected',
      trigger: new IntervalTrigger({ hours: 1, timezone: 'UTC' }).toJSON(),
      executor: 'default',
      misfireGraceTime: null,
      coalesce: true,
      maxInstances: 1,
      timeout: null,
    };
    const due = Date.now() - 500;
    const hostile = hostileRefs();
    const allowedTag = `allowed-${kind.name}-${count}`;
    const rows: Record<string, { task: string; args: unknown[] }> = {
      ...hostile,
      inside: { task: './test/fixtures/tasks/allowed.ts#run', args: [allowedTag] },
    };
    for (const [id, { task, args }] of Object.entries(rows)) {
      await inject(id, due, JSON.stringify({ ...base, id, task, args }));
    }

    const jobstore = store();
    const s = scheduler(jobstore);
    const seen: SchedulerEventAny[] = [];
    s.addListener((e) => {
      seen.push(e);
    });
    await s.start();
    const errorIds = () =>
      seen.filter((e) => e.name === 'job_error').map((e) => (e as { jobId: string }).jobId);
    await waitFor(
      () => Object.keys(hostile).every((id) => errorIds().includes(id)) && allowedRuns().includes(allowedTag),
      'every hostile row reported and the allowed one run',
    );
    for (const id of Object.keys(hostile)) {
      const error = (
        seen.find((e) => e.name === 'job_error' && (e as { jobId: string }).jobId === id) as {
          error: unknown;
        }
      ).error;
      expect(error, id).toBeInstanceOf(TaskLookupError);
      expect(String(error), id).toMatch(/refused/);
      // Kept and shown to an operator as broken, without a function to run.
      const job = await s.getJob(id);
      expect(job?.broken, id).toMatch(/refused/);
      expect(job?.func, id).toBeUndefined();
    }
    expect(existsSync(marker())).toBe(false);
    expect(pwned()).toBeUndefined();
    const executed = seen.filter((e) => e.name === 'job_executed').map((e) => (e as { jobId: string }).jobId);
    expect(executed.filter((id) => id !== 'inside')).toEqual([]);
    // The rows are kept, untouched, for an operator to look at.
    expect(await kind.ids(jobstore)).toEqual([...Object.keys(rows), 'template'].sort());
  });
});
