/**
 * PostgresJobStore: jobs in a PostgreSQL table, shared safely by several scheduler processes.
 * The `pg` package is an optional peer dependency, loaded only when a store makes its own pool.
 */
import { describeValue } from '../../describe.js';
import { SerializationError } from '../../errors.js';
import type { Job } from '../../job.js';
import type { StoreBackend } from '../backend.js';
import type { StoreHost } from '../base.js';
import { loadDriver } from '../driver.js';
import {
  checkIdentifier,
  checkStoreOptions,
  PersistentJobStore,
  type PersistentStoreOptions,
} from '../persistent.js';
import { type OwnedPostgresPool, PostgresBackend, type PostgresPool } from './backend.js';
import { TABLE_NAME_PATTERN, tableNames } from './migrations.js';

export type {
  PostgresNotification,
  PostgresPool,
  PostgresPoolClient,
  PostgresQueryable,
  PostgresQueryResult,
} from './backend.js';

/** Where PostgresJobStore keeps its jobs. */
interface PostgresTableOptions extends PersistentStoreOptions {
  /**
   * The jobs table (default `tickwork_jobs`); `<tableName>_runs` (run claims),
   * `<tableName>_history` (run history), `<tableName>_retries` (waiting retries) and
   * `<tableName>_migrations` sit next to it. Letters, digits and `_`, at most 47 characters.
   */
  tableName?: string;
}

/** Options of PostgresJobStore: a connection string, or a pool of your own. */
export type PostgresJobStoreOptions = PostgresTableOptions &
  (
    | {
        /** A libpq-style URL, `postgres://user:password@host:5432/database`: the store makes its own pool. */
        connectionString: string;
        pool?: undefined;
      }
    | {
        /**
         * A `pg.Pool` (or anything with its `query` and `connect`). The store takes one connection
         * of it for wake-up hints and never ends it; give it the 'error' listener `pg` asks for.
         */
        pool: PostgresPool;
        connectionString?: undefined;
      }
  );

interface PgDriver {
  Pool: new (
    config: Record<string, unknown>,
  ) => OwnedPostgresPool & {
    on(event: 'error', listener: (error: Error) => void): unknown;
  };
}

// A dead server must make calls fail, not hang: the scheduler then retries the store later.
const CONNECT_TIMEOUT_MS = 10_000;
const QUERY_TIMEOUT_MS = 10_000;
// One connection listens for wake-up hints; the scheduler's calls rarely overlap much.
const POOL_SIZE = 5;

// Surrogates are well-formed only in pairs: a lone one cannot be encoded as UTF-8.
const LONE_SURROGATE = /\p{Cs}/u;

/** A job store on PostgreSQL, shared safely by several scheduler processes. */
export class PostgresJobStore extends PersistentJobStore {
  readonly #connectionString: string | null;
  readonly #pool: PostgresPool | null;
  /** The jobs table. */
  readonly tableName: string;

  constructor(options: PostgresJobStoreOptions) {
    const o = checkStoreOptions<PostgresJobStoreOptions>(options, 'PostgresJobStore', [
      'connectionString',
      'pool',
      'tableName',
    ]);
    super(o);
    this.tableName = checkIdentifier(o.tableName ?? 'tickwork_jobs', 'tableName', TABLE_NAME_PATTERN);
    const { connectionString, pool } = o;
    if (connectionString !== undefined && pool !== undefined) {
      throw new TypeError('Expected PostgresJobStore options to have connectionString or pool, not both');
    }
    if (pool !== undefined) {
      const p = pool as Partial<Record<'query' | 'connect', unknown>> | null;
      if (
        typeof p !== 'object' ||
        p === null ||
        typeof p.query !== 'function' ||
        typeof p.connect !== 'function'
      ) {
        throw new TypeError(
          `Expected pool to be a pg.Pool (an object with query and connect methods), got ${describeValue(pool)}`,
        );
      }
      this.#pool = pool;
      this.#connectionString = null;
    } else {
      if (typeof connectionString !== 'string' || connectionString.trim() === '') {
        throw new TypeError(
          `Expected connectionString to be a non-empty string (or pool to be a pg.Pool), got ${describeValue(connectionString)}`,
        );
      }
      this.#connectionString = connectionString;
      this.#pool = null;
    }
  }

  /** Makes the backend, on the user's pool or on a pool of its own. */
  protected async createBackend(host: StoreHost): Promise<StoreBackend> {
    const names = tableNames(this.tableName);
    const logger = host.logger;
    if (this.#pool !== null) return new PostgresBackend({ pool: this.#pool, ownedPool: null, names, logger });
    const pg = await loadDriver<PgDriver>('pg', 'PostgresJobStore');
    const pool = new pg.Pool({
      connectionString: this.#connectionString,
      max: POOL_SIZE,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: QUERY_TIMEOUT_MS,
      statement_timeout: QUERY_TIMEOUT_MS,
      keepAlive: true,
      // Idle connections do not keep the process alive: the scheduler's own timers decide that.
      allowExitOnIdle: true,
      application_name: 'tickwork',
    });
    // Idle connections emit 'error' when the server goes away; unhandled, that would crash the
    // process. The calls that fail meanwhile reject, and the scheduler retries the store.
    pool.on('error', (error) => logger.debug({ err: error }, 'PostgresJobStore: an idle connection failed'));
    return new PostgresBackend({ pool, ownedPool: pool, names, logger });
  }

  /** Also checks that the id can be stored: Postgres text holds neither NUL nor lone surrogates. */
  override async validateJob(job: Job): Promise<void> {
    await super.validateJob(job);
    if (job.id.includes('\0')) {
      throw new SerializationError(
        'id',
        `PostgreSQL text cannot hold the NUL character: ${JSON.stringify(job.id)}`,
      );
    }
    if (LONE_SURROGATE.test(job.id)) {
      throw new SerializationError(
        'id',
        `it has a lone UTF-16 surrogate, which is not text: ${JSON.stringify(job.id)}`,
      );
    }
  }
}
