/**
 * TickworkModule in a real Nest application context (no HTTP): decorated provider methods become
 * jobs under stable ids and task references, run on the scheduler's schedule, and the scheduler
 * starts and stops with the application.
 */
import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Inject, Injectable, Module, Scope } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BackgroundScheduler, getJobContext, SqliteJobStore } from '../../src/index.js';
import {
  Cron,
  InjectScheduler,
  Interval,
  RunAt,
  TICKWORK_SCHEDULER,
  TickworkModule,
  type TickworkModuleOptions,
  Timeout,
} from '../../src/nestjs/index.js';
import { fakeLogger } from '../helpers/scheduler.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const SRC = fileURLToPath(new URL('../../src/index.ts', import.meta.url));

@Injectable()
class ReportsService {
  readonly calls: string[] = [];

  constructor(@InjectScheduler() readonly scheduler: BackgroundScheduler) {}

  @Cron('*/10 * * * * *')
  everyTenSeconds(): void {
    this.calls.push(`cron ${new Date().toISOString()}`);
  }

  @Cron({ minute: '*', second: 30 }, { id: 'half-minute', maxInstances: 2 })
  halfMinute(): void {
    this.calls.push(`fields ${new Date().toISOString()}`);
  }

  @Interval({ seconds: 15, misfireGraceTime: null })
  poll(): void {
    this.calls.push(`interval ${new Date().toISOString()}`);
  }

  @Timeout({ seconds: 5 })
  warmUp(): void {
    this.calls.push(`timeout ${new Date().toISOString()}`);
  }

  @RunAt('2026-01-01T00:00:42Z', { args: ['hello'] })
  once(word: string): void {
    this.calls.push(`runAt ${word} ${new Date().toISOString()}`);
  }

  @RunAt('2025-06-01T00:00:00Z')
  long_gone(): void {
    this.calls.push('never');
  }

  notAJob(): void {}
}

function appModule(options: TickworkModuleOptions, providers: unknown[] = [ReportsService]) {
  @Module({ imports: [TickworkModule.forRoot(options)], providers: providers as never[] })
  class AppModule {}
  return AppModule;
}

describe('TickworkModule', () => {
  beforeEach(() => {
    vi.useFakeTimers({
      now: T0,
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
    });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('adds each decorated method as a job, runs it on schedule, and stops with the application', async () => {
    const app = await NestFactory.createApplicationContext(appModule({ timezone: 'UTC' }), { logger: false });
    const scheduler = app.get(BackgroundScheduler);
    expect(app.get(TICKWORK_SCHEDULER)).toBe(scheduler);
    expect(app.get(ReportsService).scheduler).toBe(scheduler);
    expect(scheduler.running).toBe(true);

    const jobs = await scheduler.getJobs();
    expect(jobs.map((j) => [j.id, j.taskRef, j.nextRunTime?.toISOString()])).toEqual([
      ['ReportsService.everyTenSeconds', 'ReportsService.everyTenSeconds', '2026-01-01T00:00:00.000Z'],
      ['ReportsService.warmUp', 'ReportsService.warmUp', '2026-01-01T00:00:05.000Z'],
      ['ReportsService.poll', 'ReportsService.poll', '2026-01-01T00:00:15.000Z'],
      ['half-minute', 'ReportsService.halfMinute', '2026-01-01T00:00:30.000Z'],
      ['ReportsService.once', 'ReportsService.once', '2026-01-01T00:00:42.000Z'],
    ]);
    expect(jobs.find((j) => j.id === 'half-minute')?.maxInstances).toBe(2);
    expect(jobs.find((j) => j.id === 'ReportsService.poll')?.misfireGraceTime).toBeNull();

    await vi.advanceTimersByTimeAsync(45_000);
    expect(app.get(ReportsService).calls).toEqual([
      'cron 2026-01-01T00:00:00.000Z',
      'timeout 2026-01-01T00:00:05.000Z',
      'cron 2026-01-01T00:00:10.000Z',
      'interval 2026-01-01T00:00:15.000Z',
      'cron 2026-01-01T00:00:20.000Z',
      'cron 2026-01-01T00:00:30.000Z',
      'fields 2026-01-01T00:00:30.000Z',
      'interval 2026-01-01T00:00:30.000Z',
      'cron 2026-01-01T00:00:40.000Z',
      'runAt hello 2026-01-01T00:00:42.000Z',
      'interval 2026-01-01T00:00:45.000Z',
    ]);
    // The one-off jobs are gone once run.
    expect(await scheduler.getJob('ReportsService.warmUp')).toBeNull();
    expect(await scheduler.getJob('ReportsService.once')).toBeNull();

    await app.close();
    expect(scheduler.running).toBe(false);
  });

  it('builds its options with forRootAsync from injected providers', async () => {
    const CONFIG = Symbol('config');
    @Module({ providers: [{ provide: CONFIG, useValue: { zone: 'Europe/Berlin' } }], exports: [CONFIG] })
    class ConfigModule {}
    @Module({
      imports: [
        TickworkModule.forRootAsync({
          imports: [ConfigModule],
          inject: [CONFIG],
          useFactory: async (config: { zone: string }) => ({ timezone: config.zone }),
        }),
      ],
      providers: [ReportsService],
    })
    class AppModule {}
    const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
    const job = await app.get(BackgroundScheduler).getJob('half-minute');
    expect(job?.trigger.toJSON()).toMatchObject({ type: 'cron', timezone: 'Europe/Berlin' });
    await app.close();
  });

  it('refuses bad decorator input at the decorator, naming the value', () => {
    expect(() => Interval(10_000 as never)).toThrow(
      /Expected @Interval's options to be an object such as \{ seconds: 10 \}, got 10000 \(number\)/,
    );
    expect(() => Timeout(500 as never)).toThrow(/got 500 \(number\)/);
    expect(() => Timeout({ seconds: -1 })).toThrow(/@Timeout's seconds to be a number from 0 and up, got -1/);
    expect(() => Cron(42 as never)).toThrow(/@Cron's schedule to be a crontab string or cron fields, got 42/);
    expect(() => RunAt(null as never)).toThrow(/@RunAt's runDate to be a date, got null/);
  });

  it('passes retry to the job: a method that fails its first attempt runs again, seeing attempt 2', async () => {
    @Injectable()
    class Flaky {
      readonly attempts: string[] = [];

      @Timeout({ seconds: 10, retry: { attempts: 2, delay: 5 } })
      sync(): string {
        const attempt = getJobContext()?.attempt;
        this.attempts.push(`${attempt} ${new Date().toISOString()}`);
        if (attempt === 1) throw new Error('first attempt fails');
        return 'synced';
      }
    }
    const logger = fakeLogger();
    const app = await NestFactory.createApplicationContext(appModule({ timezone: 'UTC', logger }, [Flaky]), {
      logger: false,
    });
    const scheduler = app.get(BackgroundScheduler);
    expect((await scheduler.getJob('Flaky.sync'))?.retry).toMatchObject({ attempts: 2, delay: 5 });

    await vi.advanceTimersByTimeAsync(60_000);
    expect(app.get(Flaky).attempts).toEqual(['1 2026-01-01T00:00:10.000Z', '2 2026-01-01T00:00:15.000Z']);
    const runs = await scheduler.getRuns({ jobId: 'Flaky.sync' });
    expect(runs.map((r) => [r.attempt, r.outcome]).sort()).toEqual([
      [1, 'error'],
      [2, 'success'],
    ]);
    await app.close();
  });

  it('refuses a bad retry at the decorator, naming retry.attempts', () => {
    expect(() => Timeout({ seconds: 1, retry: { attempts: 0 } })).toThrow(RangeError);
    expect(() => Timeout({ seconds: 1, retry: { attempts: 0 } })).toThrow(
      /Expected @Timeout's retry\.attempts to be an integer from 1 and up, got 0/,
    );
    expect(() => Cron('* * * * *', { retry: { attempts: 0 } })).toThrow(/@Cron's retry\.attempts.*0/);
    expect(() => Cron({ minute: 0 }, { retry: { attempts: 1.5 } })).toThrow(/@Cron's retry\.attempts.*1\.5/);
    expect(() => Interval({ seconds: 1, retry: { attempts: 2, delay: -1 } })).toThrow(
      /@Interval's retry\.delay.*-1/,
    );
    expect(() => RunAt('2026-01-02T00:00:00Z', { retry: {} as never })).toThrow(
      /@RunAt's retry\.attempts.*undefined/,
    );
    // Decorating a class with a bad retry fails as the class is defined, before any module is made.
    expect(() => {
      class Bad {
        @Interval({ seconds: 1, retry: { attempts: 0 } })
        tick(): void {}
      }
      return Bad;
    }).toThrow(/retry\.attempts/);
    // null turns retries off, as in addJob.
    expect(() => Timeout({ seconds: 1, retry: null })).not.toThrow();
  });

  it('refuses a bad schedule at start-up with the trigger error', async () => {
    @Injectable()
    class Broken {
      @Cron('61 * * * *')
      tick(): void {}
    }
    await expect(
      NestFactory.createApplicationContext(appModule({ timezone: 'UTC' }, [Broken]), {
        logger: false,
        abortOnError: false,
      }),
    ).rejects.toThrow(/61/);
  });

  it('refuses a decorated method on a request-scoped provider', async () => {
    @Injectable({ scope: Scope.REQUEST })
    class PerRequest {
      @Interval({ seconds: 1 })
      tick(): void {}
    }
    @Injectable()
    class UsesIt {
      constructor(@Inject(PerRequest) readonly p: PerRequest) {}
    }
    await expect(
      NestFactory.createApplicationContext(appModule({ timezone: 'UTC' }, [PerRequest, UsesIt]), {
        logger: false,
        abortOnError: false,
      }),
    ).rejects.toThrow(
      /PerRequest\.tick is decorated as a job, but its provider is request- or transient-scoped/,
    );
  });
});

describe('TickworkModule on a persistent store', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tickwork-nest-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps ids stable across restarts and removes the jobs whose decorator is gone', async () => {
    const path = join(dir, 'jobs.db');
    @Injectable()
    class V1 {
      @Cron('0 9 * * *', { timezone: 'UTC' })
      nightly(): void {}
      @Interval({ minutes: 5 })
      retired(): void {}
    }
    const first = await NestFactory.createApplicationContext(
      appModule({ timezone: 'UTC', jobstores: { default: new SqliteJobStore({ path }) } }, [V1]),
      { logger: false },
    );
    expect((await first.get(BackgroundScheduler).getJobs()).map((j) => j.id).sort()).toEqual([
      'V1.nightly',
      'V1.retired',
    ]);
    await first.close();

    // The next deploy: the same class name with one decorator removed.
    const V2 = (() => {
      @Injectable()
      class V1 {
        @Cron('0 9 * * *', { timezone: 'UTC' })
        nightly(): void {}
        retired(): void {}
      }
      return V1;
    })();
    const second = await NestFactory.createApplicationContext(
      appModule({ timezone: 'UTC', jobstores: { default: new SqliteJobStore({ path }) } }, [V2]),
      { logger: false },
    );
    expect((await second.get(BackgroundScheduler).getJobs()).map((j) => j.id)).toEqual(['V1.nightly']);
    await second.close();
  });

  it('removes at start-up the jobs of a provider class that is gone (their task is unknown here)', async () => {
    const path = join(dir, 'jobs.db');
    // An earlier deploy, in a process of its own, had a provider this application no longer has.
    const earlier = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `import { BackgroundScheduler, SqliteJobStore, registerTask } from ${JSON.stringify(SRC)};
         registerTask('OldService.cleanup', () => undefined);
         const s = new BackgroundScheduler({ timezone: 'UTC', jobstores: { default: new SqliteJobStore({ path: ${JSON.stringify(path)} }) } });
         await s.start({ paused: true });
         await s.addJob('OldService.cleanup', 'interval', { id: 'OldService.cleanup', hours: 1 });
         await s.addJob('OldService.cleanup', 'interval', { id: 'kept-by-hand', hours: 1 });
         await s.shutdown();`,
      ],
      { encoding: 'utf8' },
    );
    expect(earlier.status, earlier.stderr).toBe(0);

    @Injectable()
    class NewService {
      @Interval({ hours: 1 })
      sync(): void {}
    }
    const open = (removeStaleJobs?: boolean) =>
      NestFactory.createApplicationContext(
        appModule(
          { timezone: 'UTC', removeStaleJobs, jobstores: { default: new SqliteJobStore({ path }) } },
          [NewService],
        ),
        { logger: false },
      );
    const ids = async (app: Awaited<ReturnType<typeof open>>) =>
      (await app.get(BackgroundScheduler).getJobs())
        .map((j) => `${j.id}${j.broken === null ? '' : ' (broken)'}`)
        .sort();

    // With removeStaleJobs off, the old jobs stay, shown as broken.
    const kept = await open(false);
    expect(await ids(kept)).toEqual([
      'NewService.sync',
      'OldService.cleanup (broken)',
      'kept-by-hand (broken)',
    ]);
    await kept.close();

    // By default both name the gone class's task and are removed (whatever their id).
    const cleaned = await open();
    expect(await ids(cleaned)).toEqual(['NewService.sync']);
    await cleaned.close();
  });
});
