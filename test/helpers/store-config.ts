/**
 * Stores described by plain JSON, so a test can open the same store in another process.
 */
import { type JobStore, PostgresJobStore, RedisJobStore, SqliteJobStore } from '../../src/index.js';

/** The timing options every persistent store takes. */
interface Timing {
  leaseTime?: number;
  pollInterval?: number;
  claimAhead?: number;
}

/** One persistent store, by kind and where it lives. */
export type StoreConfig =
  | ({ kind: 'sqlite'; path: string } & Timing)
  | ({ kind: 'postgres'; connectionString: string; tableName?: string } & Timing)
  | ({ kind: 'redis'; url: string; keyPrefix?: string } & Timing);

/** Opens the store a config describes (not started). */
export function makeStore(config: StoreConfig): JobStore {
  const { kind, ...options } = config;
  switch (kind) {
    case 'sqlite':
      return new SqliteJobStore(options as Omit<Extract<StoreConfig, { kind: 'sqlite' }>, 'kind'>);
    case 'postgres':
      return new PostgresJobStore(options as Omit<Extract<StoreConfig, { kind: 'postgres' }>, 'kind'>);
    case 'redis':
      return new RedisJobStore(options as Omit<Extract<StoreConfig, { kind: 'redis' }>, 'kind'>);
  }
}
