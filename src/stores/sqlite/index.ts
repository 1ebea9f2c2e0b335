/**
 * SqliteJobStore: jobs in one SQLite file, the embedded store (no server). Several processes on
 * one machine may share the file.
 */

import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { describeValue } from '../../describe.js';
import type { StoreBackend } from '../backend.js';
import type { StoreHost } from '../base.js';
import {
  checkIdentifier,
  checkStoreOptions,
  PersistentJobStore,
  type PersistentStoreOptions,
} from '../persistent.js';
import { SqliteBackend } from './backend.js';
import { checkDriverOption, loadSqliteDriver, type SqliteDriverName } from './drivers.js';

export type { SqliteDriverName } from './drivers.js';

/** Options of `SqliteJobStore`. */
export interface SqliteJobStoreOptions extends PersistentStoreOptions {
  /** The database file (created if missing), relative to the working directory. */
  path: string;
  /**
   * The jobs table; `<tableName>_runs` (run claims), `<tableName>_history` (run history),
   * `<tableName>_retries` (waiting retries) and `<tableName>_migrations` go beside it. Default
   * `tickwork_jobs`.
   */
  tableName?: string;
  /**
   * The SQLite driver. Default: `bun:sqlite` on Bun, `node:sqlite` on Deno; on Node
   * better-sqlite3 when it is installed, else `node:sqlite` (Node 22.13+, nothing to install).
   */
  driver?: SqliteDriverName;
}

/** Keeps jobs in a SQLite file, through better-sqlite3, `node:sqlite` or `bun:sqlite`. */
export class SqliteJobStore extends PersistentJobStore {
  readonly #path: string;
  readonly #tableName: string;
  readonly #driver: SqliteDriverName | undefined;
  #driverInUse: SqliteDriverName | null = null;

  constructor(options: SqliteJobStoreOptions) {
    const checked = checkStoreOptions<SqliteJobStoreOptions>(options, 'SqliteJobStore', [
      'path',
      'tableName',
      'driver',
    ]);
    super(checked);
    if (typeof checked.path !== 'string' || checked.path === '') {
      throw new TypeError(`Expected path to be a non-empty string, got ${describeValue(checked.path)}`);
    }
    this.#path = checked.path;
    this.#tableName = checkIdentifier(checked.tableName ?? 'tickwork_jobs', 'tableName');
    this.#driver = checkDriverOption(checked.driver);
  }

  /** The driver this store opened its file with (once started), else `null`. */
  get driver(): SqliteDriverName | null {
    return this.#driverInUse;
  }

  protected async createBackend(_host: StoreHost): Promise<StoreBackend> {
    const driver = await loadSqliteDriver(this.#driver);
    this.#driverInUse = driver.name;
    await checkFolder(this.#path);
    return new SqliteBackend(driver.open, this.#path, this.#tableName);
  }
}

/** The driver only says "the directory does not exist": name the file and the folder. */
async function checkFolder(path: string): Promise<void> {
  if (path === ':memory:' || path.startsWith('file:')) return;
  const folder = dirname(resolve(path));
  const found = await stat(folder).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!found) {
    throw new TypeError(
      `SqliteJobStore cannot create ${JSON.stringify(path)}: its folder ${JSON.stringify(folder)} does not exist (create it first)`,
    );
  }
}
