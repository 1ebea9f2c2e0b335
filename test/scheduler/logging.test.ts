/**
 * Nothing fails silently: the default logger writes warnings and errors to stderr, and every
 * logger is called as `logger.level({ err, ...context }, message)`, which real pino prints whole.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { MemoryJobStore } from '../../src/index.js';
import { FlakyStore, makeScheduler, SECOND, useFakeTime } from '../helpers/scheduler.js';

useFakeTime();

/** Everything written to stderr while the test runs. */
function captureStderr(): string[] {
  const written: string[] = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  return written;
}

/** A real pino logger at debug level writing JSON lines into `lines`. */
function pinoInto(lines: Array<Record<string, unknown>>): pino.Logger {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line));
      done();
    },
  });
  return pino({ level: 'debug' }, sink);
}

describe('the default logger', () => {
  it('writes a failing job and its stack to stderr, and nothing for debug or info', async () => {
    const written = captureStderr();
    const scheduler = makeScheduler();
    const boom = new Error('job boom');
    await scheduler.addJob(
      () => {
        throw boom;
      },
      'interval',
      { seconds: 1, id: 'failing' },
    );
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(SECOND);
    const text = written.join('');
    expect(text).toContain('Job "failing" raised an error');
    expect(text).toContain(boom.stack);
    // "Scheduler started" (info) and the next-wakeup notes (debug) stay quiet.
    expect(text).not.toContain('Scheduler started');
    expect(text).not.toContain('Next wakeup');
    expect(written.length).toBe(1);
  });

  it('writes store outages as warnings with their error', async () => {
    const written = captureStderr();
    const flaky = new FlakyStore();
    const scheduler = makeScheduler({ jobstores: { default: flaky } });
    await scheduler.addJob(() => undefined, 'interval', { seconds: 1 });
    flaky.failures = 1;
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(0);
    const text = written.join('');
    expect(text).toContain('Error processing jobs of job store "default"');
    expect(text).toContain('Error: store is down');
  });

  it('logger: false says nothing', async () => {
    const written = captureStderr();
    const scheduler = makeScheduler({ logger: false });
    await scheduler.addJob(
      () => {
        throw new Error('quiet boom');
      },
      'interval',
      { seconds: 1 },
    );
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(3 * SECOND);
    expect(written).toEqual([]);
  });

  it('rejects a logger that is neither false nor a logger, naming the value', () => {
    expect(() => makeScheduler({ logger: true as unknown as false })).toThrow(
      /Expected logger to be false or an object with debug, info, warn and error methods, got true/,
    );
  });
});

describe('pino', () => {
  it('prints the stack of a failing job, with the job id', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const scheduler = makeScheduler({ logger: pinoInto(lines) });
    const boom = new Error('pino boom');
    await scheduler.addJob(
      () => {
        throw boom;
      },
      'interval',
      { seconds: 1, id: 'failing' },
    );
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(SECOND);
    const errors = lines.filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0].msg).toBe('Job "failing" raised an error');
    expect(errors[0].jobId).toBe('failing');
    expect((errors[0].err as { stack: string }).stack).toBe(boom.stack);
  });

  it('prints store errors and listener errors whole', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const flaky = new FlakyStore();
    const scheduler = makeScheduler({
      logger: pinoInto(lines),
      jobstores: { default: new MemoryJobStore(), flaky },
    });
    await scheduler.addJob(() => undefined, 'interval', { seconds: 1, jobstore: 'flaky' });
    scheduler.on('job_executed', () => {
      throw new Error('listener boom');
    });
    await scheduler.addJob(() => undefined, 'interval', { seconds: 1 });
    flaky.failures = 1;
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(SECOND);
    const warning = lines.find((l) => l.level === 40 && String(l.msg).startsWith('Error processing'));
    expect(warning).toMatchObject({
      jobstore: 'flaky',
      err: { message: 'store is down', stack: expect.stringContaining('FlakyStore') },
    });
    const listener = lines.find((l) => l.level === 50 && l.msg === 'Listener for job_executed threw');
    expect(listener).toMatchObject({ err: { stack: expect.stringContaining('listener boom') } });
  });
});
