import { describe, expect, it } from 'vitest';
import { at, DAY, HOUR, MINUTE, named, SECOND } from '../../helpers/scheduler.js';
import { calls, recordTask, type Suite, times } from './harness.js';

/** The JobStore suite: running jobs (fire times, order, missed runs, coalescing). */
export function describeRunTests(t: Suite): void {
  const { open, stop, settle, advanceTo, executed, missed, run } = t;
  describe('running jobs', () => {
    it('an interval job fires at its fire times with its args; its next run time advances in the store', async () => {
      const h = await open();
      const args = [new Date(Date.UTC(2026, 5, 1)), { nested: { n: 1 } }];
      await h.scheduler.addJob(recordTask, 'interval', { seconds: 10, id: 'tick', args });
      expect((await h.scheduler.getJob('tick'))?.nextRunTime?.toISOString()).toBe(
        at(10 * SECOND).toISOString(),
      );
      await advanceTo(at(10 * SECOND - 1));
      expect(executed(h)).toEqual([]);
      await advanceTo(at(10 * SECOND));
      expect(executed(h)).toEqual([run('tick', at(10 * SECOND))]);
      expect((await h.scheduler.getJob('tick'))?.nextRunTime?.toISOString()).toBe(
        at(20 * SECOND).toISOString(),
      );
      await advanceTo(at(20 * SECOND));
      await advanceTo(at(25 * SECOND));
      expect(executed(h)).toEqual([run('tick', at(10 * SECOND)), run('tick', at(20 * SECOND))]);
      expect((await h.scheduler.getJob('tick'))?.nextRunTime?.toISOString()).toBe(
        at(30 * SECOND).toISOString(),
      );
      expect(calls).toStrictEqual([
        { task: 'record', args },
        { task: 'record', args },
      ]);
      expect(calls[0].args[0]).toBeInstanceOf(Date);
      expect(named(h.events, 'job_submitted').map((e) => times(e.scheduledRunTimes))).toEqual([
        [at(10 * SECOND).toISOString()],
        [at(20 * SECOND).toISOString()],
      ]);
      expect(missed(h)).toEqual([]);
    });

    it('a date job runs once and is removed', async () => {
      const h = await open();
      await h.scheduler.addJob(recordTask, 'date', {
        runDate: at(5 * SECOND + 5),
        id: 'once',
        args: ['hi'],
      });
      await advanceTo(at(5 * SECOND + 5));
      expect(executed(h)).toEqual([run('once', at(5 * SECOND + 5))]);
      expect(named(h.events, 'job_removed').map((e) => e.jobId)).toEqual(['once']);
      expect(await h.scheduler.getJob('once')).toBeNull();
      expect(await h.scheduler.getJobs()).toEqual([]);
      await advanceTo(at(DAY));
      expect(calls).toEqual([{ task: 'record', args: ['hi'] }]);
    });

    it('getNextRunTime, which the scheduler sleeps until, is the earliest next run time', async () => {
      const h = await open();
      /** Never later than the earliest job; never at or before now while nothing is due. */
      const expectNextRunTime = async (expected: Date | null) => {
        await settle();
        const next = await t.store.getNextRunTime();
        if (expected === null) {
          expect(next).toBeNull();
          return;
        }
        expect(next).not.toBeNull();
        const ms = (next as Date).getTime();
        // A store shared by several schedulers may answer early (a lease ends), never late.
        if (t.store.shared !== true) expect(ms).toBe(expected.getTime());
        expect(ms).toBeLessThanOrEqual(expected.getTime());
        expect(ms).toBeGreaterThan(t.clock.now());
      };
      await expectNextRunTime(null);
      await h.scheduler.addJob(recordTask, 'interval', { hours: 1, id: 'paused', nextRunTime: null });
      await expectNextRunTime(null);
      await h.scheduler.addJob(recordTask, 'interval', {
        hours: 1,
        id: 'late',
        nextRunTime: at(50 * SECOND + 3),
      });
      await h.scheduler.addJob(recordTask, 'interval', {
        hours: 1,
        id: 'early',
        nextRunTime: at(20 * SECOND + 7),
      });
      await expectNextRunTime(at(20 * SECOND + 7));
      await advanceTo(at(20 * SECOND + 7));
      await expectNextRunTime(at(50 * SECOND + 3));
      await h.scheduler.pauseJob('late');
      await expectNextRunTime(at(HOUR + 20 * SECOND + 7));
      await h.scheduler.removeJob('early');
      await expectNextRunTime(null);
      await h.scheduler.resumeJob('paused');
      await expectNextRunTime(at(HOUR));
      expect(executed(h)).toEqual([run('early', at(20 * SECOND + 7))]);
    });

    it('jobs due together are handed to their executors earliest first', async () => {
      const h = await open();
      for (const [id, s] of [
        ['c', 3],
        ['a', 1],
        ['d', 4],
        ['b', 2],
      ] as const) {
        await h.scheduler.addJob(recordTask, 'date', {
          runDate: at(s * SECOND + 500),
          id,
          misfireGraceTime: null,
        });
      }
      await stop(h);
      await advanceTo(at(MINUTE));
      await h.scheduler.start();
      await settle();
      expect(named(h.events, 'job_submitted').map((e) => e.jobId)).toEqual(['a', 'b', 'c', 'd']);
      expect(executed(h)).toEqual(['a', 'b', 'c', 'd'].map((id, i) => run(id, at((i + 1) * SECOND + 500))));
      expect(await h.scheduler.getJobs()).toEqual([]);
    });

    it('jobs due at the same instant each run once', async () => {
      const h = await open();
      const count = 40;
      for (let i = 0; i < count; i++) {
        await h.scheduler.addJob(recordTask, 'interval', { minutes: 1, id: `same-${i}`, args: [i] });
      }
      await advanceTo(at(MINUTE));
      expect(executed(h).sort()).toEqual(
        Array.from({ length: count }, (_, i) => run(`same-${i}`, at(MINUTE))).sort(),
      );
      expect(calls.map((c) => c.args[0]).sort((a, b) => (a as number) - (b as number))).toEqual(
        Array.from({ length: count }, (_, i) => i),
      );
      const jobs = await h.scheduler.getJobs();
      expect(new Set(jobs.map((j) => j.nextRunTime?.toISOString()))).toEqual(
        new Set([at(2 * MINUTE).toISOString()]),
      );
    });

    it('runs missed while the scheduler was stopped coalesce into one run of the latest', async () => {
      const h = await open();
      await h.scheduler.addJob(recordTask, 'interval', { minutes: 1, id: 'c', misfireGraceTime: 30 });
      await stop(h);
      await advanceTo(at(10 * MINUTE + 10 * SECOND));
      await h.scheduler.start();
      await settle();
      expect(executed(h)).toEqual([run('c', at(10 * MINUTE))]);
      expect(named(h.events, 'job_submitted').map((e) => times(e.scheduledRunTimes))).toEqual([
        [at(10 * MINUTE).toISOString()],
      ]);
      expect(missed(h)).toEqual([]);
      expect((await h.scheduler.getJob('c'))?.nextRunTime?.toISOString()).toBe(at(11 * MINUTE).toISOString());
    });

    it('a missed run older than misfireGraceTime is reported as job_missed and not run', async () => {
      const h = await open();
      await h.scheduler.addJob(recordTask, 'interval', { minutes: 1, id: 'late', misfireGraceTime: 30 });
      await stop(h);
      await advanceTo(at(10 * MINUTE + 45 * SECOND));
      await h.scheduler.start();
      await settle();
      expect(executed(h)).toEqual([]);
      expect(missed(h)).toEqual([run('late', at(10 * MINUTE))]);
      expect(calls).toEqual([]);
      expect((await h.scheduler.getJob('late'))?.nextRunTime?.toISOString()).toBe(
        at(11 * MINUTE).toISOString(),
      );
    });

    it('without coalesce, each missed run within the grace time runs and the older ones are missed', async () => {
      const h = await open();
      await h.scheduler.addJob(recordTask, 'interval', {
        minutes: 1,
        id: 'each',
        coalesce: false,
        misfireGraceTime: 150,
      });
      await stop(h);
      await advanceTo(at(10 * MINUTE));
      await h.scheduler.start();
      await settle();
      expect(executed(h)).toEqual([8, 9, 10].map((m) => run('each', at(m * MINUTE))));
      // The seven missed fire times are one event.
      expect(missed(h)).toEqual([run('each', at(MINUTE))]);
      expect(
        named(h.events, 'job_missed').map((e) => [e.missedCount, e.lastMissedTime.toISOString()]),
      ).toEqual([[7, at(7 * MINUTE).toISOString()]]);
      expect((await h.scheduler.getJob('each'))?.nextRunTime?.toISOString()).toBe(
        at(11 * MINUTE).toISOString(),
      );
    });
  });
}
