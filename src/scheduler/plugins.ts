/**
 * The scheduler's job stores and executors by alias, and the lock of each store's jobs. The
 * scheduler's `addJobstore`, `removeJobstore`, `addExecutor` and `removeExecutor` come here and
 * emit their events from the callback each method takes, in the same turn as the change.
 */
import { describeValue } from '../describe.js';
import type { Executor, ExecutorHost } from '../executors/base.js';
import { PromisePoolExecutor } from '../executors/promise-pool.js';
import type { JobStore, StoreHost } from '../stores/base.js';
import { MemoryJobStore } from '../stores/memory.js';
import { Mutex } from './mutex.js';
import { checkAlias, checkPlugin, type SchedulerOptions } from './options.js';

/** One scheduler's stores and executors. */
export class Plugins {
  readonly stores = new Map<string, JobStore>();
  readonly executors = new Map<string, Executor>();
  readonly #mutexes = new Map<string, Mutex>();
  readonly #host: StoreHost & ExecutorHost;
  readonly #running: () => boolean;

  /** `host` is what stores and executors start with; `running` whether the scheduler runs. */
  constructor(host: StoreHost & ExecutorHost, running: () => boolean) {
    this.#host = host;
    this.#running = running;
  }

  /**
   * `configure`'s part: checks the stores and executors given, then keeps them; with none given
   * and none kept yet, a `MemoryJobStore` and a `PromisePoolExecutor` are the defaults. Nothing
   * changes if a check fails.
   */
  configure(options: SchedulerOptions): void {
    const stores =
      options.jobstores ?? (this.stores.size === 0 ? { default: new MemoryJobStore() } : undefined);
    const executors =
      options.executors ??
      (this.executors.size === 0 ? { default: new PromisePoolExecutor({ maxWorkers: 10 }) } : undefined);
    for (const [kind, plugins] of [
      ['jobstore', stores],
      ['executor', executors],
    ] as const) {
      if (plugins === undefined) continue;
      if (typeof plugins !== 'object' || plugins === null) {
        throw new TypeError(
          `Expected ${kind}s to be an object of alias to ${kind}, got ${describeValue(plugins)}`,
        );
      }
      for (const [alias, plugin] of Object.entries(plugins)) checkPlugin(plugin, kind, alias);
    }
    if (stores !== undefined) {
      for (const [alias, store] of Object.entries(stores)) this.stores.set(alias, store);
      if (!this.stores.has('default')) this.stores.set('default', new MemoryJobStore());
    }
    if (executors !== undefined) {
      for (const [alias, executor] of Object.entries(executors)) this.executors.set(alias, executor);
      if (!this.executors.has('default'))
        this.executors.set('default', new PromisePoolExecutor({ maxWorkers: 10 }));
    }
  }

  /** Adds a store (started first if the scheduler runs); `added` runs once it is in. */
  async addStore(store: JobStore, alias: string, added: () => void): Promise<void> {
    checkAlias(alias, 'alias');
    checkPlugin(store, 'jobstore', alias);
    if (this.stores.has(alias) && !(alias === 'default' && this.#isUntouchedDefaultStore())) {
      throw new TypeError(`This scheduler already has a job store by the alias of ${JSON.stringify(alias)}`);
    }
    if (this.#running()) await store.start(this.#host, alias);
    this.stores.set(alias, store);
    added();
  }

  #isUntouchedDefaultStore(): boolean {
    const store = this.stores.get('default');
    return store instanceof MemoryJobStore && store.size === 0 && !this.#running();
  }

  /** Removes a store (shut down if asked and the scheduler runs); `removed` runs after. */
  async removeStore(
    alias: string,
    shutdown: boolean,
    removed: () => void,
    taken: (store: JobStore) => Promise<void> = async () => {},
    started = this.#running(),
  ): Promise<void> {
    const store = this.lookupStore(alias);
    // `started`: whether the scheduler ran when the removal began. One shut down since may not
    // have seen this store, which is then shut down here (a second shutdown is harmless).
    this.stores.delete(alias);
    try {
      // Out of the scheduler, before it shuts down: what is on its way to it gets there.
      await taken(store);
    } finally {
      if (shutdown && started) await store.shutdown();
      removed();
    }
  }

  /** Adds an executor (started first if the scheduler runs); `added` runs once it is in. */
  async addExecutor(executor: Executor, alias: string, added: () => void): Promise<void> {
    checkAlias(alias, 'alias');
    checkPlugin(executor, 'executor', alias);
    if (this.executors.has(alias) && !(alias === 'default' && !this.#running())) {
      throw new TypeError(`This scheduler already has an executor by the alias of ${JSON.stringify(alias)}`);
    }
    if (this.#running()) await executor.start(this.#host, alias);
    this.executors.set(alias, executor);
    added();
  }

  /**
   * Removes an executor (shut down if asked and the scheduler runs, waiting for its running
   * jobs); `removed` runs after.
   */
  async removeExecutor(alias: string, shutdown: boolean, removed: () => void): Promise<void> {
    const executor = this.executors.get(alias);
    if (executor === undefined) {
      throw new TypeError(
        `No executor by the alias of ${JSON.stringify(alias)} (have ${[...this.executors.keys()].join(', ')})`,
      );
    }
    this.executors.delete(alias);
    if (shutdown && this.#running()) await executor.shutdown(true);
    removed();
  }

  /** The lock of one store's jobs (passes and job API calls take turns on it). */
  mutexFor(alias: string): Mutex {
    let mutex = this.#mutexes.get(alias);
    if (mutex === undefined) {
      mutex = new Mutex();
      this.#mutexes.set(alias, mutex);
    }
    return mutex;
  }

  /** The store by this alias; a `TypeError` naming the aliases there are if none. */
  lookupStore(alias: unknown): JobStore {
    const store = typeof alias === 'string' ? this.stores.get(alias) : undefined;
    if (store === undefined) {
      throw new TypeError(
        `Expected jobstore to be one of ${[...this.stores.keys()].map((a) => JSON.stringify(a)).join(', ')}, got ${describeValue(alias)}`,
      );
    }
    return store;
  }

  /** Throws a `TypeError` naming the aliases there are unless there is an executor by this one. */
  checkExecutor(alias: string): void {
    if (!this.executors.has(alias)) {
      throw new TypeError(
        `Expected executor to be one of ${[...this.executors.keys()].map((a) => JSON.stringify(a)).join(', ')}, got ${describeValue(alias)}`,
      );
    }
  }
}
