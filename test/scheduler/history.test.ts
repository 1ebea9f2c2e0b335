/**
 * Run history and retries through the scheduler's API, on the memory store and fake time: what
 * each outcome records, the retry policy's delays, the options' checks, and `runHistory: false`.
 * (The same behaviour on every store is in the JobStore suite.)
 */
import { describe, expect, it, vi } from 'vitest';
import { getJobContext, JobTimeoutError } from '../../src/index.js';
import {
  at,
  FlakyStore,
  fakeLogger,
  makeScheduler,
  named,
  record,
  SECOND,
  sleep,
  useFakeTime,
} from '../helpers/scheduler.js';

useFakeTime();

function failing(times: number, seen: number[] = []) {
  return () => {
    const attempt = getJobContext()?.attempt ?? 0;
    seen.push(attempt);
    if (attempt <= times) throw new Error(`attempt ${attempt} failed`);
    return `ok on ${attempt}`;
  };
}

describe('retries', () => {
  it('waits delay * factor^(k-1), capped at maxDelay, plus jitter; the job sees its attempt', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const scheduler = makeScheduler({ logger: fakeLogger() });
    const events = record(scheduler);
    const seen: number[] = [];
    await scheduler.addJob(failing(4, seen), 'date', {
      runDate: at(SECOND),
      id: 'backoff',
      retry: { attempts: 4, delay: 1, factor: 3, maxDelay: 5, jitter: 2 },
    });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(60 * SECOND);
    // Waits: 1 + 1, 3 + 1, min(9, 5) + 1, min(27, 5) + 1 seconds.
    expect(
      named(events, 'job_retry').map((e) => [e.attempt, e.nextRunTime.getTime() - at(0).getTime()]),
    ).toEqual([
      [2, 3_000],
      [3, 7_000],
      [4, 13_000],
      [5, 19_000],
    ]);
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(named(events, 'job_executed').map((e) => [e.attempt, e.retval, e.scheduledRunTime])).toEqual([
      [5, 'ok on 5', at(SECOND)],
    ]);
  });

  it('retries timeouts by default, and only what `on` lists', async () => {
    const scheduler = makeScheduler({ logger: fakeLogger() });
    const events = record(scheduler);
    await scheduler.addJob(() => sleep(10 * SECOND), 'date', {
      runDate: at(SECOND),
      id: 'slow',
      timeout: 1,
      retry: { attempts: 1, delay: 1 },
    });
    await scheduler.addJob(() => sleep(10 * SECOND), 'date', {
      runDate: at(SECOND),
      id: 'slow-no-retry',
      timeout: 1,
      retry: { attempts: 1, on: ['error'] },
    });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(30 * SECOND);
    expect(
      named(events, 'job_error').map((e) => [
        e.jobId,
        e.attempt,
        e.error instanceof JobTimeoutError,
        e.willRetry,
      ]),
    ).toEqual([
      ['slow', 1, true, true],
      ['slow-no-retry', 1, true, false],
      ['slow', 2, true, false],
    ]);
    const runs = await scheduler.getRuns({ jobId: 'slow' });
    expect(runs.map((r) => [r.attempt, r.outcome, r.error?.name])).toEqual([
      [2, 'timeout', 'JobTimeoutError'],
      [1, 'timeout', 'JobTimeoutError'],
    ]);
  });

  it('takes retry from jobDefaults, and modifyJob changes it', async () => {
    const scheduler = makeScheduler({ logger: fakeLogger(), jobDefaults: { retry: { attempts: 2 } } });
    const job = await scheduler.addJob(() => {}, 'interval', { seconds: 5, id: 'j' });
    expect(job.retry).toEqual({
      attempts: 2,
      delay: 1,
      factor: 2,
      maxDelay: 3600,
      jitter: 0,
      on: ['error', 'timeout'],
    });
    const none = await scheduler.addJob(() => {}, 'interval', { seconds: 5, retry: null });
    expect(none.retry).toBeNull();
    const changed = await scheduler.modifyJob('j', { retry: { attempts: 1, on: ['abandoned'] } });
    expect(changed.retry?.on).toEqual(['abandoned']);
  });

  it('rejects a bad retry option at the call, naming the field and the value', async () => {
    const scheduler = makeScheduler();
    const add = (retry: unknown) =>
      scheduler.addJob(() => {}, 'interval', { seconds: 1, retry: retry as never });
    await expect(add({ attempts: 0 })).rejects.toThrow(RangeError);
    await expect(add({ attempts: 0 })).rejects.toThrow(/retry\.attempts.*0/);
    await expect(add({ attempts: 1.5 })).rejects.toThrow(/retry\.attempts.*1\.5/);
    await expect(add({})).rejects.toThrow(
      new TypeError('Expected retry.attempts to be an integer from 1 and up, got undefined'),
    );
    await expect(add({})).rejects.toThrow(TypeError);
    await expect(add({ attempts: 1, delay: -1 })).rejects.toThrow(RangeError);
    await expect(add({ attempts: 1, delay: -1 })).rejects.toThrow(
      'Expected retry.delay to be a number of seconds from 0 and up, got -1 (number)',
    );
    await expect(add({ attempts: 1, delay: '5' })).rejects.toThrow(TypeError);
    await expect(add({ attempts: 1, factor: 0.5 })).rejects.toThrow(
      'Expected retry.factor to be a number from 1 and up, got 0.5 (number)',
    );
    await expect(add({ attempts: 1, jitter: Number.NaN })).rejects.toThrow(/retry\.jitter.*NaN/);
    await expect(add({ attempts: 1, on: ['error', 'crash'] })).rejects.toThrow(TypeError);
    await expect(add({ attempts: 1, on: ['error', 'crash'] })).rejects.toThrow(/retry\.on.*crash/);
    await expect(add({ attempts: 1, tries: 3 })).rejects.toThrow(/"tries" in retry/);
    await expect(add(3)).rejects.toThrow(/retry.*3/);
    expect(() => makeScheduler({ jobDefaults: { retry: { attempts: -1 } } })).toThrow(
      /jobDefaults\.retry\.attempts.*-1/,
    );
  });

  it('refuses a retry for a job store that cannot keep retries', async () => {
    const scheduler = makeScheduler({ jobstores: { default: new FlakyStore() } });
    await expect(
      scheduler.addJob(() => {}, 'interval', { seconds: 1, retry: { attempts: 1 } }),
    ).rejects.toThrow(/Job store "default" cannot keep retries/);
    await scheduler.addJob(() => {}, 'interval', { seconds: 1, id: 'plain' });
    await expect(scheduler.modifyJob('plain', { retry: { attempts: 2 } })).rejects.toThrow(
      /cannot keep retries/,
    );
  });
});

describe('run history', () => {
  it('records missed runs and runs refused for maxInstances', async () => {
    const scheduler = makeScheduler({ logger: fakeLogger() });
    await scheduler.addJob(() => {}, 'date', { runDate: at(-10 * SECOND), id: 'late' });
    await scheduler.addJob(() => sleep(1_500), 'interval', { seconds: 1, id: 'busy' });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(2 * SECOND);
    const runs = await scheduler.getRuns();
    expect(runs.filter((r) => r.jobId === 'late').map((r) => [r.outcome, r.startedAt, r.attempt])).toEqual([
      ['missed', null, 1],
    ]);
    expect(
      runs.filter((r) => r.outcome === 'max_instances').map((r) => [r.jobId, r.scheduledRunTime]),
    ).toEqual([['busy', at(2 * SECOND)]]);
  });

  it('keeps a value that has no JSON form as its description', async () => {
    const scheduler = makeScheduler();
    const cycle: Record<string, unknown> = { name: 'loop' };
    cycle.self = cycle;
    await scheduler.addJob(() => 10n, 'date', { runDate: at(SECOND), id: 'big' });
    await scheduler.addJob(() => cycle, 'date', { runDate: at(SECOND), id: 'cycle' });
    await scheduler.addJob(() => ({ when: at(0), list: [1, 'two'] }), 'date', {
      runDate: at(SECOND),
      id: 'plain',
    });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(SECOND);
    const byId = new Map((await scheduler.getRuns()).map((r) => [r.jobId, r.retval]));
    expect(byId.get('big')).toBe('10 (bigint)');
    expect(typeof byId.get('cycle')).toBe('string');
    expect(byId.get('plain')).toEqual({ when: at(0).toISOString(), list: [1, 'two'] });
  });

  it('runHistory: false records nothing, and retries still run', async () => {
    const scheduler = makeScheduler({ logger: fakeLogger(), runHistory: false });
    const events = record(scheduler);
    await scheduler.addJob(failing(1), 'date', { runDate: at(SECOND), id: 'r', retry: { attempts: 1 } });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(5 * SECOND);
    expect(named(events, 'job_executed').map((e) => e.attempt)).toEqual([2]);
    expect(await scheduler.getRuns()).toEqual([]);
  });

  it('checks the runHistory option and the getRuns query, naming the field and the value', async () => {
    expect(() => makeScheduler({ runHistory: { maxAge: 0 } })).toThrow(RangeError);
    expect(() => makeScheduler({ runHistory: { maxAge: 0 } })).toThrow(
      'Expected runHistory.maxAge to be a number of seconds above 0, got 0 (number)',
    );
    expect(() => makeScheduler({ runHistory: { maxAge: '1d' as never } })).toThrow(TypeError);
    expect(() => makeScheduler({ runHistory: { maxPerJob: 2.5 } })).toThrow(RangeError);
    expect(() => makeScheduler({ runHistory: { maxPerJob: 2.5 } })).toThrow(
      'Expected runHistory.maxPerJob to be an integer from 1 and up, got 2.5 (number)',
    );
    expect(() => makeScheduler({ runHistory: { keep: 1 } as never })).toThrow(/"keep" in runHistory/);
    expect(() => makeScheduler({ runHistory: true as never })).toThrow(/runHistory.*true/);
    const scheduler = makeScheduler();
    await scheduler.start();
    await expect(scheduler.getRuns({ outcome: 'failed' as never })).rejects.toThrow(/outcome.*"failed"/);
    await expect(scheduler.getRuns({ limit: 0 })).rejects.toThrow(RangeError);
    await expect(scheduler.getRuns({ limit: '10' as never })).rejects.toThrow(TypeError);
    await expect(scheduler.getRuns({ limit: 10_001 })).rejects.toThrow(/limit.*10001/);
    await expect(scheduler.getRuns({ since: 'yesterday' })).rejects.toThrow(/since/);
    await expect(scheduler.getRuns({ jobid: 'x' } as never)).rejects.toThrow(/"jobid"/);
    await expect(scheduler.getRuns({ jobstore: 'nowhere' })).rejects.toThrow(/nowhere/);
    expect(await scheduler.getRuns({ limit: 10_000, outcome: ['success', 'error'] })).toEqual([]);
  });
});
