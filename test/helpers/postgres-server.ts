/**
 * A throwaway PostgreSQL server for store tests and benchmarks: a fresh data directory, a free
 * port; fsync and synchronous_commit off (fast, for tests) unless `durable` asks for the server's
 * defaults (for benchmarks). Postgres refuses to run as root, so under root the binaries run as
 * the `postgres` user.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

import { freePort } from './ports.js';

const run = promisify(execFile);

/** A running test server. */
export interface PostgresServer {
  /** Connection string of the test database. */
  connectionString: string;
  /** Stops the server (fast shutdown: open connections are cut, as in a real outage). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** Stops it and removes its data directory. */
  destroy(): Promise<void>;
}

/** The directory holding initdb and pg_ctl: $PG_BIN, or the newest /usr/lib/postgresql/N/bin. */
function binDir(): string {
  const fromEnv = process.env.PG_BIN;
  if (fromEnv !== undefined && existsSync(join(fromEnv, 'pg_ctl'))) return fromEnv;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')))
        .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
    : [];
  if (versions.length === 0) {
    throw new Error(
      'No PostgreSQL server found under /usr/lib/postgresql/*/bin (set PG_BIN to its bin directory)',
    );
  }
  return join(root, versions[0], 'bin');
}

const asRoot = process.getuid?.() === 0;

/** The command line for a server binary, as the `postgres` user when we are root. */
function command(bin: string, args: string[]): [string, string[]] {
  return asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

async function exec(bin: string, args: string[], cwd: string): Promise<void> {
  const [file, argv] = command(bin, args);
  try {
    await run(file, argv, { cwd, timeout: 60_000 });
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${bin} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** Options of `startPostgres`. */
export interface PostgresServerOptions {
  /**
   * Keep Postgres's default durability (fsync, synchronous_commit and full_page_writes on), as
   * benchmarks must; by default they are off, which is faster and enough for tests.
   */
  durable?: boolean;
}

/** The server settings that `startPostgres` changes from Postgres's defaults. */
export function postgresSettings(options: PostgresServerOptions = {}): string[] {
  const fast = ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off'];
  return [...(options.durable === true ? [] : fast), 'shared_buffers=16MB', 'max_connections=60'];
}

/** Starts a fresh server with an empty database `tickwork`. */
export async function startPostgres(options: PostgresServerOptions = {}): Promise<PostgresServer> {
  const bin = binDir();
  const dir = await mkdtemp(join(tmpdir(), 'tickwork-pg-'));
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    await chown(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const pgCtl = join(bin, 'pg_ctl');
  await exec(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale', '-N'],
    dir,
  );
  const port = await freePort();
  const serverOptions = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    ...postgresSettings(options).map((setting) => `-c ${setting}`),
  ].join(' ');
  let running = false;
  // A test process that dies without afterAll must not leave a server behind.
  const onExit = () => {
    if (!running) return;
    const [file, argv] = command(pgCtl, ['-D', data, '-m', 'immediate', 'stop']);
    try {
      execFileSync(file, argv, { cwd: dir, stdio: 'ignore', timeout: 10_000 });
    } catch {
      // Already gone.
    }
  };
  process.on('exit', onExit);

  const start = async () => {
    await exec(
      pgCtl,
      ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o', serverOptions, 'start'],
      dir,
    );
    running = true;
  };
  const stop = async () => {
    await exec(pgCtl, ['-D', data, '-m', 'fast', '-w', 'stop'], dir);
    running = false;
  };

  await start();
  const admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
  await admin.connect();
  try {
    await admin.query('CREATE DATABASE tickwork');
  } finally {
    await admin.end();
  }
  return {
    connectionString: `postgres://postgres@127.0.0.1:${port}/tickwork`,
    stop,
    start,
    async destroy() {
      if (running) {
        await exec(pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop'], dir).catch(() => undefined);
        running = false;
      }
      process.off('exit', onExit);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
