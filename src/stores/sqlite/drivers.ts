/**
 * The three SQLite drivers a SqliteJobStore can run on, each behind the better-sqlite3-shaped
 * `SqliteDatabase` the backend uses: better-sqlite3 (a native addon, Node), `node:sqlite` (built
 * into Node 22.13+ and Deno 2.2+) and `bun:sqlite` (built into Bun). By default: `bun:sqlite` on
 * Bun, `node:sqlite` on Deno, else better-sqlite3 when it is installed, else `node:sqlite` when
 * the runtime has it.
 */
import { describeValue } from '../../describe.js';
import { DriverMissingError } from '../../errors.js';
import { loadDriver } from '../driver.js';
import {
  BUSY_TIMEOUT_MS,
  type SqliteDatabase,
  type SqliteStatement,
  type SqliteTransaction,
} from './backend.js';

/** A SQLite driver by name. */
export type SqliteDriverName = 'better-sqlite3' | 'node:sqlite' | 'bun:sqlite';

const DRIVERS: readonly SqliteDriverName[] = ['better-sqlite3', 'node:sqlite', 'bun:sqlite'];

/** Opens a database file (created if missing). */
export type SqliteOpener = (path: string) => SqliteDatabase;

/** Validates the `driver` option. */
export function checkDriverOption(value: unknown): SqliteDriverName | undefined {
  if (value === undefined || DRIVERS.includes(value as SqliteDriverName)) {
    return value as SqliteDriverName | undefined;
  }
  throw new TypeError(
    `Expected driver to be one of ${DRIVERS.map((d) => JSON.stringify(d)).join(', ')}, got ${describeValue(value)}`,
  );
}

const isBun = (): boolean => typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined';
const isDeno = (): boolean => typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';

/** Whether a module can be loaded here (not whether it works). */
async function importable(name: string): Promise<unknown | null> {
  try {
    return await import(name);
  } catch {
    return null;
  }
}

/** The driver `name`, or the default one for this runtime; rejects naming what to install. */
export async function loadSqliteDriver(
  name: SqliteDriverName | undefined,
): Promise<{ name: SqliteDriverName; open: SqliteOpener }> {
  if (name === 'bun:sqlite' || (name === undefined && isBun())) {
    const module = (await importable('bun:sqlite')) as { Database: BunDatabaseClass } | null;
    if (module === null)
      throw new DriverMissingError('SqliteJobStore', 'bun:sqlite', { reason: 'runs only on Bun' });
    return {
      name: 'bun:sqlite',
      open: (path) => wrapBun(new module.Database(path, { create: true, strict: true })),
    };
  }
  if (name === 'node:sqlite' || name === undefined) {
    // Deno has node:sqlite built in and loads native addons only with extra permissions.
    const better = name === undefined && !isDeno() ? await importable('better-sqlite3') : null;
    if (better === null) {
      const module = (await importable('node:sqlite')) as { DatabaseSync: NodeDatabaseClass } | null;
      if (module !== null) {
        return { name: 'node:sqlite', open: (path) => wrapNode(new module.DatabaseSync(path)) };
      }
      if (name === 'node:sqlite') {
        throw new DriverMissingError('SqliteJobStore', 'node:sqlite', {
          reason: `needs Node 22.13 or later (this is ${process.version})`,
        });
      }
    }
  }
  type BetterSqlite3 = new (path: string, options?: { timeout?: number }) => SqliteDatabase;
  const Database = await loadDriver<BetterSqlite3>('better-sqlite3', 'SqliteJobStore');
  return { name: 'better-sqlite3', open: (path) => new Database(path, { timeout: BUSY_TIMEOUT_MS }) };
}

/** BEGIN/COMMIT around `fn`, for drivers without better-sqlite3's `transaction()`. */
function transactionOf(exec: (sql: string) => void) {
  return <A extends unknown[], R>(fn: (...args: A) => R): SqliteTransaction<A, R> => {
    const inMode =
      (mode: string) =>
      (...args: A): R => {
        exec(`BEGIN ${mode}`);
        let result: R;
        try {
          result = fn(...args);
        } catch (error) {
          try {
            exec('ROLLBACK');
          } catch {
            // SQLite rolled back already (some errors end the transaction themselves).
          }
          throw error;
        }
        exec('COMMIT');
        return result;
      };
    return Object.assign(inMode('DEFERRED'), { immediate: inMode('IMMEDIATE') });
  };
}

// ---- node:sqlite ----

interface NodeStatement {
  run(...params: unknown[]): { changes: number | bigint };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}
interface NodeDatabase {
  prepare(sql: string): NodeStatement;
  exec(sql: string): void;
  close(): void;
}
type NodeDatabaseClass = new (path: string) => NodeDatabase;

function wrapNode(db: NodeDatabase): SqliteDatabase {
  const exec = (sql: string) => db.exec(sql);
  return {
    prepare(sql): SqliteStatement {
      const statement = db.prepare(sql);
      return {
        run: (...params) => ({ changes: Number(statement.run(...params).changes) }),
        get: (...params) => statement.get(...params),
        all: (...params) => statement.all(...params),
      };
    },
    exec,
    transaction: transactionOf(exec),
    close: () => db.close(),
  };
}

// ---- bun:sqlite ----

interface BunStatement {
  run(...params: unknown[]): { changes: number };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}
interface BunDatabase {
  prepare(sql: string): BunStatement;
  exec(sql: string): void;
  close(): void;
}
type BunDatabaseClass = new (path: string, options: { create: boolean; strict: boolean }) => BunDatabase;

function wrapBun(db: BunDatabase): SqliteDatabase {
  const exec = (sql: string) => db.exec(sql);
  return {
    prepare(sql): SqliteStatement {
      const statement = db.prepare(sql);
      return {
        run: (...params) => ({ changes: statement.run(...params).changes }),
        // bun:sqlite answers null for no row; better-sqlite3 and node:sqlite, undefined.
        get: (...params) => statement.get(...params) ?? undefined,
        all: (...params) => statement.all(...params),
      };
    },
    exec,
    transaction: transactionOf(exec),
    close: () => db.close(),
  };
}
