/**
 * The run rules: what a pass does with one due job, as pure functions of the job, its fire
 * times and the time now (runs to submit, fire times missed past the grace time, next run time).
 * The run loop (`run-loop.ts`) applies them the same way to every store.
 */
import type { Job } from '../job.js';

/** Most run times one pass hands an executor for one job; a longer backlog goes on next pass. */
export const MAX_RUN_TIMES = 1000;

/**
 * Most missed fire times a pass claims one by one on a shared store; a longer run of misses is
 * claimed as one, by its first fire time.
 */
export const MAX_CLAIMED_MISSES = 1000;

/** A run of consecutive fire times missed by more than the job's grace time. */
export interface MissedRun {
  count: number;
  first: Date;
  last: Date;
  /** Each of them, when there are at most `MAX_CLAIMED_MISSES` (so each can be claimed). */
  times?: Date[];
}

/** What a pass does with a due job: the run times to submit, the next run time, the misses. */
export interface CatchUp {
  runTimes: Date[];
  next: Date | null;
  missed: MissedRun | null;
}

/**
 * Skips the fire times from `from` (one of them) up to `beforeMs` (exclusive): their count, the
 * last, and the next fire time. Counted in closed form when the trigger can, else walked
 * without keeping them.
 */
function skipFireTimes(
  job: Job,
  from: Date,
  beforeMs: number,
  nowDate: Date,
): { count: number; last: Date; next: Date | null } {
  const trigger = job.trigger;
  if (trigger.countFireTimes !== undefined) {
    const { count, last } = trigger.countFireTimes(from, beforeMs);
    return { count: count + 1, last, next: trigger.getNextFireTime(last, nowDate) };
  }
  let count = 0;
  let last = from;
  let next: Date | null = from;
  while (next !== null && next.getTime() < beforeMs) {
    count += 1;
    last = next;
    next = trigger.getNextFireTime(next, nowDate);
  }
  return { count, last, next };
}

/**
 * The fire times from `job.nextRunTime` up to `now`, bounded: with `coalesce`, only the latest;
 * without, the ones past the grace time as one `MissedRun` and at most `MAX_RUN_TIMES` others
 * (`next` is then still due, and the next pass goes on). A backlog of any length costs a
 * bounded number of dates.
 */
export function missedRunTimes(job: Job, now: number, nowDate = new Date(now)): CatchUp {
  let t = job.nextRunTime;
  if (t === null || t.getTime() > now) return { runTimes: [], next: t, missed: null };
  if (job.coalesce) {
    const { last, next } = skipFireTimes(job, t, now + 1, nowDate);
    return { runTimes: [last], next, missed: null };
  }
  let missed: MissedRun | null = null;
  const grace = job.misfireGraceTime;
  if (grace !== null && isPastGrace(job, t.getTime(), now)) {
    const skipped = skipFireTimes(job, t, now - grace * 1000, nowDate);
    missed = { count: skipped.count, first: t, last: skipped.last };
    if (skipped.count <= MAX_CLAIMED_MISSES) {
      const times: Date[] = [];
      for (let x: Date | null = t; x !== null && times.length < skipped.count; ) {
        times.push(x);
        x = job.trigger.getNextFireTime(x, nowDate);
      }
      missed.times = times;
    }
    t = skipped.next;
  }
  const runTimes: Date[] = [];
  while (t !== null && t.getTime() <= now && runTimes.length < MAX_RUN_TIMES) {
    runTimes.push(t);
    t = job.trigger.getNextFireTime(t, nowDate);
  }
  return { runTimes, next: t, missed };
}

/**
 * `missedRunTimes` at `now`, then the fire times after `now` up to `until` (inclusive) as well,
 * each a run of its own (they are not late, so neither missed nor coalesced): what a pass that
 * claims runs ahead of their time takes. The same bound on run times applies to both.
 */
export function runTimesUntil(job: Job, now: number, until: number, nowDate = new Date(now)): CatchUp {
  const due = missedRunTimes(job, now, nowDate);
  let t = due.next;
  if (until <= now || t === null || t.getTime() > until || due.runTimes.length >= MAX_RUN_TIMES) return due;
  const runTimes = due.runTimes;
  while (t !== null && t.getTime() <= until && runTimes.length < MAX_RUN_TIMES) {
    runTimes.push(t);
    // Asked as at `t` itself: a trigger gives no fire time before "now" (a cron trigger's next
    // fire after a future `t`, asked at the real now, would be `t` again).
    t = job.trigger.getNextFireTime(t, t.getTime() > now ? t : nowDate);
  }
  return { runTimes, next: t, missed: due.missed };
}

/**
 * Whether a run of `runTime` (epoch ms) starting at `now` is missed: later than the job's grace
 * time allows. The one misfire rule, for the pass and for executors starting queued runs.
 */
export function isPastGrace(job: Job, runTime: number, now: number): boolean {
  const grace = job.misfireGraceTime;
  return grace !== null && now - runTime > grace * 1000;
}

/** Splits run times (ascending) into those within the job's grace time at `now` and those past it. */
export function splitMissed(job: Job, runTimes: Date[], now: number): { onTime: Date[]; missed: Date[] } {
  if (runTimes.length === 0 || !isPastGrace(job, runTimes[0].getTime(), now)) {
    return { onTime: runTimes, missed: [] };
  }
  // Run times ascend: the missed ones are a prefix.
  let k = 0;
  while (k < runTimes.length && isPastGrace(job, runTimes[k].getTime(), now)) k++;
  return { onTime: runTimes.slice(k), missed: runTimes.slice(0, k) };
}

/**
 * Whether a fire time of `job` later than `runTime` is due at `now`: the job's stored next run
 * time, or the trigger's next fire time after `runTime` (claimed already, by this process or
 * another). A coalescing job's fire time given back to the store then needs no run of its own:
 * that later run stands for both, as a pass coalesces fire times due together.
 */
export function laterFireIsDue(job: Job, runTime: Date, now: Date): boolean {
  const nowMs = now.getTime();
  const after = runTime.getTime();
  const stored = job.nextRunTime?.getTime() ?? null;
  if (stored !== null && stored > after && stored <= nowMs) return true;
  const next = job.trigger.getNextFireTime(runTime, now);
  return next !== null && next.getTime() > after && next.getTime() <= nowMs;
}
