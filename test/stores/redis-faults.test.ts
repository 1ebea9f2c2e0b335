/**
 * RedisJobStore against a hostile or careless server. An emptied server (FLUSHALL) is noticed at
 * the next heartbeat, said loudly and its schema recreated; a maxmemory-policy that may evict
 * keys is warned about at start; scripts the server refuses to load ahead are sent whole.
 * Connection failures say which failure and where: a wrong password, a refused connection, a
 * server that never answers (as an unreachable host), a host name that does not resolve; a
 * database index the server does not have is refused instead of silently using database 0.
 */
import { type AddressInfo, createServer } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BackgroundScheduler, RedisJobStore, registerTask } from '../../src/index.js';
import { freePort } from '../helpers/ports.js';
import { type RedisServer, startRedis } from '../helpers/redis-server.js';
import { fakeLogger } from '../helpers/scheduler.js';
import { waitFor } from '../helpers/wait.js';

let server: RedisServer;
let admin: Redis;

beforeAll(async () => {
  server = await startRedis();
  admin = new Redis(server.url, { maxRetriesPerRequest: 0 });
});

afterAll(async () => {
  admin?.disconnect();
  await server?.destroy();
});

/** What start() rejects with for a store on `url`. */
async function startError(url: string): Promise<Error> {
  const scheduler = new BackgroundScheduler({
    timezone: 'UTC',
    jobstores: { default: new RedisJobStore({ url }) },
  });
  const error = await scheduler.start().then(
    () => null,
    (e: unknown) => e as Error,
  );
  if (scheduler.running) await scheduler.shutdown({ wait: false });
  expect(error).toBeInstanceOf(Error);
  return error as Error;
}

it('a wrong password says authentication failed, with the address and no password', async () => {
  await admin.call('CONFIG', 'SET', 'requirepass', 'right-secret');
  try {
    const url = server.url.replace('redis://', 'redis://default:wrong-secret@');
    const error = await startError(url);
    expect(error.message).toMatch(/cannot connect to redis:\/\/default:\*\*\*@127\.0\.0\.1:\d+/);
    expect(error.message).toMatch(/authentication failed/);
    expect(error.message).not.toContain('wrong-secret');
  } finally {
    await admin.call('AUTH', 'right-secret');
    await admin.call('CONFIG', 'SET', 'requirepass', '');
  }
});

it('a refused connection says so, with the address', async () => {
  const port = await freePort();
  const error = await startError(`redis://127.0.0.1:${port}`);
  expect(error.message).toContain(`cannot connect to redis://127.0.0.1:${port}`);
  expect(error.message).toMatch(/connection refused/);
});

it('a host name that does not resolve says so', async () => {
  const error = await startError('redis://no-such-host.invalid:6379');
  expect(error.message).toContain('cannot connect to redis://no-such-host.invalid:6379');
  expect(error.message).toMatch(/host name not found/);
});

it('a server that accepts connections and never answers says so', async () => {
  const silent = createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as AddressInfo;
  try {
    const error = await startError(`redis://127.0.0.1:${port}`);
    expect(error.message).toContain(`cannot connect to redis://127.0.0.1:${port}`);
    expect(error.message).toMatch(/no answer .*unreachable/);
  } finally {
    silent.close();
  }
}, 30_000);

it('refuses a database index out of range instead of using database 0', async () => {
  const error = await startError(`${server.url}/99`);
  expect(error.message).toMatch(/cannot use database 99 of redis:\/\/127\.0\.0\.1:\d+\/99: .*out of range/i);
  expect(await admin.dbsize()).toBe(0);
});

it('refuses a URL whose path is not a database index, naming the value', () => {
  expect(() => new RedisJobStore({ url: 'redis://127.0.0.1:6379/jobs' })).toThrow(
    /url .*database index.*got "redis:\/\/127\.0\.0\.1:6379\/jobs"/,
  );
});

registerTask('redis-faults:noop', () => undefined);

it('notices an emptied server at the next heartbeat, says so loudly and recreates the schema', async () => {
  const logger = fakeLogger();
  const keyPrefix = 'flushed:';
  const scheduler = new BackgroundScheduler({
    timezone: 'UTC',
    logger,
    jobstores: { default: new RedisJobStore({ url: server.url, keyPrefix, leaseTime: 0.3 }) },
  });
  try {
    await scheduler.start();
    await scheduler.addJob('redis-faults:noop', 'interval', { hours: 1, id: 'lost' });
    const versionKeys = await admin.keys(`${keyPrefix}*version*`);
    expect(versionKeys).toHaveLength(1);
    await admin.flushall();
    await waitFor(
      () =>
        logger.errors.some((args) =>
          /is gone: the store was emptied.*every job in it is lost/.test(String(args[args.length - 1])),
        ),
      'the emptied store reported',
    );
    // The schema is recreated right after the error is logged: waited for, not raced.
    await waitFor(async () => (await admin.exists(versionKeys[0] as string)) === 1, 'the schema recreated');
    // The store works again.
    await scheduler.addJob('redis-faults:noop', 'interval', { hours: 1, id: 'new' });
    expect((await scheduler.getJobs()).map((j) => j.id)).toEqual(['new']);
  } finally {
    if (scheduler.running) await scheduler.shutdown({ wait: false });
  }
});

it("warns at start when maxmemory-policy may evict the store's keys", async () => {
  const logger = fakeLogger();
  await admin.call('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
  const scheduler = new BackgroundScheduler({
    timezone: 'UTC',
    logger,
    jobstores: { default: new RedisJobStore({ url: server.url, keyPrefix: 'evict:' }) },
  });
  try {
    await scheduler.start({ paused: true });
    expect(logger.warnings.map((args) => String(args[args.length - 1]))).toContainEqual(
      expect.stringMatching(/maxmemory-policy is "allkeys-lru", not "noeviction"/),
    );
  } finally {
    await admin.call('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
    if (scheduler.running) await scheduler.shutdown({ wait: false });
  }
  const quiet = fakeLogger();
  const again = new BackgroundScheduler({
    timezone: 'UTC',
    logger: quiet,
    jobstores: { default: new RedisJobStore({ url: server.url, keyPrefix: 'evict:' }) },
  });
  await again.start({ paused: true });
  await again.shutdown();
  expect(
    quiet.warnings.map((args) => String(args[args.length - 1])).filter((w) => /maxmemory/.test(w)),
  ).toEqual([]);
});

/** The calls of `command` the server counted since its last CONFIG RESETSTAT, and those it refused. */
async function commandStats(command: string): Promise<{ calls: number; rejected: number }> {
  const stats = String(await admin.call('INFO', 'commandstats'));
  const line = new RegExp(`^cmdstat_${command.replace('|', '\\|')}:(.*)$`, 'm').exec(stats)?.[1] ?? '';
  const field = (name: string) => Number(new RegExp(`(?:^|,)${name}=(\\d+)`).exec(line)?.[1] ?? 0);
  return { calls: field('calls'), rejected: field('rejected_calls') };
}

/** Starts a scheduler on a store with `options`, runs one job due now, and shuts it down. */
async function runOneJob(options: ConstructorParameters<typeof RedisJobStore>[0], logger = fakeLogger()) {
  registerTask('scripts-probe', () => 'ran');
  const scheduler = new BackgroundScheduler({
    timezone: 'UTC',
    logger,
    jobstores: { default: new RedisJobStore(options) },
  });
  const executed = new Promise<unknown>((resolve) => scheduler.on('job_executed', (e) => resolve(e.retval)));
  try {
    await scheduler.start();
    await scheduler.addJob('scripts-probe', 'date', { runDate: new Date(), id: 'probe' });
    expect(await executed).toBe('ran');
  } finally {
    if (scheduler.running) await scheduler.shutdown();
  }
}

it('loads its scripts at start: a fresh store and its first fire send no script source', async () => {
  await admin.call('SCRIPT', 'FLUSH');
  await admin.call('CONFIG', 'RESETSTAT');
  await runOneJob({ url: server.url, keyPrefix: 'preload:' });
  expect((await commandStats('eval')).calls).toBe(0);
  expect((await commandStats('evalsha')).calls).toBeGreaterThan(0);
  expect((await commandStats('script|load')).calls).toBeGreaterThan(0);
});

it('runs jobs when the server refuses SCRIPT LOAD, sending the scripts whole, and says so at debug level', async () => {
  await admin.call('SCRIPT', 'FLUSH');
  await admin.call('ACL', 'SETUSER', 'noload', 'on', '>noload-secret', '~*', '&*', '+@all', '-script|load');
  const logger = fakeLogger();
  try {
    await admin.call('CONFIG', 'RESETSTAT');
    const url = server.url.replace('redis://', 'redis://noload:noload-secret@');
    await runOneJob({ url, keyPrefix: 'noload:' }, logger);
    // Asked for and refused by the ACL, then each script was sent whole.
    const load = await commandStats('script|load');
    expect(load.calls).toBe(0);
    expect(load.rejected).toBeGreaterThan(0);
    expect((await commandStats('eval')).calls).toBeGreaterThan(0);
    expect(logger.debugs.map((args) => String(args[args.length - 1]))).toContainEqual(
      expect.stringMatching(/cannot load the scripts ahead/),
    );
    expect(logger.errors).toEqual([]);
  } finally {
    await admin.call('ACL', 'DELUSER', 'noload');
  }
});
