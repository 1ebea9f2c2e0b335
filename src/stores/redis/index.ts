/**
 * RedisJobStore: jobs kept in Redis through ioredis, shared safely by several schedulers. The
 * key layout and the scripts are in `scripts.ts`; the store logic common to every database is
 * in `PersistentJobStore`.
 */
import { randomBytes } from 'node:crypto';
import type { Redis, RedisOptions } from 'ioredis';
import { describeValue } from '../../describe.js';
import type { StoreBackend } from '../backend.js';
import type { StoreHost } from '../base.js';
import { loadDriver } from '../driver.js';
import {
  checkIdentifier,
  checkStoreOptions,
  PersistentJobStore,
  type PersistentStoreOptions,
} from '../persistent.js';
import { RedisBackend, type RedisClientLike } from './backend.js';

export type { RedisClientLike, RedisSubscriberLike } from './backend.js';

/** Where a RedisJobStore connects: a server URL (the store makes and closes its client) or a client. */
export type RedisConnectionOptions =
  | {
      /** `redis://[user:password@]host[:port][/db]` or `rediss://…`. */
      url: string;
      client?: undefined;
    }
  | {
      /** An ioredis client (v5 or later); the store uses it and leaves it open at shutdown. */
      client: RedisClientLike;
      url?: undefined;
    };

/** Options of RedisJobStore. */
export type RedisJobStoreOptions = RedisConnectionOptions &
  PersistentStoreOptions & {
    /**
     * Prefix of every key and of the wake-up channel (default `tickwork:`): letters, digits and
     * `_ : . - { }`. Stores with different prefixes share nothing; in a Redis Cluster, put a hash
     * tag in it (`{tickwork}:`) so all the store's keys live in one slot, as its scripts need.
     */
    keyPrefix?: string;
  };

const KEY_PREFIX = /^[A-Za-z0-9_:.{}-]{1,100}$/;
const STORE = 'RedisJobStore';

// A command that gets no reply in this time fails, so a stalled server cannot stall the scheduler.
const COMMAND_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 5_000;

type RedisConstructor = new (url: string, options: RedisOptions) => Redis;

/** The URL with its password hidden, for messages. */
function redact(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/]*)@/i, (_m, scheme: string, auth: string) => {
    const colon = auth.indexOf(':');
    return `${scheme}${colon < 0 ? auth : `${auth.slice(0, colon)}:***`}@`;
  });
}

function checkUrl(value: unknown): string {
  let ok = false;
  if (typeof value === 'string') {
    try {
      const { protocol, pathname } = new URL(value);
      ok = (protocol === 'redis:' || protocol === 'rediss:') && /^\/?(\d{1,5})?$/.test(pathname);
    } catch {
      ok = false;
    }
  }
  if (!ok) {
    const shown = typeof value === 'string' ? describeValue(redact(value)) : describeValue(value);
    throw new TypeError(
      `Expected ${STORE} url to be a redis:// or rediss:// URL (with a numeric database index, if any), got ${shown}`,
    );
  }
  return value as string;
}

function checkClient(value: unknown): RedisClientLike {
  const client = value as Partial<RedisClientLike> | null;
  if (
    typeof client !== 'object' ||
    client === null ||
    typeof client.call !== 'function' ||
    typeof client.duplicate !== 'function'
  ) {
    throw new TypeError(
      `Expected ${STORE} client to be an ioredis client (with call and duplicate), got ${describeValue(value)}`,
    );
  }
  return client as RedisClientLike;
}

/** What a connection error means, in words: which of refused, unreachable, bad credentials. */
function connectionProblem(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : String(error);
  if (code === 'ECONNREFUSED') return 'connection refused (no Redis server listens on that host and port)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host name not found';
  if (code === 'ETIMEDOUT' || /ETIMEDOUT|timed? ?out/i.test(message)) {
    return `no answer (${message}): the host is unreachable, a firewall drops the packets, or it is not a Redis server`;
  }
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return `host unreachable (${code})`;
  if (/WRONGPASS|NOAUTH|invalid password|invalid username-password/i.test(message)) {
    return `authentication failed (wrong user name or password): ${message}`;
  }
  return message;
}

/** The database index in a redis:// URL's path (0 when there is none). */
function databaseOf(url: string): number {
  const path = new URL(url).pathname.replace(/^\//, '');
  return path === '' ? 0 : Number(path);
}

/** A job store on a Redis server, through the optional `ioredis` package. */
export class RedisJobStore extends PersistentJobStore {
  readonly #url: string | null;
  readonly #client: RedisClientLike | null;
  readonly #keyPrefix: string;
  // Marks this instance's own wake-up messages, which it ignores.
  readonly #instanceToken = randomBytes(12).toString('hex');

  constructor(options: RedisJobStoreOptions) {
    const checked = checkStoreOptions<RedisJobStoreOptions>(options, STORE, ['url', 'client', 'keyPrefix']);
    super(checked);
    const { url, client } = checked;
    if (url !== undefined && client !== undefined) {
      throw new TypeError(`${STORE} takes a url or a client, not both`);
    }
    if (url === undefined && client === undefined) {
      throw new TypeError(`${STORE} needs a url or a client, got neither`);
    }
    this.#url = url === undefined ? null : checkUrl(url);
    this.#client = client === undefined ? null : checkClient(client);
    this.#keyPrefix =
      checked.keyPrefix === undefined
        ? 'tickwork:'
        : checkIdentifier(checked.keyPrefix, 'keyPrefix', KEY_PREFIX);
  }

  /** Makes the backend, and the client when the store was given a URL. */
  protected async createBackend(host: StoreHost): Promise<StoreBackend> {
    const common = { keyPrefix: this.#keyPrefix, instanceToken: this.#instanceToken, logger: host.logger };
    if (this.#client !== null) return new RedisBackend({ ...common, client: this.#client, owned: null });
    const url = this.#url as string;
    const Redis = await loadDriver<RedisConstructor>('ioredis', STORE);
    const client = new Redis(url, {
      lazyConnect: true,
      commandTimeout: COMMAND_TIMEOUT_MS,
      connectTimeout: CONNECT_TIMEOUT_MS,
      // While the server is away, calls fail at once (the scheduler retries the store later)
      // instead of waiting in a queue, and calls under way when it went are not sent twice.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (times) => Math.min(times * 200, 2_000),
    });
    // Every reconnect attempt emits 'error' (unhandled, it would end the process): warn once
    // per outage, the rest at debug level.
    let warned = false;
    client.on('error', (error: Error) => {
      if (warned) {
        host.logger.debug(
          { err: error, url: redact(url) },
          `${STORE}: connection to ${redact(url)} failed again`,
        );
        return;
      }
      warned = true;
      host.logger.warn(
        { err: error, url: redact(url) },
        `${STORE}: connection to ${redact(url)} failed; reconnecting`,
      );
    });
    client.on('ready', () => {
      if (warned) host.logger.info({ url: redact(url) }, `${STORE}: connected to ${redact(url)} again`);
      warned = false;
    });
    // ioredis rejects a failed connect with "Connection is closed.": say why, with the address.
    let firstError: unknown = null;
    const remember = (error: unknown) => {
      firstError ??= error;
    };
    const owned = {
      call: client.call.bind(client),
      duplicate: client.duplicate.bind(client),
      quit: () => client.quit(),
      disconnect: () => client.disconnect(),
      connect: async () => {
        client.on('error', remember);
        try {
          await client.connect();
        } catch (error) {
          throw new Error(
            `${STORE}: cannot connect to ${redact(url)}: ${connectionProblem(firstError ?? error)}`,
            {
              cause: firstError ?? error,
            },
          );
        } finally {
          client.off('error', remember);
        }
        // ioredis goes on in database 0 when SELECT fails: ask again, and refuse.
        const db = databaseOf(url);
        if (db !== 0) {
          try {
            await client.call('SELECT', db);
          } catch (error) {
            throw new Error(
              `${STORE}: cannot use database ${db} of ${redact(url)}: ${(error as Error).message}`,
              { cause: error },
            );
          }
        }
      },
    };
    return new RedisBackend({ ...common, client, owned });
  }
}
