import { describe, expect, it } from 'vitest';
import {
  AndTrigger,
  CalendarIntervalTrigger,
  ConflictingIdError,
  CronTrigger,
  DateTrigger,
  IntervalTrigger,
  type Job,
  JobLookupError,
  OrTrigger,
  type Trigger,
} from '../../../src/index.js';
import { at, DAY, HOUR, MINUTE, named, SECOND } from '../../helpers/scheduler.js';
import {
  calls,
  fireTimes,
  HOSTILE,
  ids,
  otherTask,
  recordTask,
  rejection,
  type Suite,
  snapshot,
} from './harness.js';

/** The JobStore suite: jobs and their fields, ids and names, order and changes. */
export function describeJobTests(t: Suite): void {
  const { open, settle, advanceTo, executed, run } = t;
  describe('jobs and their fields', () => {
    it('getJob and getJobs give back every field addJob stored', async () => {
      const h = await open();
      const full = await h.scheduler.addJob(recordTask, 'interval', {
        minutes: 5,
        startDate: at(90 * SECOND + 7),
        id: 'full',
        name: 'Every field',
        args: [new Date('1999-12-31T23:59:59.999Z'), { nested: { list: [1, 'two', null, true] } }, 'x'],
        executor: 'other',
        misfireGraceTime: 2.5,
        coalesce: false,
        maxInstances: 3,
        timeout: 7.25,
      });
      const sparse = await h.scheduler.addJob(recordTask, 'cron', {
        minute: '*/15',
        id: 'sparse',
        misfireGraceTime: null,
        coalesce: true,
        maxInstances: 1,
        timeout: null,
        nextRunTime: '2026-01-01T00:00:09.876Z',
      });
      const byName = await h.scheduler.addJob('tickwork-store-suite.other', 'date', {
        runDate: at(3 * DAY + 1),
        id: 'by-name',
      });
      await settle();
      expect(full.nextRunTime?.toISOString()).toBe('2026-01-01T00:01:30.007Z');
      expect(snapshot(full)).toMatchObject({ name: 'Every field', taskRef: 'tickwork-store-suite.record' });
      expect(byName.func).toBe(otherTask);
      for (const job of [full, sparse, byName]) {
        const found = await h.scheduler.getJob(job.id);
        expect(found).not.toBeNull();
        expect(snapshot(found as Job)).toStrictEqual(snapshot(job));
      }
      const all = await h.scheduler.getJobs();
      expect(ids(all)).toEqual(['sparse', 'full', 'by-name']);
      expect(all.map(snapshot)).toStrictEqual([sparse, full, byName].map(snapshot));
      expect((all[1].args[0] as Date).getTime()).toBe(Date.UTC(1999, 11, 31, 23, 59, 59, 999));
      expect(all[1].args[0]).toBeInstanceOf(Date);
      expect(named(h.events, 'job_added').map((e) => [e.jobId, e.jobstore])).toEqual([
        ['full', 'default'],
        ['sparse', 'default'],
        ['by-name', 'default'],
      ]);
    });

    it('args keep Dates, nested objects and every value JSON holds', async () => {
      const h = await open();
      const args = [
        new Date(Date.UTC(2026, 1, 3, 4, 5, 6, 7)),
        { deep: { deeper: { list: [new Date(0), { at: new Date(-1) }], empty: {}, none: [] } } },
        '',
        0,
        -1.5e-7,
        Number.MAX_SAFE_INTEGER,
        1e300,
        true,
        false,
        null,
        [[[]]],
        'unicode 😀 中文 עברית \\ " \' `',
        { $date: 'not a date', $object: 1, 'key with "quotes"': 'v', '': 'empty key' },
      ];
      await h.scheduler.addJob(recordTask, 'interval', { hours: 1, id: 'args', args });
      const found = (await h.scheduler.getJob('args')) as Job;
      expect(found.args).toStrictEqual(args);
      expect((await h.scheduler.getJobs())[0].args).toStrictEqual(args);
    });

    it('triggers of every kind keep their description, JSON and fire times', async () => {
      const h = await open();
      const triggers: Record<string, Trigger> = {
        date: new DateTrigger({ runDate: '2026-03-04T05:06:07.089Z', timezone: 'UTC' }),
        interval: new IntervalTrigger({
          hours: 1,
          seconds: 0.25,
          startDate: at(500),
          endDate: at(90 * DAY),
          timezone: 'Asia/Tokyo',
        }),
        cron: new CronTrigger({ hour: '*/6', minute: 30, dayOfWeek: 'mon-fri', timezone: 'Europe/Berlin' }),
        crontab: CronTrigger.fromCrontab('15 9 * * 1-5', { timezone: 'America/New_York' }),
        calendar: new CalendarIntervalTrigger({
          months: 1,
          hour: 9,
          minute: 30,
          startDate: '2026-01-31',
          timezone: 'Europe/Paris',
        }),
        or: new OrTrigger([
          new CronTrigger({ minute: 30, timezone: 'UTC' }),
          new IntervalTrigger({ minutes: 7 }),
        ]),
        and: new AndTrigger([
          new CronTrigger({ minute: '*/10', timezone: 'UTC' }),
          new CronTrigger({ hour: '9-17', timezone: 'UTC' }),
        ]),
      };
      const added: Job[] = [];
      for (const [id, trigger] of Object.entries(triggers)) {
        added.push(await h.scheduler.addJob(recordTask, trigger, { id }));
      }
      await settle();
      // None is due yet, so the stored next run times are the ones computed at addJob.
      expect(calls).toEqual([]);
      for (const job of added) {
        const found = (await h.scheduler.getJob(job.id)) as Job;
        expect(found.trigger.toString()).toBe(job.trigger.toString());
        expect(found.trigger.toJSON()).toStrictEqual(job.trigger.toJSON());
        expect(fireTimes(found.trigger)).toEqual(fireTimes(job.trigger));
        expect(found.nextRunTime?.toISOString()).toBe(job.nextRunTime?.toISOString());
      }
    });

    it('jobs added before start go to the store when it starts', async () => {
      const h = await open(t.store, false);
      await h.scheduler.addJob(recordTask, 'interval', { seconds: 30, id: 'computed' });
      await h.scheduler.addJob(recordTask, 'interval', {
        seconds: 30,
        id: 'explicit',
        nextRunTime: at(12_345),
      });
      await h.scheduler.addJob(recordTask, 'interval', { seconds: 30, id: 'paused', nextRunTime: null });
      await advanceTo(at(5 * SECOND));
      await h.scheduler.start();
      await settle();
      const jobs = await h.scheduler.getJobs(undefined, false);
      expect(jobs.map((j) => [j.id, j.pending, j.nextRunTime?.toISOString() ?? null])).toEqual([
        ['explicit', false, at(12_345).toISOString()],
        ['computed', false, at(30 * SECOND).toISOString()],
        ['paused', false, null],
      ]);
      expect(await h.scheduler.getJobs(undefined, true)).toEqual([]);
    });
  });

  describe('ids and names', () => {
    it('ids and names with quotes, backslashes, unicode and 1 KB length round-trip exactly', async () => {
      const h = await open();
      for (const [i, text] of HOSTILE.entries()) {
        await h.scheduler.addJob(recordTask, 'date', {
          runDate: at((i + 1) * SECOND),
          id: text,
          name: text,
          misfireGraceTime: null,
        });
      }
      for (const text of HOSTILE) {
        const found = (await h.scheduler.getJob(text)) as Job;
        expect(found).not.toBeNull();
        expect(found.id).toBe(text);
        expect(found.name).toBe(text);
      }
      const all = await h.scheduler.getJobs();
      expect(ids(all)).toEqual(HOSTILE);
      expect(all.map((j) => j.name)).toEqual(HOSTILE);
      // Each of them runs, is reported under its id, and is removed.
      await advanceTo(at(HOUR));
      expect(named(h.events, 'job_executed').map((e) => e.jobId)).toEqual(HOSTILE);
      expect(calls.length).toBe(HOSTILE.length);
      expect(named(h.events, 'job_removed').map((e) => e.jobId)).toEqual(HOSTILE);
      expect(await h.scheduler.getJobs()).toEqual([]);
    });

    it('ids that differ only in case, normalization, spaces or wildcards are different jobs', async () => {
      const h = await open();
      const similar = ['job', 'Job', '\u00e9', 'e\u0301', 'a', 'a ', 'a%', 'a_', 'a*', 'a?', 'ab', 'a\\'];
      for (const [i, id] of similar.entries()) {
        await h.scheduler.addJob(recordTask, 'interval', { hours: 1, id, name: `#${i}` });
      }
      for (const [i, id] of similar.entries()) expect((await h.scheduler.getJob(id))?.name).toBe(`#${i}`);
      for (const absent of ['JOB', 'jo', 'a  ', 'a\u00a0', '%', '_', '*', '?', 'a%b', 'b', 'a\\\\']) {
        expect(await h.scheduler.getJob(absent)).toBeNull();
      }
      await h.scheduler.removeJob('a%');
      await h.scheduler.removeJob('a*');
      await h.scheduler.removeJob('Job');
      expect(ids(await h.scheduler.getJobs()).sort()).toEqual(
        similar.filter((id) => !['a%', 'a*', 'Job'].includes(id)).sort(),
      );
    });

    it('a duplicate id rejects with ConflictingIdError and changes nothing; replaceExisting replaces', async () => {
      const h = await open();
      await h.scheduler.addJob(recordTask, 'interval', { minutes: 1, id: 'dup', name: 'first', args: [1] });
      const error = await rejection(
        h.scheduler.addJob(recordTask, 'interval', { hours: 2, id: 'dup', name: 'second' }),
      );
      expect(error).toBeInstanceOf(ConflictingIdError);
      expect((error as ConflictingIdError).jobId).toBe('dup');
      let jobs = await h.scheduler.getJobs();
      expect(jobs.map((j) => [j.id, j.name, j.trigger.toString(), j.args])).toEqual([
        ['dup', 'first', 'interval[0:01:00]', [1]],
      ]);
      await h.scheduler.addJob(otherTask, 'interval', {
        hours: 2,
        id: 'dup',
        name: 'replaced',
        args: ['new'],
        replaceExisting: true,
      });
      jobs = await h.scheduler.getJobs();
      expect(jobs.map((j) => [j.id, j.name, j.trigger.toString(), j.args, j.func])).toEqual([
        ['dup', 'replaced', 'interval[2:00:00]', ['new'], otherTask],
      ]);
      expect(jobs[0].nextRunTime?.toISOString()).toBe(at(2 * HOUR).toISOString());
      // replaceExisting without a clash just adds.
      await h.scheduler.addJob(recordTask, 'interval', { hours: 3, id: 'fresh', replaceExisting: true });
      expect(ids(await h.scheduler.getJobs())).toEqual(['dup', 'fresh']);
      expect(named(h.events, 'job_added').map((e) => e.jobId)).toEqual(['dup', 'dup', 'fresh']);
    });

    it('unknown ids: getJob gives null and the job methods reject with JobLookupError', async () => {
      const h = await open();
      await h.scheduler.addJob(recordTask, 'interval', { minutes: 1, id: 'known' });
      expect(await h.scheduler.getJob('unknown')).toBeNull();
      const attempts: Array<() => Promise<unknown>> = [
        () => h.scheduler.modifyJob('unknown', { name: 'x' }),
        () => h.scheduler.rescheduleJob('unknown', 'interval', { minutes: 2 }),
        () => h.scheduler.pauseJob('unknown'),
        () => h.scheduler.resumeJob('unknown'),
        () => h.scheduler.removeJob('unknown'),
      ];
      for (const attempt of attempts) {
        const error = await rejection(attempt());
        expect(error).toBeInstanceOf(JobLookupError);
        expect((error as JobLookupError).jobId).toBe('unknown');
      }
      await h.scheduler.removeJob('known');
      expect(await h.scheduler.getJob('known')).toBeNull();
      expect(await rejection(h.scheduler.removeJob('known'))).toBeInstanceOf(JobLookupError);
      expect(await rejection(h.scheduler.pauseJob('known'))).toBeInstanceOf(JobLookupError);
    });
  });

  describe('order and changes', () => {
    it('getJobs orders jobs by next run time, paused jobs last', async () => {
      const h = await open();
      const plan: Array<[string, number | null]> = [
        ['m', 40],
        ['p1', null],
        ['z', 5],
        ['a', 70],
        ['p2', null],
        ['k', 6],
        ['b', 1],
      ];
      for (const [id, s] of plan) {
        await h.scheduler.addJob(recordTask, 'interval', {
          minutes: 10,
          id,
          nextRunTime: s === null ? null : at(s * SECOND + 1),
        });
      }
      const order = async () => {
        const jobs = await h.scheduler.getJobs();
        const running = jobs.filter((j) => j.nextRunTime !== null);
        // Paused jobs come after every scheduled one; among themselves the order is the store's.
        expect(jobs.slice(0, running.length)).toEqual(running);
        return [ids(running), ids(jobs.slice(running.length)).sort()];
      };
      expect(await order()).toEqual([
        ['b', 'z', 'k', 'm', 'a'],
        ['p1', 'p2'],
      ]);
      await h.scheduler.modifyJob('a', { nextRunTime: at(2 * SECOND) });
      await h.scheduler.pauseJob('z');
      await h.scheduler.modifyJob('p1', { nextRunTime: at(30 * SECOND) });
      expect(await order()).toEqual([
        ['b', 'a', 'k', 'p1', 'm'],
        ['p2', 'z'],
      ]);
      // The store keeps the order itself (SPEC section 7), not only the scheduler's sort.
      const stored = await t.store.getAllJobs();
      expect(ids(stored.slice(0, 5))).toEqual(['b', 'a', 'k', 'p1', 'm']);
      expect(ids(stored.slice(5)).sort()).toEqual(['p2', 'z']);
    });

    it('a paused job keeps its place but does not run; resumeJob schedules it from now', async () => {
      const h = await open();
      await h.scheduler.addJob(recordTask, 'interval', { seconds: 10, id: 'tick' });
      await h.scheduler.addJob(recordTask, 'interval', { hours: 1, id: 'other' });
      const paused = await h.scheduler.pauseJob('tick');
      expect(paused.nextRunTime).toBeNull();
      expect((await h.scheduler.getJob('tick'))?.nextRunTime).toBeNull();
      expect(ids(await h.scheduler.getJobs())).toEqual(['other', 'tick']);
      await advanceTo(at(35 * SECOND));
      expect(executed(h)).toEqual([]);
      const resumed = (await h.scheduler.resumeJob('tick')) as Job;
      expect(resumed.nextRunTime?.toISOString()).toBe(at(40 * SECOND).toISOString());
      expect((await h.scheduler.getJob('tick'))?.nextRunTime?.toISOString()).toBe(
        at(40 * SECOND).toISOString(),
      );
      expect(ids(await h.scheduler.getJobs())).toEqual(['tick', 'other']);
      await advanceTo(at(40 * SECOND));
      expect(executed(h)).toEqual([run('tick', at(40 * SECOND))]);
      expect(named(h.events, 'job_modified').map((e) => e.jobId)).toEqual(['tick', 'tick']);
    });

    it('resumeJob removes a job whose trigger has no fire time left', async () => {
      const h = await open();
      await h.scheduler.addJob(recordTask, 'interval', {
        seconds: 10,
        startDate: at(10 * SECOND),
        endDate: at(15 * SECOND),
        id: 'once',
        nextRunTime: null,
      });
      await advanceTo(at(20 * SECOND));
      expect(await h.scheduler.resumeJob('once')).toBeNull();
      expect(await h.scheduler.getJob('once')).toBeNull();
      expect(await h.scheduler.getJobs()).toEqual([]);
      expect(named(h.events, 'job_removed').map((e) => e.jobId)).toEqual(['once']);
      expect(calls).toEqual([]);
    });

    it('modifyJob changes every field it is given, and the job runs at a changed next run time', async () => {
      const h = await open();
      await h.scheduler.addJob(recordTask, 'interval', { hours: 1, id: 'mod', name: 'before', args: [1] });
      const changed = await h.scheduler.modifyJob('mod', {
        name: 'after',
        func: otherTask,
        args: [new Date(Date.UTC(2030, 0, 1)), { k: ['v'] }],
        executor: 'other',
        misfireGraceTime: null,
        coalesce: false,
        maxInstances: 4,
        timeout: 0.5,
      });
      const found = (await h.scheduler.getJob('mod')) as Job;
      expect(snapshot(found)).toStrictEqual(snapshot(changed));
      expect(snapshot(found)).toMatchObject({
        name: 'after',
        taskRef: 'tickwork-store-suite.other',
        args: [new Date(Date.UTC(2030, 0, 1)), { k: ['v'] }],
        executor: 'other',
        misfireGraceTime: null,
        coalesce: false,
        maxInstances: 4,
        timeout: 0.5,
        nextRunTime: at(HOUR).toISOString(),
      });
      await h.scheduler.modifyJob('mod', { nextRunTime: at(90 * SECOND + 250) });
      expect((await h.scheduler.getJob('mod'))?.nextRunTime?.toISOString()).toBe(
        at(90 * SECOND + 250).toISOString(),
      );
      await advanceTo(at(90 * SECOND + 249));
      expect(executed(h)).toEqual([]);
      await advanceTo(at(90 * SECOND + 250));
      expect(executed(h)).toEqual([run('mod', at(90 * SECOND + 250))]);
      expect(calls).toEqual([{ task: 'other', args: [new Date(Date.UTC(2030, 0, 1)), { k: ['v'] }] }]);
      expect((await h.scheduler.getJob('mod'))?.nextRunTime?.toISOString()).toBe(
        at(HOUR + 90 * SECOND + 250).toISOString(),
      );
    });

    it('rescheduleJob gives the job a new trigger and next run time', async () => {
      const h = await open();
      await h.scheduler.addJob(recordTask, 'interval', { seconds: 10, id: 'resched' });
      await advanceTo(at(2 * SECOND));
      const job = await h.scheduler.rescheduleJob('resched', 'cron', { minute: '*/5', timezone: 'UTC' });
      expect(job.nextRunTime?.toISOString()).toBe(at(5 * MINUTE).toISOString());
      const found = (await h.scheduler.getJob('resched')) as Job;
      expect(found.trigger.toString()).toBe(job.trigger.toString());
      expect(found.trigger.toJSON()).toStrictEqual(job.trigger.toJSON());
      expect(found.nextRunTime?.toISOString()).toBe(at(5 * MINUTE).toISOString());
      await advanceTo(at(MINUTE));
      expect(executed(h)).toEqual([]);
      await advanceTo(at(5 * MINUTE));
      expect(executed(h)).toEqual([run('resched', at(5 * MINUTE))]);
      expect((await h.scheduler.getJob('resched'))?.nextRunTime?.toISOString()).toBe(
        at(10 * MINUTE).toISOString(),
      );
    });

    it('removeJob removes one job, which then never runs; its id may be used again', async () => {
      const h = await open();
      await h.scheduler.addJob(recordTask, 'interval', { seconds: 10, id: 'gone' });
      await h.scheduler.addJob(recordTask, 'interval', { seconds: 10, id: 'kept' });
      await h.scheduler.removeJob('gone');
      expect(await h.scheduler.getJob('gone')).toBeNull();
      expect(ids(await h.scheduler.getJobs())).toEqual(['kept']);
      expect(named(h.events, 'job_removed').map((e) => [e.jobId, e.jobstore])).toEqual([['gone', 'default']]);
      await advanceTo(at(10 * SECOND));
      expect(executed(h)).toEqual([run('kept', at(10 * SECOND))]);
      await h.scheduler.addJob(recordTask, 'date', { runDate: at(15 * SECOND), id: 'gone', name: 'again' });
      expect((await h.scheduler.getJob('gone'))?.name).toBe('again');
      await advanceTo(at(15 * SECOND));
      expect(executed(h)).toEqual([run('kept', at(10 * SECOND)), run('gone', at(15 * SECOND))]);
    });

    it('removeAllJobs empties the store', async () => {
      const h = await open();
      for (let i = 0; i < 6; i++) {
        await h.scheduler.addJob(recordTask, 'interval', {
          seconds: 10 + i,
          id: `j${i}`,
          nextRunTime: i % 3 === 0 ? null : undefined,
        });
      }
      expect((await h.scheduler.getJobs()).length).toBe(6);
      await h.scheduler.removeAllJobs();
      expect(await h.scheduler.getJobs()).toEqual([]);
      expect(await h.scheduler.getJob('j1')).toBeNull();
      expect(named(h.events, 'all_jobs_removed').map((e) => e.alias)).toEqual(['default']);
      await advanceTo(at(HOUR));
      expect(executed(h)).toEqual([]);
      await h.scheduler.addJob(recordTask, 'interval', { seconds: 10, id: 'j1' });
      expect(ids(await h.scheduler.getJobs())).toEqual(['j1']);
    });
  });
}
