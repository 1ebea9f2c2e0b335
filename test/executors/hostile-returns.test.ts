/**
 * A job's return value belongs to the job, however hostile: a thenable whose `then` throws,
 * returns nothing, or sits behind a throwing getter, a revoked proxy, a promise with a `then` of
 * its own. The process survives and every run ends as job_executed or job_error.
 */
import { describe, expect, it, vi } from 'vitest';
import { JobTimeoutError } from '../../src/index.js';
import { makeScheduler, named, record, SECOND, useFakeTime } from '../helpers/scheduler.js';

useFakeTime();

const revoked = (() => {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
})();

const hostile: Record<string, () => unknown> = {
  throwingThen: () => ({
    // biome-ignore lint/suspicious/noThenProperty: the hostile value under test
    then() {
      throw new Error('then threw');
    },
  }),
  thenReturnsNothing: () => ({
    // biome-ignore lint/suspicious/noThenProperty: the hostile value under test
    then(resolve: (v: unknown) => void) {
      resolve('resolved anyway');
    },
  }),
  throwingGetter: () =>
    Object.defineProperty({}, 'then', {
      get() {
        throw new Error('getter threw');
      },
    }),
  revokedProxy: () => revoked,
  promiseWithOwnThen: () =>
    Object.assign(Promise.resolve('own'), {
      // biome-ignore lint/suspicious/noThenProperty: the hostile value under test
      then() {
        throw new Error('own then threw');
      },
    }),
  functionThenable: () =>
    Object.assign(() => undefined, {
      // biome-ignore lint/suspicious/noThenProperty: the hostile value under test
      then() {
        throw new Error('function then threw');
      },
    }),
};

describe('hostile return values', () => {
  it.each(Object.keys(hostile))('%s ends in job_executed or job_error', async (key) => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    await scheduler.addJob(hostile[key] as () => unknown, 'date', {
      runDate: new Date(Date.now() + SECOND),
      id: key,
    });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(2 * SECOND);
    const ends = [...named(events, 'job_executed'), ...named(events, 'job_error')];
    expect(ends.map((e) => e.jobId)).toEqual([key]);
    expect(scheduler.running).toBe(true);
  });

  it('reports each kind as the job behaved', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    for (const key of Object.keys(hostile)) {
      await scheduler.addJob(hostile[key] as () => unknown, 'date', {
        runDate: new Date(Date.now() + SECOND),
        id: key,
      });
    }
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(2 * SECOND);
    expect(Object.fromEntries(named(events, 'job_executed').map((e) => [e.jobId, e.retval]))).toEqual({
      thenReturnsNothing: 'resolved anyway',
      // A real promise settles by its own state, whatever `then` it carries.
      promiseWithOwnThen: 'own',
    });
    const errors = Object.fromEntries(named(events, 'job_error').map((e) => [e.jobId, String(e.error)]));
    expect(errors).toEqual({
      throwingThen: 'Error: then threw',
      throwingGetter: 'Error: getter threw',
      revokedProxy: expect.stringMatching(/revoked/),
      functionThenable: 'Error: function then threw',
    });
  });

  it('a thenable that never calls back is a run that never ends, ended by its timeout', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    // biome-ignore lint/suspicious/noThenProperty: the hostile value under test
    await scheduler.addJob(() => ({ then() {} }), 'date', {
      runDate: new Date(Date.now() + SECOND),
      timeout: 1,
    });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(3 * SECOND);
    expect(named(events, 'job_error').map((e) => e.error)).toEqual([expect.any(JobTimeoutError)]);
  });
});
