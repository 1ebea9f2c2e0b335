/**
 * The store a CLI command works on: `--store` (or `TICKWORK_STORE`) as `sqlite:./jobs.db`,
 * `postgres://...` or `redis://...`, opened by a scheduler that never runs jobs (started
 * paused), so a program without the job functions can list and change them.
 */
import { BackgroundScheduler } from '../scheduler/background.js';
import type { JobStore } from '../stores/base.js';
import { PostgresJobStore } from '../stores/postgres/index.js';
import { RedisJobStore } from '../stores/redis/index.js';
import { SqliteJobStore } from '../stores/sqlite/index.js';

/** What names a store on the command line. */
export interface StoreArguments {
  store?: string;
  table?: string;
  prefix?: string;
}

/** A mistake in the store's address (a usage error). */
export class StoreUrlError extends Error {}

/** The store an address names (not started). */
export function storeFromUrl(args: StoreArguments): JobStore {
  const url = args.store ?? process.env.TICKWORK_STORE;
  if (url === undefined || url === '') {
    throw new StoreUrlError(
      'missing --store (or TICKWORK_STORE): sqlite:./jobs.db, postgres://user@host/db or redis://host:6379',
    );
  }
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') throw new StoreUrlError(`missing the file in ${JSON.stringify(url)}: sqlite:./jobs.db`);
    return new SqliteJobStore({ path });
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    return new PostgresJobStore({
      connectionString: url,
      ...(args.table === undefined ? {} : { tableName: args.table }),
    });
  }
  if (url.startsWith('redis://') || url.startsWith('rediss://')) {
    return new RedisJobStore({ url, ...(args.prefix === undefined ? {} : { keyPrefix: args.prefix }) });
  }
  throw new StoreUrlError(
    `unknown store ${JSON.stringify(url)}: expected sqlite:./jobs.db, postgres://... or redis://...`,
  );
}

/** Opens the store under a paused scheduler, runs `fn` with it, and closes it again. */
export async function withStore<T>(
  args: StoreArguments,
  fn: (scheduler: BackgroundScheduler) => Promise<T>,
): Promise<T> {
  const scheduler = await openStore(args);
  try {
    return await fn(scheduler);
  } finally {
    await scheduler.shutdown({ wait: false });
  }
}

/** The store under a started, paused scheduler (it never runs jobs). */
export async function openStore(args: StoreArguments): Promise<BackgroundScheduler> {
  const scheduler = new BackgroundScheduler({
    timezone: 'UTC',
    daemon: true,
    jobstores: { default: storeFromUrl(args) },
  });
  await scheduler.start({ paused: true });
  return scheduler;
}
