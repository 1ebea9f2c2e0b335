import { describe, expect, it } from 'vitest';
import { ConflictingIdError, type Job, SerializationError, TaskLookupError } from '../../../src/index.js';
import { at, HOUR, MINUTE, named, SECOND } from '../../helpers/scheduler.js';
import { calls, HOSTILE, ids, recordTask, rejection, type Suite, snapshot } from './harness.js';

/** The JobStore suite: what persistent stores keep across restarts, and what the memory store holds as is. */
export function describePersistenceTests(t: Suite): void {
  const { open, stop, settle, advanceTo, executed, missed, run } = t;
  const factory = t.factory;
  if (factory.persistent) {
    describe('persistence', () => {
      it('jobs, their fields and next run times survive a restart', async () => {
        const first = await open();
        await first.scheduler.addJob(recordTask, 'interval', {
          seconds: 10,
          id: 'tick',
          name: 'Tick ‘quoted’',
          args: [new Date(Date.UTC(2020, 1, 29, 12)), { deep: { list: [1, { d: new Date(5) }] } }],
          executor: 'other',
          misfireGraceTime: null,
          coalesce: false,
          maxInstances: 2,
          timeout: 1.5,
        });
        await first.scheduler.addJob(recordTask, 'cron', {
          hour: 9,
          minute: 30,
          timezone: 'Europe/Berlin',
          id: 'paused',
          nextRunTime: null,
        });
        await first.scheduler.addJob('tickwork-store-suite.other', 'date', {
          runDate: at(3 * HOUR + 456),
          id: HOSTILE[5],
          name: HOSTILE[17],
        });
        await first.scheduler.addJob(recordTask, 'calendarinterval', {
          days: 1,
          hour: 6,
          timezone: 'America/New_York',
          id: 'daily',
          misfireGraceTime: 0.125,
        });
        await advanceTo(at(10 * SECOND));
        const before = (await first.scheduler.getJobs()).map(snapshot);
        expect(before.map((j) => [j.id, j.nextRunTime])).toEqual([
          ['tick', at(20 * SECOND).toISOString()],
          [HOSTILE[5], at(3 * HOUR + 456).toISOString()],
          ['daily', '2026-01-01T11:00:00.000Z'],
          ['paused', null],
        ]);
        await stop(first);

        const second = await open(await factory.reopen());
        expect((await second.scheduler.getJobs()).map(snapshot)).toStrictEqual(before);
        const tick = (await second.scheduler.getJob('tick')) as Job;
        expect(tick.args[0]).toBeInstanceOf(Date);
        // The restored jobs run in the new scheduler.
        await advanceTo(at(20 * SECOND));
        expect(executed(second)).toEqual([run('tick', at(20 * SECOND))]);
        expect(calls.map((c) => c.args)).toStrictEqual([tick.args, tick.args]);
      });

      it('a run before a restart does not run again; runs missed while down follow the run rules', async () => {
        const first = await open();
        await first.scheduler.addJob(recordTask, 'interval', {
          seconds: 10,
          id: 'tick',
          misfireGraceTime: 30,
        });
        await first.scheduler.addJob(recordTask, 'date', {
          runDate: at(15 * SECOND),
          id: 'once',
          misfireGraceTime: null,
        });
        await first.scheduler.addJob(recordTask, 'interval', {
          seconds: 25,
          id: 'strict',
          misfireGraceTime: 1,
          startDate: at(30 * SECOND),
        });
        await advanceTo(at(10 * SECOND));
        expect(executed(first)).toEqual([run('tick', at(10 * SECOND))]);
        await stop(first);

        // Restarted at the same instant: nothing is due again.
        const second = await open(await factory.reopen());
        expect(executed(second)).toEqual([]);
        expect((await second.scheduler.getJob('tick'))?.nextRunTime?.toISOString()).toBe(
          at(20 * SECOND).toISOString(),
        );
        await stop(second);

        // Down from 10 s to 65 s: tick coalesces into 60 s (5 s late, within 30 s), once runs
        // late (no grace limit) and is removed, strict's 55 s run is 10 s late: missed.
        await advanceTo(at(65 * SECOND));
        const third = await open(await factory.reopen());
        expect(executed(third).sort()).toEqual([run('once', at(15 * SECOND)), run('tick', at(60 * SECOND))]);
        expect(missed(third)).toEqual([run('strict', at(55 * SECOND))]);
        expect(named(third.events, 'job_removed').map((e) => e.jobId)).toEqual(['once']);
        expect(
          (await third.scheduler.getJobs()).map((j) => [j.id, j.nextRunTime?.toISOString() ?? null]),
        ).toEqual([
          ['tick', at(70 * SECOND).toISOString()],
          ['strict', at(80 * SECOND).toISOString()],
        ]);
        await stop(third);

        const fourth = await open(await factory.reopen());
        expect(ids(await fourth.scheduler.getJobs()).sort()).toEqual(['strict', 'tick']);
        expect(calls.length).toBe(3);
      });

      it('an unregistered function fails at addJob with TaskLookupError, and nothing is added', async () => {
        const h = await open();
        function notRegistered(): void {}
        const attempts: Array<() => Promise<unknown>> = [
          () => h.scheduler.addJob(notRegistered, 'interval', { seconds: 10, id: 'named' }),
          () => h.scheduler.addJob(() => undefined, 'interval', { seconds: 10, id: 'arrow' }),
          () => h.scheduler.addJob('no-such-task', 'interval', { seconds: 10, id: 'by-name' }),
        ];
        for (const attempt of attempts) expect(await rejection(attempt())).toBeInstanceOf(TaskLookupError);
        expect(await h.scheduler.getJobs()).toEqual([]);
        expect(named(h.events, 'job_added')).toEqual([]);

        // Also while stopped (checked before the job is queued), and in modifyJob.
        await h.scheduler.addJob(recordTask, 'interval', { seconds: 10, id: 'kept', name: 'kept' });
        await stop(h);
        expect(await rejection(attempts[0]())).toBeInstanceOf(TaskLookupError);
        expect(await h.scheduler.getJobs(undefined, true)).toEqual([]);
        await h.scheduler.start();
        await settle();
        const error = await rejection(
          h.scheduler.modifyJob('kept', { func: notRegistered, name: 'changed' }),
        );
        expect(error).toBeInstanceOf(TaskLookupError);
        expect(error.message).toContain('registerTask');
        const kept = (await h.scheduler.getJob('kept')) as Job;
        expect([kept.name, kept.func]).toEqual(['kept', recordTask]);
        expect(ids(await h.scheduler.getJobs())).toEqual(['kept']);
      });

      it('a restarted program that adds its jobs again with replaceExisting keeps one of each', async () => {
        const first = await open();
        await first.scheduler.addJob(recordTask, 'interval', { minutes: 1, id: 'report', args: ['v1'] });
        await first.scheduler.addJob(recordTask, 'interval', { minutes: 5, id: 'cleanup' });
        await stop(first);

        // The program starts again and declares its jobs before start, as APScheduler users do.
        await advanceTo(at(30 * SECOND));
        const second = await open(await factory.reopen(), false);
        await second.scheduler.addJob(recordTask, 'interval', {
          minutes: 2,
          id: 'report',
          args: ['v2'],
          replaceExisting: true,
        });
        await second.scheduler.addJob(recordTask, 'interval', {
          minutes: 5,
          id: 'cleanup',
          replaceExisting: true,
        });
        await second.scheduler.start();
        await settle();
        const jobs = await second.scheduler.getJobs();
        expect(jobs.map((j) => [j.id, j.trigger.toString(), j.args, j.nextRunTime?.toISOString()])).toEqual([
          ['report', 'interval[0:02:00]', ['v2'], at(2 * MINUTE + 30 * SECOND).toISOString()],
          ['cleanup', 'interval[0:05:00]', [], at(5 * MINUTE + 30 * SECOND).toISOString()],
        ]);
        await advanceTo(at(2 * MINUTE + 30 * SECOND));
        expect(executed(second)).toEqual([run('report', at(2 * MINUTE + 30 * SECOND))]);
        expect(calls).toEqual([{ task: 'record', args: ['v2'] }]);
      });

      it('start() rejects with ConflictingIdError for a pending job whose id is stored, and starts once fixed', async () => {
        const first = await open();
        await first.scheduler.addJob(recordTask, 'interval', { minutes: 1, id: 'report', args: ['v1'] });
        await stop(first);

        const second = await open(await factory.reopen(), false);
        await second.scheduler.addJob(recordTask, 'interval', { minutes: 5, id: 'cleanup' });
        await second.scheduler.addJob(recordTask, 'interval', { minutes: 2, id: 'report', args: ['v2'] });
        const error = await rejection(second.scheduler.start());
        expect(error).toBeInstanceOf(ConflictingIdError);
        expect(error.message).toContain('"report"');
        expect(second.scheduler.running).toBe(false);
        // Still pending, so the program can fix it.
        expect(ids(await second.scheduler.getJobs(undefined, true))).toEqual(['report']);
        await second.scheduler.addJob(recordTask, 'interval', {
          minutes: 2,
          id: 'report',
          args: ['v3'],
          replaceExisting: true,
        });
        await second.scheduler.start();
        await settle();
        const jobs = await second.scheduler.getJobs();
        expect(jobs.map((j) => [j.id, j.trigger.toString(), j.args])).toEqual([
          ['report', 'interval[0:02:00]', ['v3']],
          ['cleanup', 'interval[0:05:00]', []],
        ]);
        expect(named(second.events, 'scheduler_started')).toHaveLength(1);
      });

      it('args that JSON and Date cannot hold fail at addJob with SerializationError naming where', async () => {
        const h = await open();
        class Connection {
          host = 'db';
        }
        const circular: Record<string, unknown> = { name: 'loop' };
        circular.self = circular;
        const cases: Array<[unknown[], string]> = [
          [['ok', { conn: () => 1 }], 'args[1].conn'],
          [[1, new Connection()], 'args[1]'],
          [[{ list: [1, 2, { big: 10n }] }], 'args[0].list[2].big'],
          [[circular], 'args[0].self'],
          [[Number.NaN], 'args[0]'],
          [[{ n: [Number.POSITIVE_INFINITY] }], 'args[0].n[0]'],
          [[undefined], 'args[0]'],
          [[new Map([[1, 2]])], 'args[0]'],
          [[{ when: new Date(Number.NaN) }], 'args[0].when'],
          [[Symbol('s')], 'args[0]'],
        ];
        for (const [args, path] of cases) {
          const error = await rejection(
            h.scheduler.addJob(recordTask, 'interval', { seconds: 10, id: `bad ${path}`, args }),
          );
          expect(error).toBeInstanceOf(SerializationError);
          expect((error as SerializationError).path).toBe(path);
          expect(error.message).toContain(path);
        }
        expect(await h.scheduler.getJobs()).toEqual([]);
        expect(named(h.events, 'job_added')).toEqual([]);

        await h.scheduler.addJob(recordTask, 'interval', { seconds: 10, id: 'kept', args: ['fine'] });
        const error = await rejection(
          h.scheduler.modifyJob('kept', { args: ['fine', { conn: new Connection() }] }),
        );
        expect(error).toBeInstanceOf(SerializationError);
        expect((error as SerializationError).path).toBe('args[1].conn');
        expect((await h.scheduler.getJob('kept'))?.args).toEqual(['fine']);
        await advanceTo(at(10 * SECOND));
        expect(calls).toEqual([{ task: 'record', args: ['fine'] }]);
      });
    });
  } else {
    describe('in memory', () => {
      it('keeps plain functions and any args as they are', async () => {
        const h = await open();
        class Connection {
          host = 'db';
        }
        const connection = new Connection();
        const seen: unknown[] = [];
        const plain = (conn: Connection, n: bigint) => {
          seen.push(conn, n);
        };
        await h.scheduler.addJob(plain, 'date', {
          runDate: at(SECOND),
          id: 'plain',
          args: [connection, 10n],
        });
        const found = (await h.scheduler.getJob('plain')) as Job;
        expect(found.func).toBe(plain);
        expect(found.taskRef).toBeNull();
        expect(found.args[0]).toBe(connection);
        await advanceTo(at(SECOND));
        expect(seen).toEqual([connection, 10n]);
        expect(seen[0]).toBe(connection);
      });
    });
  }
}
