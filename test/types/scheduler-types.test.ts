/**
 * Type-level checks of the scheduler API, enforced by `tsc --noEmit -p tsconfig.json` (the
 * typecheck step) and by compilers.test.ts under TypeScript 5.9 and 7: trigger-alias options,
 * `args` against the job function's parameters, and typed event payloads. The checks sit in functions that are never called; a runtime test makes
 * vitest collect the file, and `expectTypeOf` asserts types.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type AliasEvent,
  type BackgroundScheduler,
  CronTrigger,
  EVENT_JOB_ERROR,
  EVENT_JOB_EXECUTED,
  EVENT_JOB_SUBMITTED,
  EVENT_JOBSTORE_ADDED,
  EVENT_SCHEDULER_STARTED,
  getJobContext,
  type Job,
  type JobContext,
  type JobExecutionEvent,
  type JobFunction,
  type JobSubmissionEvent,
  type SchedulerEvent,
  type SchedulerEventAny,
  type SchedulerState,
} from '../../src/index.js';

function greet(name: string, times: number): string {
  return name.repeat(times);
}
function optionalArgs(prefix?: string): string {
  return prefix ?? '';
}
function noArgs(): number {
  return 1;
}
async function asyncJob(id: number): Promise<void> {
  void id;
}

// Never called: the lines only have to type-check, or fail to where marked.
async function triggerOptions(scheduler: BackgroundScheduler): Promise<void> {
  expectTypeOf(await scheduler.addJob(noArgs, 'cron', { hour: 9 })).toEqualTypeOf<Job>();
  await scheduler.addJob(noArgs, 'interval', { hours: 1 });
  await scheduler.addJob(noArgs, 'interval', { weeks: 1, days: 2, minutes: 3, seconds: 4.5, jitter: 1 });
  await scheduler.addJob(noArgs, 'cron', { dayOfWeek: 'mon-fri', hour: '9-17', minute: '*/15', second: 0 });
  await scheduler.addJob(noArgs, 'date', { runDate: new Date() });
  await scheduler.addJob(noArgs, 'date', { runDate: '2026-01-01T09:00:00' });
  await scheduler.addJob(noArgs, 'date', { runDate: Date.now() });
  await scheduler.addJob(noArgs, 'calendarinterval', { months: 1, hour: 9 });
  await scheduler.addJob(noArgs, new CronTrigger({ hour: 1 }), { id: 'x', coalesce: false });
  await scheduler.addJob(noArgs);
  await scheduler.addJob(noArgs, 'cron', {
    hour: 9,
    id: 'all',
    name: 'n',
    misfireGraceTime: null,
    coalesce: true,
    maxInstances: 2,
    timeout: 30,
    nextRunTime: null,
    jobstore: 'default',
    executor: 'default',
    replaceExisting: true,
  });
  // @ts-expect-error: `hour` is a cron option; intervals take `hours`
  await scheduler.addJob(noArgs, 'interval', { hour: 9 });
  // @ts-expect-error: `hours` is an interval option; cron takes `hour`
  await scheduler.addJob(noArgs, 'cron', { hours: 1 });
  // @ts-expect-error: `runDate` belongs to date triggers
  await scheduler.addJob(noArgs, 'cron', { runDate: new Date() });
  // @ts-expect-error: interval units are numbers
  await scheduler.addJob(noArgs, 'interval', { minutes: '5' });
  // @ts-expect-error: unknown trigger alias
  await scheduler.addJob(noArgs, 'weekly', {});
  // @ts-expect-error: unknown job option
  await scheduler.addJob(noArgs, 'cron', { hour: 1, colour: 'red' });
  // @ts-expect-error: coalesce is a boolean
  await scheduler.addJob(noArgs, 'cron', { hour: 1, coalesce: 'yes' });
  // @ts-expect-error: misfireGraceTime is seconds or null
  await scheduler.addJob(noArgs, 'cron', { hour: 1, misfireGraceTime: '1s' });
  // @ts-expect-error: a Trigger instance takes no trigger options
  await scheduler.addJob(noArgs, new CronTrigger({ hour: 1 }), { minute: 5 });
  // @ts-expect-error: func must be a function or a task reference string
  await scheduler.addJob(42, 'cron', { hour: 1 });
}

async function jobArgs(scheduler: BackgroundScheduler): Promise<void> {
  await scheduler.addJob(greet, 'cron', { hour: 9, args: ['hi', 2] });
  await scheduler.addJob(greet, new CronTrigger({ hour: 9 }), { args: ['hi', 2] });
  await scheduler.addJob(asyncJob, 'interval', { seconds: 1, args: [7] });
  await scheduler.addJob(optionalArgs, 'interval', { seconds: 1 });
  await scheduler.addJob(optionalArgs, 'interval', { seconds: 1, args: ['p'] });
  await scheduler.addJob((a: number, b?: string) => a + (b ?? ''), 'interval', { seconds: 1, args: [1] });
  // A task reference cannot be checked: any args.
  await scheduler.addJob('report#run', 'cron', { minute: '*/5', args: [1, 'x', { deep: true }] });
  // @ts-expect-error: args must match the parameter types
  await scheduler.addJob(greet, 'cron', { hour: 9, args: ['hi', 'two'] });
  // @ts-expect-error: a function with required parameters needs args
  await scheduler.addJob(greet, 'cron', { hour: 9 });
  // @ts-expect-error: too few args
  await scheduler.addJob(greet, 'cron', { hour: 9, args: ['hi'] });
  // @ts-expect-error: too many args
  await scheduler.addJob(greet, 'cron', { hour: 9, args: ['hi', 2, 3] });
  // @ts-expect-error: args with a Trigger instance are checked too
  await scheduler.addJob(greet, new CronTrigger({ hour: 9 }), { args: [1, 2] });
  // @ts-expect-error: a function without parameters takes no args
  await scheduler.addJob(noArgs, 'cron', { hour: 9, args: [1] });
  // @ts-expect-error: required args, and the options are left out
  await scheduler.addJob(greet, 'cron');
}

function events(scheduler: BackgroundScheduler): void {
  scheduler.on('job_executed', (event) => {
    expectTypeOf(event.name).toEqualTypeOf<'job_executed'>();
    expectTypeOf(event.retval).toBeUnknown();
    expectTypeOf(event.scheduledRunTime).toEqualTypeOf<Date>();
    expectTypeOf(event.jobId).toEqualTypeOf<string>();
    expectTypeOf(event.jobstore).toEqualTypeOf<string>();
    expectTypeOf(event.schedulerId).toEqualTypeOf<string>();
    expectTypeOf(event).toMatchTypeOf<JobExecutionEvent>();
  });
  scheduler.on('job_error', (event) => {
    expectTypeOf(event.error).toBeUnknown();
  });
  scheduler.on('job_submitted', (event) => {
    expectTypeOf(event.scheduledRunTimes).toEqualTypeOf<Date[]>();
    expectTypeOf(event).toMatchTypeOf<JobSubmissionEvent>();
  });
  scheduler.on('job_max_instances', (event) => {
    expectTypeOf(event.scheduledRunTimes).toEqualTypeOf<Date[]>();
  });
  scheduler.on('jobstore_added', (event) => {
    expectTypeOf(event.alias).toEqualTypeOf<string>();
    expectTypeOf(event).toMatchTypeOf<AliasEvent>();
  });
  scheduler.once('scheduler_started', (event) => {
    expectTypeOf(event).toMatchTypeOf<SchedulerEvent>();
    // @ts-expect-error: scheduler events have no jobId
    void event.jobId;
  });
  scheduler.off('job_added', (event) => {
    expectTypeOf(event.jobId).toEqualTypeOf<string>();
  });
  scheduler.addListener((event) => {
    expectTypeOf(event).toEqualTypeOf<SchedulerEventAny>();
    if (event.name === 'job_missed') expectTypeOf(event.scheduledRunTime).toEqualTypeOf<Date>();
  }, EVENT_JOB_EXECUTED);
  // @ts-expect-error: no such event
  scheduler.on('job_exploded', () => {});
  // @ts-expect-error: job_added events carry no retval
  scheduler.on('job_added', (event) => event.retval);
}

async function changes(scheduler: BackgroundScheduler, job: Job): Promise<void> {
  await scheduler.rescheduleJob('x', 'cron', { hour: 9, minute: '*/5' });
  await scheduler.rescheduleJob('x', 'interval', { minutes: 5 }, 'default');
  await scheduler.rescheduleJob('x', new CronTrigger({ hour: 1 }));
  await job.reschedule('calendarinterval', { months: 1 });
  // @ts-expect-error: `hours` is an interval option; cron takes `hour`
  await scheduler.rescheduleJob('x', 'cron', { hours: 1 });
  // @ts-expect-error: a Trigger instance takes no trigger options
  await scheduler.rescheduleJob('x', new CronTrigger({ hour: 1 }), { minute: 5 });
  // @ts-expect-error: unknown trigger alias
  await scheduler.rescheduleJob('x', 'weekly');
  // @ts-expect-error: `minute` is a cron option
  await job.reschedule('interval', { minute: 5 });
  await scheduler.modifyJob('x', { func: greet, args: ['hi', 2] });
  await scheduler.modifyJob('x', { args: [1, 'anything'] });
  await scheduler.modifyJob('x', { func: 'report#run', args: [{ any: 'thing' }] });
  await job.modify({ func: asyncJob, args: [3] });
  // @ts-expect-error: args are checked against the new function's parameters
  await scheduler.modifyJob('x', { func: greet, args: ['hi', 'two'] });
  // @ts-expect-error: too few args for the new function
  await job.modify({ func: greet, args: ['hi'] });
}

function narrowing(event: SchedulerEventAny): void {
  if (event.code === EVENT_JOB_ERROR) {
    expectTypeOf(event.name).toEqualTypeOf<'job_error'>();
    expectTypeOf(event.error).toBeUnknown();
  }
  if (event.code === EVENT_JOB_SUBMITTED) expectTypeOf(event.scheduledRunTimes).toEqualTypeOf<Date[]>();
  if (event.code === EVENT_JOBSTORE_ADDED) expectTypeOf(event.alias).toEqualTypeOf<string>();
  if (event.code === EVENT_SCHEDULER_STARTED) {
    expectTypeOf(event.name).toEqualTypeOf<'scheduler_started'>();
    // @ts-expect-error: scheduler events have no jobId
    void event.jobId;
  }
}

function misc(scheduler: BackgroundScheduler): void {
  expectTypeOf(scheduler.state).toEqualTypeOf<SchedulerState>();
  expectTypeOf(scheduler.running).toEqualTypeOf<boolean>();
  expectTypeOf(getJobContext()).toEqualTypeOf<JobContext | undefined>();
  expectTypeOf(scheduler.getJob('x')).resolves.toEqualTypeOf<Job | null>();
  expectTypeOf(scheduler.getJobs()).resolves.toEqualTypeOf<Job[]>();
  // A stored job this process cannot restore is listed with `broken` set and no function.
  expectTypeOf<Job['broken']>().toEqualTypeOf<string | null>();
  expectTypeOf<Job['func']>().toEqualTypeOf<JobFunction | undefined>();
  expectTypeOf(scheduler.resumeJob('x')).resolves.toEqualTypeOf<Job | null>();
  const decorated = scheduler.scheduledJob('cron', { hour: 9 })(greet);
  expectTypeOf(decorated).toEqualTypeOf<typeof greet>();
  // @ts-expect-error: scheduledJob options are checked against the alias too
  scheduler.scheduledJob('interval', { hour: 9 });
  // @ts-expect-error: the state is one of the three constants
  const bad: SchedulerState = 3;
  void bad;
}

describe('public types', () => {
  it('type-checks (see tsc); the checks are functions that are never called', () => {
    for (const check of [triggerOptions, jobArgs, events, changes, narrowing, misc])
      expect(typeof check).toBe('function');
  });
});
