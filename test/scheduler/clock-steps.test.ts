/**
 * What wall-clock steps do to fire times (as the README says): a step forward makes the skipped
 * fire times due at once under the misfire rules; a step back then leaves the job silent until
 * the wall clock reaches its next run time again, and nothing runs twice.
 */
import { expect, it, vi } from 'vitest';
import { at, HOUR, MINUTE, makeScheduler, named, record, SECOND, useFakeTime } from '../helpers/scheduler.js';

useFakeTime();

it('a step forward runs the skipped fire times once (coalesce); a step back silences the job for its length', async () => {
  const scheduler = makeScheduler();
  const events = record(scheduler);
  const ran: number[] = [];
  await scheduler.addJob(() => ran.push(Date.now()), 'interval', { minutes: 1, startDate: at(MINUTE) });
  await scheduler.start();
  await vi.advanceTimersByTimeAsync(MINUTE);
  expect(ran).toEqual([at(MINUTE).getTime()]);

  // Forward an hour: noticed within 60 s, the 60 skipped fire times coalesce into one run.
  vi.setSystemTime(Date.now() + HOUR);
  await vi.advanceTimersByTimeAsync(MINUTE);
  expect(ran).toHaveLength(2);
  expect(named(events, 'job_missed')).toEqual([]);
  const next = (await scheduler.getJobs())[0]?.nextRunTime as Date;
  expect(next.getTime()).toBeGreaterThan(Date.now());

  // Back an hour: nothing runs for the hour; then it goes on, nothing run twice.
  vi.setSystemTime(Date.now() - HOUR);
  await vi.advanceTimersByTimeAsync(HOUR - 2 * MINUTE);
  expect(ran).toHaveLength(2);
  await vi.advanceTimersByTimeAsync(3 * MINUTE + SECOND);
  expect(ran.length).toBeGreaterThan(2);
  expect(new Set(named(events, 'job_executed').map((e) => e.scheduledRunTime.getTime())).size).toBe(
    ran.length,
  );
});
