/**
 * SqliteJobStore: jobs in one SQLite file, the embedded store (no server). Several processes on
 * one machine may share the file.
 */

import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
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
import { SqliteBackend, type SqliteDriver } from './backend.js';

/** Options of `SqliteJobStore`. */
export interface SqliteJobStoreOptions extends PersistentStoreOptions {
  /** The database file (created if missing), relative to the working directory. */
  path: string;
  /** The jobs table; `<tableName>_runs` and `<tableName>_migrations` go beside it. Default `tickwork_jobs`. */
  tableName?: string;
}

/** Keeps jobs in a SQLite file through better-sqlite3 (an optional peer dependency). */
export class SqliteJobStore extends PersistentJobStore {
  readonly #path: string;
  readonly #tableName: string;

  constructor(options: SqliteJobStoreOptions) {
    const checked = checkStoreOptions<SqliteJobStoreOptions>(options, 'SqliteJobStore', [
      'path',
      'tableName',
    ]);
    super(checked);
    if (typeof checked.path !== 'string' || checked.path === '') {
      throw new TypeError(`Expected path to be a non-empty string, got ${describeValue(checked.path)}`);
    }
    this.#path = checked.path;
    this.#tableName = checkIdentifier(checked.tableName ?? 'tickwork_jobs', 'tableName');
  }

  protected async createBackend(_host: StoreHost): Promise<StoreBackend> {
    const Driver = await loadDriver<SqliteDriver>('better-sqlite3', 'SqliteJobStore');
    await checkFolder(this.#path);
    return new SqliteBackend(Driver, this.#path, this.#tableName);
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
