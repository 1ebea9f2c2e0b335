/**
 * Shared helpers of the scheduler tests: fake time, a recording logger, event recorders, and a
 * job store wrapper whose `getDueJobs` can be made to fail.
 */
import { afterEach, beforeEach, vi } from 'vitest';
import {
  BackgroundScheduler,
  DateTrigger,
  EVENT_ALL,
  Job,
  type JobHost,
  type JobStore,
  type Logger,
  MemoryJobStore,
  type Scheduler,
  type SchedulerEventAny,
  type SchedulerOptions,
  type StoreHost,
} from '../../src/index.js';

/** The instant every test starts at (a Thursday). */
export const T0 = new Date('2026-01-01T00:00:00.000Z');
export const SECOND = 1_000;
export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

/** `T0` plus `ms`. */
export function at(ms: number): Date {
  return new Date(T0.getTime() + ms);
}

/** ISO strings of dates, for readable comparisons. */
export function iso(dates: ReadonlyArray<Date | null | undefined>): Array<string | null> {
  return dates.map((d) => (d instanceof Date ? d.toISOString() : null));
}

/** A logger that records what it is given. */
export interface RecordingLogger extends Logger {
  debugs: unknown[][];
  infos: unknown[][];
  warnings: unknown[][];
  errors: unknown[][];
}

export function fakeLogger(): RecordingLogger {
  const logger: RecordingLogger = {
    debugs: [],
    infos: [],
    warnings: [],
    errors: [],
    debug: (...args: unknown[]) => logger.debugs.push(args),
    info: (...args: unknown[]) => logger.infos.push(args),
    warn: (...args: unknown[]) => logger.warnings.push(args),
    error: (...args: unknown[]) => logger.errors.push(args),
  };
  return logger;
}

/** Every event the scheduler emits (optionally only those of `mask`), in order. */
export function record(scheduler: Scheduler, mask = EVENT_ALL): SchedulerEventAny[] {
  const events: SchedulerEventAny[] = [];
  scheduler.addListener((e) => {
    events.push(e);
  }, mask);
  return events;
}

/** The events of one name, typed. */
export function named<N extends SchedulerEventAny['name']>(
  events: SchedulerEventAny[],
  name: N,
): Array<Extract<SchedulerEventAny, { name: N }>> {
  return events.filter((e): e is Extract<SchedulerEventAny, { name: N }> => e.name === name);
}

const created: Scheduler[] = [];

/** A BackgroundScheduler in UTC that is shut down after the test. */
export function makeScheduler(options: SchedulerOptions = {}): BackgroundScheduler {
  const scheduler = new BackgroundScheduler({ timezone: 'UTC', ...options });
  created.push(scheduler);
  return scheduler;
}

/** Registers a scheduler made elsewhere for shutdown after the test. */
export function track<S extends Scheduler>(scheduler: S): S {
  created.push(scheduler);
  return scheduler;
}

/** Fake timers at `T0` for every test of the file; schedulers made here are shut down after each. */
export function useFakeTime(): void {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(async () => {
    for (const scheduler of created.splice(0)) {
      if (!scheduler.running) continue;
      // A pass may be waiting on a (fake) setImmediate: let timers move while it stops.
      const stopped = scheduler.shutdown({ wait: false });
      await vi.advanceTimersByTimeAsync(10);
      await stopped;
    }
    vi.useRealTimers();
    vi.restoreAllMocks();
  });
}

/** A promise that resolves after `ms` of (fake) time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A MemoryJobStore whose `getDueJobs` rejects while `failures` is above 0 (counting down), and
 * which records when it was asked.
 */
export class FlakyStore implements JobStore {
  readonly inner = new MemoryJobStore();
  failures = 0;
  /** When above 0, the next getDueJobs waits this long (ms of fake time), then rejects. */
  hangMs = 0;
  readonly dueCalls: number[] = [];

  start(host: StoreHost, alias: string): Promise<void> {
    return this.inner.start(host, alias);
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
  lookupJob(id: string): Promise<Job | null> {
    return this.inner.lookupJob(id);
  }
  async getDueJobs(now: Date): Promise<Job[]> {
    this.dueCalls.push(Date.now());
    // A hanging server: the call fails only after hangMs (a driver's timeout).
    if (this.hangMs > 0) {
      const hang = this.hangMs;
      this.hangMs = 0;
      await new Promise((resolve) => setTimeout(resolve, hang));
      throw new Error('store timed out');
    }
    if (this.failures > 0) {
      this.failures--;
      throw new Error('store is down');
    }
    return this.inner.getDueJobs(now);
  }
  getNextRunTime(): Promise<Date | null> {
    return this.inner.getNextRunTime();
  }
  getAllJobs(): Promise<Job[]> {
    return this.inner.getAllJobs();
  }
  addJob(job: Job): Promise<void> {
    return this.inner.addJob(job);
  }
  updateJob(job: Job): Promise<void> {
    return this.inner.updateJob(job);
  }
  removeJob(id: string): Promise<void> {
    return this.inner.removeJob(id);
  }
  removeAllJobs(): Promise<void> {
    return this.inner.removeAllJobs();
  }
}

const nullHost: JobHost = {
  modifyJob: () => Promise.reject(new Error('no scheduler')),
  rescheduleJob: () => Promise.reject(new Error('no scheduler')),
  pauseJob: () => Promise.reject(new Error('no scheduler')),
  resumeJob: () => Promise.reject(new Error('no scheduler')),
  removeJob: () => Promise.reject(new Error('no scheduler')),
};

/** A bare Job for store and executor tests. */
export function makeJob(
  id: string,
  nextRunTime: Date | null,
  fields: Partial<ConstructorParameters<typeof Job>[1]> = {},
): Job {
  return new Job(nullHost, {
    id,
    name: id,
    func: () => undefined,
    taskRef: null,
    args: [],
    trigger: new DateTrigger({ runDate: nextRunTime ?? T0, timezone: 'UTC' }),
    executor: 'default',
    jobstore: 'default',
    misfireGraceTime: null,
    coalesce: true,
    maxInstances: 1,
    timeout: null,
    retry: null,
    nextRunTime,
    ...fields,
  });
}
