import { describe, expect, it } from 'vitest';
import { CronTrigger, IntervalTrigger, OrTrigger } from '../../../src/index.js';
import { at, named, SECOND } from '../../helpers/scheduler.js';
import { calls, recordTask, type Suite } from './harness.js';

/**
 * The JobStore suite: runs claimed ahead of their fire time on a shared store (`claimAhead`,
 * 0.25 s by default): started at their time, not before; cancelled by a pause, a new schedule
 * or a removal made through the scheduler; given back by a clean shutdown.
 */
export function describeClaimAheadTests(t: Suite): void {
  const { open, stop, advanceTo, executed, run } = t;
  const factory = t.factory;
  if (!factory.persistent) return;
  describe('runs claimed ahead of their time', () => {
    it('claims a run 0.25 s ahead and starts it at its fire time, not before', async () => {
      const h = await open();
      expect(t.store.claimAheadMs).toBe(250);
      await h.scheduler.addJob(recordTask, 'interval', { seconds: 10, id: 'tick' });
      await advanceTo(at(10 * SECOND - 300));
      expect((await h.scheduler.getJob('tick'))?.nextRunTime).toEqual(at(10 * SECOND));
      await advanceTo(at(10 * SECOND - 250));
      // Claimed: the store has moved on to the next fire time; nothing ran yet.
      expect((await h.scheduler.getJob('tick'))?.nextRunTime).toEqual(at(20 * SECOND));
      await advanceTo(at(10 * SECOND - 1));
      expect(executed(h)).toEqual([]);
      expect(named(h.events, 'job_submitted')).toEqual([]);
      await advanceTo(at(10 * SECOND));
      expect(executed(h)).toEqual([run('tick', at(10 * SECOND))]);
      expect(named(h.events, 'job_executed')[0].scheduledRunTime).toEqual(at(10 * SECOND));
    });

    it('every trigger kind firing each second runs each fire time once (cron, interval, or)', async () => {
      const h = await open();
      await h.scheduler.addJob(recordTask, 'cron', { second: '*', id: 'cron' });
      await h.scheduler.addJob(recordTask, 'interval', { seconds: 1, id: 'interval' });
      const or = new OrTrigger([
        new CronTrigger({ second: '*/2', timezone: 'UTC' }),
        new IntervalTrigger({ seconds: 3, startDate: at(0), timezone: 'UTC' }),
      ]);
      await h.scheduler.addJob(recordTask, or, { id: 'or' });
      for (let ms = 50; ms <= 6 * SECOND; ms += 50) await advanceTo(at(ms));
      const fires = (id: string, seconds: number[]) => seconds.map((s) => run(id, at(s * SECOND)));
      expect(executed(h).sort()).toEqual(
        [
          ...fires('cron', [0, 1, 2, 3, 4, 5, 6]),
          ...fires('interval', [1, 2, 3, 4, 5, 6]),
          ...fires('or', [0, 2, 3, 4, 6]),
        ].sort(),
      );
      expect((await h.scheduler.getJob('cron'))?.nextRunTime).toEqual(at(7 * SECOND));
      expect(named(h.events, 'job_missed')).toEqual([]);
    });

    it('a pause, a new schedule or a removal cancels the claimed run; a modification runs the changed job', async () => {
      const h = await open();
      for (const id of ['paused', 'rescheduled', 'removed', 'modified']) {
        await h.scheduler.addJob(recordTask, 'interval', {
          seconds: 10,
          id,
          args: [id],
          misfireGraceTime: null,
        });
      }
      await advanceTo(at(10 * SECOND - 100));
      await h.scheduler.pauseJob('paused');
      await h.scheduler.rescheduleJob('rescheduled', 'interval', { seconds: 30 });
      await h.scheduler.removeJob('removed');
      await h.scheduler.modifyJob('modified', { args: ['changed'] });
      await advanceTo(at(10 * SECOND));
      expect(executed(h)).toEqual([run('modified', at(10 * SECOND))]);
      expect(calls).toEqual([{ task: 'record', args: ['changed'] }]);
      // The cancelled claims are gone: nothing is reported abandoned, and the rescheduled job
      // runs on its new schedule only.
      await advanceTo(at(40 * SECOND - 100));
      await advanceTo(at(40 * SECOND));
      expect(executed(h)).toContain(run('rescheduled', at(40 * SECOND - 100)));
      expect(named(h.events, 'job_error')).toEqual([]);
      const history = await h.scheduler.getRuns({ limit: 100 });
      expect(history.filter((r) => r.outcome !== 'success')).toEqual([]);
      expect(history.filter((r) => r.jobId === 'paused' || r.jobId === 'removed')).toEqual([]);
    });

    it('a job set back to its claimed fire time runs it once; a new trigger alone keeps the claimed run', async () => {
      const h = await open();
      await h.scheduler.addJob(recordTask, 'interval', { seconds: 10, id: 'back', misfireGraceTime: null });
      await h.scheduler.addJob(recordTask, 'interval', {
        seconds: 10,
        id: 'retriggered',
        misfireGraceTime: null,
      });
      await advanceTo(at(10 * SECOND - 100));
      expect((await h.scheduler.getJob('back'))?.nextRunTime).toEqual(at(20 * SECOND));
      // The claim of 10 s is deleted before the row says 10 s again, so it is claimed afresh.
      await h.scheduler.modifyJob('back', { nextRunTime: at(10 * SECOND) });
      await h.scheduler.modifyJob('retriggered', {
        trigger: new IntervalTrigger({ seconds: 30, startDate: at(0), timezone: 'UTC' }),
      });
      await advanceTo(at(10 * SECOND));
      await advanceTo(at(20 * SECOND));
      expect(executed(h).sort()).toEqual(
        [
          run('back', at(10 * SECOND)),
          run('back', at(20 * SECOND)),
          run('retriggered', at(10 * SECOND)),
          run('retriggered', at(20 * SECOND)),
        ].sort(),
      );
      expect(named(h.events, 'job_error')).toEqual([]);
    });

    it('a job added here runs with its arguments as stored, whatever the caller does to them after', async () => {
      const h = await open();
      const arg = { n: 1, list: [1] };
      await h.scheduler.addJob(recordTask, 'interval', { seconds: 10, id: 'tick', args: [arg] });
      arg.n = 2;
      arg.list.push(2);
      await advanceTo(at(10 * SECOND));
      expect(calls).toEqual([{ task: 'record', args: [{ n: 1, list: [1] }] }]);
    });

    it('a clean shutdown gives the claimed run back: the next scheduler runs it once, at its time', async () => {
      const first = await open();
      await first.scheduler.addJob(recordTask, 'interval', {
        seconds: 10,
        id: 'tick',
        misfireGraceTime: null,
      });
      await advanceTo(at(10 * SECOND - 200));
      expect((await first.scheduler.getJob('tick'))?.nextRunTime).toEqual(at(20 * SECOND));
      await stop(first);
      expect(executed(first)).toEqual([]);
      const second = await open(await factory.reopen());
      // A fire time given back waits in the store, due 1 ms after it.
      await advanceTo(at(10 * SECOND));
      expect(executed(second)).toEqual([]);
      await advanceTo(at(10 * SECOND + 1));
      expect(executed(second)).toEqual([run('tick', at(10 * SECOND))]);
      await advanceTo(at(20 * SECOND));
      expect(executed(second)).toEqual([run('tick', at(10 * SECOND)), run('tick', at(20 * SECOND))]);
      const history = await second.scheduler.getRuns({ limit: 100 });
      expect(history.map((r) => [r.outcome, r.scheduledRunTime])).toEqual([
        ['success', at(20 * SECOND)],
        ['success', at(10 * SECOND)],
      ]);
    });
  });
}
