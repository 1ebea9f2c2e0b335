/**
 * Type-level checks of the public API (run by `tsc --noEmit`, which the CI typecheck step does),
 * plus a runtime test so vitest collects the file.
 */
import { describe, expectTypeOf, it } from 'vitest';
import type { BackgroundScheduler, Job } from '../../src/index.js';

function greet(name: string, times: number): string {
  return name.repeat(times);
}

// Never called: the lines only have to type-check (or fail to, where marked).
async function typeChecks(scheduler: BackgroundScheduler): Promise<void> {
  expectTypeOf(await scheduler.addJob(greet, 'cron', { hour: 9, args: ['hi', 2] })).toEqualTypeOf<Job>();
  await scheduler.addJob(greet, 'interval', { hours: 1, args: ['hi', 2] });
  await scheduler.addJob(() => 1, 'date', { runDate: new Date() });
  await scheduler.addJob('report#run', 'cron', { minute: '*/5', args: [1, 'x'] });
  // @ts-expect-error: `hour` is a cron option, not an interval one
  await scheduler.addJob(greet, 'interval', { hour: 9, args: ['hi', 2] });
  // @ts-expect-error: args must match the function's parameters
  await scheduler.addJob(greet, 'cron', { hour: 9, args: ['hi', 'two'] });
  // @ts-expect-error: a function with required parameters needs args
  await scheduler.addJob(greet, 'cron', { hour: 9 });
  // @ts-expect-error: unknown trigger alias
  await scheduler.addJob(greet, 'weekly', { args: ['hi', 2] });
  scheduler.on('job_executed', (event) => {
    expectTypeOf(event.retval).toBeUnknown();
    expectTypeOf(event.scheduledRunTime).toEqualTypeOf<Date>();
  });
  scheduler.on('job_submitted', (event) => {
    expectTypeOf(event.scheduledRunTimes).toEqualTypeOf<Date[]>();
  });
  // @ts-expect-error: no such event
  scheduler.on('job_exploded', () => {});
}

describe('public types', () => {
  it('type-checks (see tsc); the checks are a function that is never called', () => {
    expectTypeOf(typeChecks).toBeFunction();
  });
});
