/**
 * SqliteJobStore through the shared JobStore suite (see store-suite.ts): each test gets a new
 * database file in a directory of its own, removed afterwards with its WAL files.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackgroundScheduler, SqliteJobStore } from '../../src/index.js';
import { describeStoreSuite } from './store-suite.js';

let dir: string | null = null;

function path(): string {
  if (dir === null) throw new Error('No database file: create() was not called');
  return join(dir, 'jobs.db');
}

describeStoreSuite('SqliteJobStore', {
  persistent: true,
  async create() {
    dir = await mkdtemp(join(tmpdir(), 'tickwork-sqlite-suite-'));
    return new SqliteJobStore({ path: path() });
  },
  reopen: () => new SqliteJobStore({ path: path() }),
  async cleanup() {
    if (dir !== null) await rm(dir, { recursive: true, force: true });
    dir = null;
  },
});

describe('SqliteJobStore start', () => {
  it("names the file and the missing folder when the file's folder does not exist", async () => {
    const base = await mkdtemp(join(tmpdir(), 'tickwork-sqlite-missing-'));
    try {
      const path = join(base, 'not', 'there', 'jobs.db');
      const scheduler = new BackgroundScheduler({
        timezone: 'UTC',
        logger: false,
        jobstores: { default: new SqliteJobStore({ path }) },
      });
      const error = await scheduler.start().then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(TypeError);
      expect(String(error)).toContain(JSON.stringify(path));
      expect(String(error)).toContain(
        `its folder ${JSON.stringify(join(base, 'not', 'there'))} does not exist`,
      );
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});
