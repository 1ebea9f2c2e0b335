/**
 * Values that JSON and SQLite treat specially, through a SQLite store: a `__proto__` key in job
 * args stays an own property both ways (never dropped, never a prototype), also when a row
 * written behind the scheduler's back carries one; ids that are not well-formed Unicode (a lone
 * surrogate, which SQLite would rewrite) are refused at addJob with a SerializationError.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { BackgroundScheduler, registerTask, SqliteJobStore } from '../../src/index.js';

registerTask('hostile:noop', (..._args: unknown[]) => undefined);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function open(): Promise<{ scheduler: BackgroundScheduler; path: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'tickwork-hostile-'));
  const path = join(dir, 'jobs.db');
  const scheduler = new BackgroundScheduler({
    timezone: 'UTC',
    jobstores: { default: new SqliteJobStore({ path }) },
  });
  cleanups.push(async () => {
    if (scheduler.running) await scheduler.shutdown({ wait: false });
    await rm(dir, { recursive: true, force: true });
  });
  await scheduler.start({ paused: true });
  return { scheduler, path };
}

it('keeps a __proto__ key in args as an own property, stored and restored', async () => {
  const { scheduler, path } = await open();
  const arg = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
  expect(Object.hasOwn(arg, '__proto__')).toBe(true);
  await scheduler.addJob('hostile:noop', 'interval', { hours: 1, id: 'p', args: [arg] });
  const stored = new Database(path, { readonly: true })
    .prepare('SELECT state FROM tickwork_jobs WHERE id = ?')
    .get('p') as { state: string };
  expect(JSON.parse(stored.state).args).toEqual([JSON.parse('{"__proto__": {"polluted": true}, "a": 1}')]);
  expect(stored.state).toContain('"__proto__":{"polluted":true}');

  const [restored] = ((await scheduler.getJob('p'))?.args ?? []) as [Record<string, unknown>];
  expect(Object.getPrototypeOf(restored)).toBe(Object.prototype);
  expect(Object.hasOwn(restored, '__proto__')).toBe(true);
  expect(Object.getOwnPropertyDescriptor(restored, '__proto__')?.value).toEqual({ polluted: true });
  expect((restored as { polluted?: unknown }).polluted).toBeUndefined();
  expect(restored.a).toBe(1);
});

it('a __proto__ key written into the database never becomes a prototype', async () => {
  const { scheduler, path } = await open();
  await scheduler.addJob('hostile:noop', 'interval', { hours: 1, id: 'q', args: [{ a: 1 }] });
  const db = new Database(path);
  const { state } = db.prepare('SELECT state FROM tickwork_jobs WHERE id = ?').get('q') as { state: string };
  const tampered = state.replace('"args":[{"a":1}]', '"args":[{"__proto__":{"isAdmin":true},"a":1}]');
  expect(tampered).not.toBe(state);
  db.prepare('UPDATE tickwork_jobs SET state = ? WHERE id = ?').run(tampered, 'q');
  db.close();
  const [restored] = ((await scheduler.getJob('q'))?.args ?? []) as [Record<string, unknown>];
  expect(Object.getPrototypeOf(restored)).toBe(Object.prototype);
  expect((restored as { isAdmin?: unknown }).isAdmin).toBeUndefined();
  expect(Object.getOwnPropertyDescriptor(restored, '__proto__')?.value).toEqual({ isAdmin: true });
});

it('refuses ids that are not well-formed Unicode, and keeps well-formed ones exactly', async () => {
  const { scheduler } = await open();
  for (const id of ['lone\uD800', '\uDC00x', 'a\uDFFFb']) {
    await expect(scheduler.addJob('hostile:noop', 'interval', { hours: 1, id })).rejects.toThrow(
      /Cannot store id: .*lone UTF-16 surrogate/,
    );
  }
  expect(await scheduler.getJobs()).toEqual([]);
  const astral = 'emoji-😀-\u{10FFFF}';
  await scheduler.addJob('hostile:noop', 'interval', { hours: 1, id: astral });
  expect((await scheduler.getJobs()).map((j) => j.id)).toEqual([astral]);
});
