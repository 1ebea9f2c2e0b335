/**
 * The error classes: every one exported from the package, a TickworkError, named after its class
 * (but ShutdownAbortError, named as any abort), with the fields its documentation gives.
 */
import { expect, it } from 'vitest';
import * as tickwork from '../src/index.js';

const NAMES = [
  'ConflictingIdError',
  'JobLookupError',
  'JobPausedError',
  'MaxInstancesReachedError',
  'SchedulerAlreadyRunningError',
  'SchedulerNotRunningError',
  'SerializationError',
  'TaskLookupError',
  'JobTimeoutError',
  'JobAbandonedError',
  'ShutdownAbortError',
  'DriverMissingError',
  'SchemaVersionError',
  'WorkerCrashedError',
];

it('exports every error class, each a subclass of TickworkError', () => {
  const exported = tickwork as unknown as Record<string, unknown>;
  for (const name of NAMES) {
    const Class = exported[name] as { prototype: unknown } | undefined;
    expect(typeof Class, name).toBe('function');
    expect(Class?.prototype, name).toBeInstanceOf(tickwork.TickworkError);
  }
});

it('gives the new classes their fields, names and messages', () => {
  const abort = new tickwork.ShutdownAbortError();
  expect(abort).toMatchObject({
    name: 'AbortError',
    message: 'The executor shut down without waiting for this run',
  });

  const missing = new tickwork.DriverMissingError('RedisJobStore', 'ioredis');
  expect(missing).toMatchObject({
    name: 'DriverMissingError',
    store: 'RedisJobStore',
    driver: 'ioredis',
    message: 'RedisJobStore needs the "ioredis" package, which is not installed: npm install ioredis',
  });
  expect('cause' in missing).toBe(false);
  expect(
    new tickwork.DriverMissingError('SqliteJobStore', 'bun:sqlite', { reason: 'runs only on Bun' }).message,
  ).toBe('SqliteJobStore: the "bun:sqlite" driver runs only on Bun');

  expect(new tickwork.SchemaVersionError('newer', 3, 2)).toMatchObject({
    name: 'SchemaVersionError',
    found: 3,
    supported: 2,
  });

  const cause = new Error('boom');
  expect(new tickwork.WorkerCrashedError('crashed', 'j', 1, { cause })).toMatchObject({
    name: 'WorkerCrashedError',
    jobId: 'j',
    exitCode: 1,
    cause,
  });
});
