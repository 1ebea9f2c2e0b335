import { describe, expect, it } from 'vitest';
import { JobLookupError, JobPausedError, SchedulerNotRunningError } from '../../../src/index.js';
import { at, HOUR, MINUTE, named, SECOND } from '../../helpers/scheduler.js';
import {
  calls,
  flakyTask,
  gateTask,
  type Harness,
  openGates,
  recordTask,
  rejection,
  type Suite,
} from './harness.js';

/** The JobStore suite: run history, retries and run now. */
export function describeHistoryTests(t: Suite): void {
  const { open, stop, settle, advanceTo, executed, missed, run } = t;
  describe('run history and retries', () => {
    /** Takes the job errors a test expects out of the logger, so the afterEach check passes. */
    const takeErrors = (h: Harness) => h.logger.errors.splice(0).map((e) => String(e[1]));

    it('records each run, newest first, with its outcome, times, value and error', async () => {
      const h = await open();
      await h.scheduler.addJob(recordTask, 'interval', {
        seconds: 10,
        id: 'ok',
        name: 'Fine',
        args: ['x'],
      });
      await h.scheduler.addJob(flakyTask, 'date', {
        runDate: at(15 * SECOND),
        id: 'bad',
        args: ['bad', 1],
      });
      await advanceTo(at(10 * SECOND));
      await advanceTo(at(15 * SECOND));
      await advanceTo(at(20 * SECOND));
      const runs = await h.scheduler.getRuns();
      expect(runs.map((r) => [r.jobId, r.outcome, r.scheduledRunTime.toISOString(), r.attempt])).toEqual([
        ['ok', 'success', at(20 * SECOND).toISOString(), 1],
        ['bad', 'error', at(15 * SECOND).toISOString(), 1],
        ['ok', 'success', at(10 * SECOND).toISOString(), 1],
      ]);
      const [latest, failed] = runs;
      expect(latest).toMatchObject({
        jobName: 'Fine',
        jobstore: 'default',
        startedAt: at(20 * SECOND),
        finishedAt: at(20 * SECOND),
        error: null,
        retval: null,
        schedulerId: h.scheduler.schedulerId,
      });
      expect(failed.error).toMatchObject({ name: 'Error', message: 'try 1 of bad failed' });
      expect(failed.error?.stack).toContain('try 1 of bad failed');
      expect(failed.retval).toBeNull();
      // The date job is gone; its run stays in the history.
      expect(await h.scheduler.getJob('bad')).toBeNull();
      expect((await h.scheduler.getRuns({ jobId: 'bad' })).map((r) => r.outcome)).toEqual(['error']);
      expect(
        (await h.scheduler.getRuns({ outcome: ['success'], limit: 1 })).map((r) => r.finishedAt),
      ).toEqual([at(20 * SECOND)]);
      expect(
        (await h.scheduler.getRuns({ since: at(12 * SECOND), until: at(16 * SECOND) })).map((r) => r.jobId),
      ).toEqual(['bad']);
      expect(takeErrors(h)).toEqual(['Job "bad" raised an error']);
    });

    it('getLatestRuns gives the newest run of each job asked for, newest first; a job with none is absent', async () => {
      const h = await open();
      await h.scheduler.addJob(recordTask, 'interval', { seconds: 10, id: 'often', args: ['o'] });
      await h.scheduler.addJob(recordTask, 'interval', { seconds: 15, id: 'seldom', args: ['s'] });
      await h.scheduler.addJob(recordTask, 'interval', { hours: 1, id: 'never', args: ['n'] });
      await advanceTo(at(10 * SECOND));
      await advanceTo(at(15 * SECOND));
      await advanceTo(at(20 * SECOND));
      const latest = await h.scheduler.getLatestRuns(['seldom', 'never', 'often', 'unknown', 'often']);
      expect(latest.map((r) => [r.jobId, r.jobstore, r.scheduledRunTime.toISOString()])).toEqual([
        ['often', 'default', at(20 * SECOND).toISOString()],
        ['seldom', 'default', at(15 * SECOND).toISOString()],
      ]);
      expect(await h.scheduler.getLatestRuns([])).toEqual([]);
      expect(await h.scheduler.getLatestRuns(['often'], 'default')).toHaveLength(1);
      await expect(h.scheduler.getLatestRuns('often' as unknown as string[])).rejects.toThrow(
        'Expected jobIds to be an array of job ids, got "often"',
      );
      await expect(h.scheduler.getLatestRuns(['often', 7 as unknown as string])).rejects.toThrow(
        'Expected jobIds[1] to be a string, got 7',
      );
    });

    it('tries a failed run again after its delay, with the attempt counted, until it succeeds', async () => {
      const h = await open();
      await h.scheduler.addJob(flakyTask, 'interval', {
        hours: 1,
        id: 'flaky',
        args: ['flaky', 2],
        retry: { attempts: 3, delay: 2, factor: 3 },
      });
      await advanceTo(at(HOUR));
      const errors = named(h.events, 'job_error');
      expect(errors.map((e) => [e.attempt, e.willRetry])).toEqual([[1, true]]);
      expect(named(h.events, 'job_retry').map((e) => [e.attempt, e.nextRunTime.toISOString()])).toEqual([
        [2, at(HOUR + 2 * SECOND).toISOString()],
      ]);
      // The retry does not move the job's next run time, and the store wakes the scheduler for it.
      expect((await h.scheduler.getJob('flaky'))?.nextRunTime).toEqual(at(2 * HOUR));
      await advanceTo(at(HOUR + 2 * SECOND));
      expect(named(h.events, 'job_retry').map((e) => [e.attempt, e.nextRunTime.toISOString()])).toEqual([
        [2, at(HOUR + 2 * SECOND).toISOString()],
        [3, at(HOUR + 8 * SECOND).toISOString()],
      ]);
      await advanceTo(at(HOUR + 8 * SECOND));
      const executed = named(h.events, 'job_executed');
      expect(executed.map((e) => [e.scheduledRunTime.toISOString(), e.attempt, e.retval])).toEqual([
        [at(HOUR).toISOString(), 3, { key: 'flaky', try: 3 }],
      ]);
      const runs = await h.scheduler.getRuns({ jobId: 'flaky' });
      expect(runs.map((r) => [r.attempt, r.outcome, r.scheduledRunTime.toISOString()])).toEqual([
        [3, 'success', at(HOUR).toISOString()],
        [2, 'error', at(HOUR).toISOString()],
        [1, 'error', at(HOUR).toISOString()],
      ]);
      expect(runs[0].retval).toEqual({ key: 'flaky', try: 3 });
      expect(calls.filter((c) => c.task === 'flaky')).toHaveLength(3);
      expect(takeErrors(h)).toHaveLength(2);
    });

    it('stops after the last attempt: job_error says it will not retry', async () => {
      const h = await open();
      await h.scheduler.addJob(flakyTask, 'date', {
        runDate: at(SECOND),
        id: 'hopeless',
        args: ['hopeless', 99],
        retry: { attempts: 1, delay: 5 },
      });
      await advanceTo(at(SECOND));
      await advanceTo(at(6 * SECOND));
      await advanceTo(at(HOUR));
      expect(named(h.events, 'job_error').map((e) => [e.attempt, e.willRetry])).toEqual([
        [1, true],
        [2, false],
      ]);
      expect(calls.filter((c) => c.task === 'flaky')).toHaveLength(2);
      expect(takeErrors(h)).toHaveLength(2);
    });

    it('pausing or removing the job cancels its waiting retry', async () => {
      const h = await open();
      for (const id of ['paused', 'removed']) {
        await h.scheduler.addJob(flakyTask, 'interval', {
          hours: 1,
          id,
          args: [id, 1],
          retry: { attempts: 3, delay: 10 },
        });
      }
      await advanceTo(at(HOUR));
      expect(named(h.events, 'job_retry')).toHaveLength(2);
      await h.scheduler.pauseJob('paused');
      await h.scheduler.removeJob('removed');
      await advanceTo(at(HOUR + 10 * SECOND));
      await h.scheduler.resumeJob('paused');
      await advanceTo(at(HOUR + 30 * SECOND));
      expect(calls.filter((c) => c.task === 'flaky')).toHaveLength(2);
      expect(takeErrors(h)).toHaveLength(2);
    });

    it('prunes the history to maxPerJob', async () => {
      const h = await open(t.store, false);
      h.scheduler.configure({ runHistory: { maxPerJob: 2 } });
      await h.scheduler.start();
      await settle();
      await h.scheduler.addJob(recordTask, 'interval', { seconds: 1, id: 'often' });
      for (let s = 1; s <= 5; s++) await advanceTo(at(s * SECOND));
      expect(await h.scheduler.getRuns({ jobId: 'often' })).toHaveLength(5);
      await h.scheduler.pauseJob('often');
      // The pruning runs at most once a minute, after a pass (the loop wakes once a minute at
      // least), off the path of any run.
      await advanceTo(at(2 * MINUTE));
      const left = await h.scheduler.getRuns({ jobId: 'often' });
      expect(left.map((r) => r.scheduledRunTime)).toEqual([at(5 * SECOND), at(4 * SECOND)]);
    });
  });

  describe('run now', () => {
    it('runJob runs the job once now, with the usual events and history; its next run time stays', async () => {
      const h = await open();
      await h.scheduler.addJob(recordTask, 'interval', { hours: 1, id: 'hourly', args: ['now'] });
      await advanceTo(at(10 * MINUTE));
      const first = await h.scheduler.runJob('hourly');
      await settle();
      // Asked again in the same millisecond: another run, a millisecond later.
      const second = await h.scheduler.runJob('hourly', 'default');
      await settle();
      expect(first).toEqual(at(10 * MINUTE));
      expect(second).toEqual(new Date(at(10 * MINUTE).getTime() + 1));
      expect(calls).toEqual([
        { task: 'record', args: ['now'] },
        { task: 'record', args: ['now'] },
      ]);
      expect(named(h.events, 'job_submitted').map((e) => [e.scheduledRunTimes, e.attempt])).toEqual([
        [[first], 1],
        [[second], 1],
      ]);
      expect(executed(h)).toEqual([run('hourly', first), run('hourly', second)]);
      expect((await h.scheduler.getJob('hourly'))?.nextRunTime).toEqual(at(HOUR));
      const runs = await h.scheduler.getRuns({ jobId: 'hourly' });
      expect(runs.map((r) => [r.outcome, r.scheduledRunTime, r.attempt])).toEqual([
        ['success', second, 1],
        ['success', first, 1],
      ]);
      // Its schedule goes on as before.
      await advanceTo(at(HOUR));
      expect(executed(h)).toEqual([run('hourly', first), run('hourly', second), run('hourly', at(HOUR))]);
    });

    it('runJob refuses a paused or unknown job and a stopped scheduler; a paused scheduler runs it on resume, however late', async () => {
      const h = await open();
      await h.scheduler.addJob(recordTask, 'interval', { hours: 1, id: 'job', args: ['queued'] });
      await h.scheduler.pauseJob('job');
      const paused = await rejection(h.scheduler.runJob('job'));
      expect(paused).toBeInstanceOf(JobPausedError);
      expect(paused.message).toBe('Job "job" is paused: resume it before running it');
      expect(await rejection(h.scheduler.runJob('nope'))).toBeInstanceOf(JobLookupError);
      await h.scheduler.resumeJob('job');
      h.scheduler.pause();
      await advanceTo(at(MINUTE));
      const queued = await h.scheduler.runJob('job');
      await settle();
      expect(calls).toEqual([]);
      h.scheduler.resume();
      await settle();
      expect(calls).toEqual([{ task: 'record', args: ['queued'] }]);
      expect(executed(h)).toEqual([run('job', queued)]);
      // Taken long after it was asked for (no process ran jobs meanwhile): it still runs, as a
      // queued run does; the grace time is for fire times.
      h.scheduler.pause();
      const late = await h.scheduler.runJob('job');
      await advanceTo(at(2 * MINUTE));
      h.scheduler.resume();
      await settle();
      expect(calls).toHaveLength(2);
      expect(executed(h)).toEqual([run('job', queued), run('job', late)]);
      expect(missed(h)).toEqual([]);
      await stop(h);
      expect(await rejection(h.scheduler.runJob('job'))).toBeInstanceOf(SchedulerNotRunningError);
    });

    it('a run asked for counts for maxInstances', async () => {
      const h = await open();
      await h.scheduler.addJob(gateTask, 'interval', {
        hours: 1,
        id: 'busy',
        args: ['busy'],
        maxInstances: 1,
      });
      await advanceTo(at(HOUR));
      expect(calls).toEqual([{ task: 'gate', args: ['busy'] }]);
      const refused = await h.scheduler.runJob('busy');
      // (On a shared store the run going holds this millisecond's claim: the run asked for
      // takes the next, instead of waiting for that claim to go.)
      await settle();
      expect(named(h.events, 'job_max_instances').map((e) => [e.scheduledRunTimes, e.attempt])).toEqual([
        [[refused], 1],
      ]);
      openGates();
      await settle();
      const again = await h.scheduler.runJob('busy');
      await settle();
      openGates();
      await settle();
      expect(calls).toHaveLength(2);
      expect(executed(h)).toEqual([run('busy', at(HOUR)), run('busy', again)]);
      const runs = await h.scheduler.getRuns({ jobId: 'busy' });
      // By the time each ended: the refused run before the run that held the slot.
      expect(runs.map((r) => [r.outcome, r.scheduledRunTime])).toEqual([
        ['success', again],
        ['success', at(HOUR)],
        ['max_instances', refused],
      ]);
    });
  });
}
