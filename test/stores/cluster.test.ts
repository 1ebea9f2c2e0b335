/**
 * Exactly once across processes: three scheduler processes share one store (SQLite file, Postgres,
 * Redis), 200 interval jobs fire every second for 60 s, one process is SIGKILLed midway, and the
 * shared ledger must show every (job, fire time) pair run exactly once, or missed (leases of the
 * killed process retaken past the grace time), or reported abandoned (claimed by the killed
 * process); never twice, never an error. Ten more jobs retry: each run fails on its first two
 * attempts and succeeds on the third (`retry: { attempts: 2, delay: 0.3 }`), and every (job, fire
 * time, attempt) must run exactly once, each failed attempt followed by the next one (or reported
 * abandoned when the killed process had claimed it, and then tried no more). Afterwards the run
 * history must agree with the ledger: one row per attempt, with its outcome and its process. The
 * stores run side by side (they mostly wait).
 * `CLUSTER_STORES=sqlite,redis` picks stores; `CLUSTER_KILL_OFFSET_MS=3` kills 3 ms into the second
 * instead of a random 0-14 ms.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Job } from '../../src/index.js';
import {
  checkHistory,
  checkLedger,
  expectedPairs,
  type HistoryRow,
  killAllSchedulerProcesses,
  parseLedger,
  runScenario,
  selectedSetups,
} from '../helpers/cluster.js';

const JOBS = 200;
const FIRES = 60;
const LEASE_TIME = 3;
/** Jobs `retry-<i>` whose runs fail on attempts 1 and 2 and succeed on attempt 3. */
const RETRY_JOBS = 10;
const FAIL_ATTEMPTS = 2;

// runScenario kills its own processes before it returns or throws; this is the last resort.
// (Not afterEach: the tests run side by side, and one test's end must not kill another's.)
afterAll(() => killAllSchedulerProcesses());

/** Problems with a job's stored next run time: on the one-second grid, within the jobs' span. */
function badNextRunTime(job: Job, start: number, end: number, notBefore: number): string | null {
  const t = job.nextRunTime?.getTime() ?? null;
  if (t === null) return `${job.id}: paused`;
  if ((t - start) % 1000 !== 0 || t < start || t > end)
    return `${job.id}: off the grid ${new Date(t).toISOString()}`;
  if (t < notBefore) return `${job.id}: stuck at ${new Date(t).toISOString()}`;
  return null;
}

describe.concurrent('several scheduler processes on one store', () => {
  for (const setup of selectedSetups()) {
    it(`${setup.name}: every fire runs exactly once with one process killed midway`, async () => {
      const instance = await setup.start();
      try {
        const log = (message: string) => process.stdout.write(`[cluster] ${message}\n`);
        const result = await runScenario(instance, `${setup.name}_${process.pid}`, {
          processes: 3,
          jobs: JOBS,
          fires: FIRES,
          timing: { leaseTime: LEASE_TIME, pollInterval: 1 },
          killAfter: 30,
          killOffsetMs:
            process.env.CLUSTER_KILL_OFFSET_MS === undefined
              ? undefined
              : Number(process.env.CLUSTER_KILL_OFFSET_MS),
          // Three processes start tsx at once; on a loaded two-core machine that has taken over 8 s.
          leadMs: 15_000,
          // Tries 2 and 3 come about 0.3 s and 0.9 s after the fire time, before the next one; the
          // job may run a few instances at once, so a retry is never refused for maxInstances.
          retryJobs: {
            count: RETRY_JOBS,
            failAttempts: FAIL_ATTEMPTS,
            retry: { attempts: FAIL_ATTEMPTS, delay: 0.3 },
            maxInstances: 5,
          },
          checkHistory: true,
          log,
        });
        const { report } = result;
        log(
          `${setup.name}: expected ${report.expected}, runs ${report.runs}, missed ${report.missed}, ` +
            `abandoned ${report.abandoned} (of which also run ${report.runAndAbandoned}), errors ${report.errors}; ` +
            `failed by plan ${report.failed}, retried to the last attempt ${report.completedRetries}; ` +
            `history rows ${result.history?.rows}; ` +
            `runs by process ${JSON.stringify(report.runsByScheduler)}; killed ${result.killed} at +${
              (result.killedAt ?? 0) - result.start
            } ms; ${result.totalMs} ms in all`,
        );
        expect(report.problems.slice(0, 20)).toEqual([]);
        expect(report.problems.length).toBe(0);
        expect(report.errors).toBe(0);
        // The retrying jobs ran their attempts: nearly every fire time up to the third (the killed
        // process can only cut short the runs it held, or whose jobs it leased, until its leases
        // ran out).
        expect(report.completedRetries).toBeGreaterThanOrEqual(RETRY_JOBS * (FIRES - 2 * LEASE_TIME - 2));
        expect(report.failed).toBeGreaterThanOrEqual(FAIL_ATTEMPTS * report.completedRetries);
        // The history: one row per attempt of the ledger, as the ledger says it ended.
        expect(result.history?.problems.slice(0, 20)).toEqual([]);
        expect(result.history?.rows).toBeGreaterThanOrEqual(
          JOBS * FIRES + (FAIL_ATTEMPTS + 1) * report.completedRetries,
        );

        // After the kill and the expiry of its leases: every job there, none stuck or paused.
        expect(result.jobsMidway.length).toBe(JOBS + RETRY_JOBS);
        const notBefore = (result.midwayAt ?? 0) - (LEASE_TIME + 2) * 1000;
        const bad = result.jobsMidway.map((j) => badNextRunTime(j, result.start, result.end, notBefore));
        expect(bad.filter((b) => b !== null)).toEqual([]);
        // After the end date every trigger is done, so every job was removed (after its last fire,
        // which the ledger check above accounts for).
        expect(result.jobsAfter.map((j) => `${j.id} ${j.nextRunTime?.toISOString() ?? null}`)).toEqual([]);
        expect(result.hardStopped).toEqual([]);
      } finally {
        await instance.destroy();
      }
    }, 240_000);
  }
});

describe('the ledger check', () => {
  const t0 = Date.parse('2026-01-01T00:00:00.000Z');
  const expected = expectedPairs(2, 1, t0, t0 + 1000);
  const at = (s: number) => new Date(t0 + s * 1000).toISOString();
  const check = (text: string, killed: string | null = 'k') =>
    checkLedger(parseLedger(text), expected, killed);
  const full = [
    `run job-0 ${at(0)} a`,
    `run job-0 ${at(1)} b`,
    `missed job-1 ${at(0)} a`,
    `abandoned job-1 ${at(1)} a k`,
  ].join('\n');

  it('accepts each pair run once, missed, or abandoned (also when the killed process ran it)', () => {
    expect(check(full).problems).toEqual([]);
    const report = check(`${full}\nrun job-1 ${at(1)} k\n`);
    expect(report.problems).toEqual([]);
    expect([report.runs, report.missed, report.abandoned, report.runAndAbandoned]).toEqual([3, 1, 1, 1]);
  });

  it('finds every kind of violation', () => {
    const problems = (text: string) => check(text).problems.join('\n');
    expect(problems(`${full}\nrun job-0 ${at(0)} b`)).toMatch(/job-0 \S+ ran 2 times/);
    expect(problems(`${full}\nrun job-1 ${at(0)} b`)).toMatch(/job-1 \S+ decided more than once/);
    expect(problems(`${full}\nrun job-1 ${at(1)} b`)).toMatch(/reported abandoned but run by live/);
    expect(problems(`${full}\nabandoned job-1 ${at(1)} b k`)).toMatch(/reported abandoned 2 times/);
    expect(problems(full.replace(`${at(1)} a k`, `${at(1)} a b`))).toMatch(/abandoned claim of live b/);
    expect(problems(`${full}\nmax_instances job-1 ${at(0)} b`)).toMatch(/job-1 \S+ decided more than once/);
    expect(problems(`${full}\nrun job-2 ${at(0)} a`)).toMatch(/job-2 \S+ not an expected fire/);
    expect(problems(`${full}\nrun job-0 ${at(2)} a`)).toMatch(/not an expected fire/);
    expect(problems(full.split('\n').slice(1).join('\n'))).toMatch(/job-0 \S+ never run/);
    expect(problems(`${full}\nerror job-0 ${at(0)} a boom`)).toMatch(/error line: .* boom/);
    expect(problems(`${full}\ngarbage`)).toMatch(/unparsed line: garbage/);
    expect(problems(`${full}\nrun job-0 ${at(0)} a x`)).toMatch(/unparsed line/);
  });

  describe('with retries', () => {
    const retries = { isRetrying: (jobId: string) => jobId === 'job-1', failAttempts: 2 };
    const checkRetries = (text: string) => checkLedger(parseLedger(text), expected, 'k', retries);
    // job-1 at 0: three attempts; at 1: attempt 2 claimed by the killed process, not tried again.
    const chains = [
      `run job-0 ${at(0)} a 1`,
      `run job-0 ${at(1)} b 1`,
      `run job-1 ${at(0)} a 1`,
      `failed job-1 ${at(0)} a 1`,
      `run job-1 ${at(0)} b 2`,
      `failed job-1 ${at(0)} b 2`,
      `run job-1 ${at(0)} a 3`,
      `run job-1 ${at(1)} b 1`,
      `failed job-1 ${at(1)} b 1`,
      `run job-1 ${at(1)} k 2`,
      `abandoned job-1 ${at(1)} a k 2`,
    ].join('\n');

    it('accepts each attempt once, each failed one followed by the next', () => {
      const report = checkRetries(chains);
      expect(report.problems).toEqual([]);
      expect([report.runs, report.failed, report.abandoned, report.completedRetries]).toEqual([7, 3, 1, 1]);
    });

    it('finds every kind of violation', () => {
      const problems = (text: string) => checkRetries(text).problems.join('\n');
      const without = (line: string) => chains.replace(`${line}\n`, '');
      expect(problems(`${chains}\nrun job-1 ${at(0)} b 2`)).toMatch(/job-1 \S+ attempt 2: ran 2 times/);
      expect(problems(without(`run job-1 ${at(0)} a 3`))).toMatch(
        /attempt 3: never ran nor was reported abandoned/,
      );
      expect(problems(`${chains}\nrun job-1 ${at(1)} a 3`)).toMatch(
        /attempt 3: without a failed attempt before it/,
      );
      expect(problems(`${chains}\nrun job-1 ${at(0)} a 4`)).toMatch(
        /attempt 4: without a failed attempt before it/,
      );
      expect(problems(`${chains}\nrun job-0 ${at(0)} a 2`)).toMatch(
        /attempt 2: of a job that does not retry/,
      );
      expect(problems(without(`failed job-1 ${at(0)} b 2`))).toMatch(
        /attempt 2: ran and failed by plan, but no job_error/,
      );
      expect(problems(`${chains}\nfailed job-1 ${at(0)} a 3`)).toMatch(
        /attempt 3: failed, but not a planned failure/,
      );
      expect(problems(`${chains}\nabandoned job-1 ${at(0)} a k 3`)).toMatch(
        /attempt 3: reported abandoned but run by live/,
      );
    });

    const row = (
      jobId: string,
      s: number,
      attempt: number,
      outcome: HistoryRow['outcome'],
      schedulerId: string,
    ) => ({
      jobId,
      scheduledRunTime: new Date(t0 + s * 1000),
      attempt,
      outcome,
      schedulerId,
      startedAt: outcome === 'success' || outcome === 'error' ? new Date(t0 + s * 1000) : null,
    });
    const rows: HistoryRow[] = [
      row('job-0', 0, 1, 'success', 'a'),
      row('job-0', 1, 1, 'success', 'b'),
      row('job-1', 0, 1, 'error', 'a'),
      row('job-1', 0, 2, 'error', 'b'),
      row('job-1', 0, 3, 'success', 'a'),
      row('job-1', 1, 1, 'error', 'b'),
      row('job-1', 1, 2, 'abandoned', 'k'),
    ];
    const history = (lines: string, given: HistoryRow[]) =>
      checkHistory(parseLedger(lines), given, new Set(['k']), retries).join('\n');

    it('accepts a history of one row per attempt, as the ledger says it ended', () => {
      expect(history(chains, rows)).toBe('');
    });

    it('finds every disagreement between the history and the ledger', () => {
      expect(history(chains, [...rows, rows[3]])).toMatch(/attempt 2: 2 history rows/);
      expect(history(chains, rows.slice(1))).toMatch(/job-0 \S+ attempt 1: no history row/);
      expect(history(chains, [...rows, row('job-0', 0, 2, 'error', 'a')])).toMatch(/without a ledger line/);
      expect(
        history(chains, [row('job-1', 0, 1, 'success', 'a'), ...rows.slice(0, 2), ...rows.slice(3)]),
      ).toMatch(/attempt 1: history row success@a, expected error@a/);
      expect(history(chains, [...rows.slice(0, 6), row('job-1', 1, 2, 'error', 'k')])).toMatch(
        /expected abandoned@k/,
      );
      expect(history(chains, [...rows.slice(1), { ...rows[0], startedAt: null }])).toMatch(
        /with start time null/,
      );
    });
  });
});
