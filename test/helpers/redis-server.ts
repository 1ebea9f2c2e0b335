/**
 * A throwaway Redis server for store tests: its own port and directory, no persistence except
 * the snapshot `stop()` writes, so an outage can be simulated without losing the data.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

/** A running test server. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>`. */
  url: string;
  /** Saves a snapshot and shuts the server down (clients see their connections close). */
  stop(): Promise<void>;
  /** Starts it again on the same port, loading the snapshot `stop()` saved. */
  start(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open but nothing answers. */
  freeze(): void;
  /** Lets a frozen process go on (SIGCONT). */
  thaw(): void;
  /** Kills the server and removes its directory. */
  destroy(): Promise<void>;
}

const BINARY = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

/** Sends one command in the inline protocol; resolves to the first reply line. */
function command(port: number, text: string, timeoutMs = 1_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no reply to ${text} in ${timeoutMs} ms`)));
    socket.once('error', reject);
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      const end = reply.indexOf('\r\n');
      if (end >= 0) {
        socket.end();
        resolve(reply.slice(0, end));
      }
    });
    socket.on('close', () => resolve(reply));
    socket.on('connect', () => socket.write(`${text}\r\n`));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts a fresh server on a free port. */
export async function startRedis(): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'tickwork-redis-'));
  const port = await freePort();
  let child: ChildProcess | null = null;

  // A test process that dies without afterAll must not leave a server behind.
  const onExit = () => child?.kill('SIGKILL');
  process.on('exit', onExit);

  const start = async () => {
    const log = openSync(join(dir, 'server.log'), 'a');
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--dbfilename',
      'dump.rdb',
    ];
    const started = spawn(BINARY, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    child = started;
    let exited: string | null = null;
    started.once('exit', (code, signal) => {
      exited = `redis-server exited (${code ?? signal}); see ${join(dir, 'server.log')}`;
      if (child === started) child = null;
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (exited !== null) throw new Error(exited);
      const reply = await command(port, 'PING', 500).catch(() => '');
      if (reply === '+PONG') return;
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING in 10 s`);
      await sleep(20);
    }
  };

  const stop = async () => {
    const running = child;
    if (running === null) return;
    const gone = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    // SHUTDOWN SAVE writes the snapshot even though no save points are configured.
    await command(port, 'SHUTDOWN SAVE', 5_000).catch(() => '');
    await gone;
  };

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    start,
    stop,
    freeze: () => child?.kill('SIGSTOP'),
    thaw: () => child?.kill('SIGCONT'),
    async destroy() {
      const running = child;
      if (running !== null) {
        const gone = new Promise<void>((resolve) => running.once('exit', () => resolve()));
        running.kill('SIGCONT');
        running.kill('SIGKILL');
        await gone;
      }
      process.off('exit', onExit);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
