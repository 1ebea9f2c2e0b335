/**
 * Exactly once across processes: three scheduler processes share one store (SQLite file, Postgres,
 * Redis), 200 interval jobs fire every second for 60 s, one process is SIGKILLed midway, and the
 * shared ledger must show every (job, fire time) pair run exactly once, or missed (leases of the
 * killed process retaken past the grace time), or reported abandoned (claimed by the killed
 * process); never twice, never an error. The stores run side by side (they mostly wait).
 * `CLUSTER_STORES=sqlite,redis` picks stores; `CLUSTER_KILL_OFFSET_MS=3` kills 3 ms into the second
 * instead of a random 0-14 ms.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Job } from '../../src/index.js';
import {
  checkLedger,
  expectedPairs,
  killAllSchedulerProcesses,
  parseLedger,
  runScenario,
  selectedSetups,
} from '../helpers/cluster.js';

const JOBS = 200;
const FIRES = 60;
const LEASE_TIME = 3;

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
          log,
        });
        const { report } = result;
        log(
          `${setup.name}: expected ${report.expected}, runs ${report.runs}, missed ${report.missed}, ` +
            `abandoned ${report.abandoned} (of which also run ${report.runAndAbandoned}), errors ${report.errors}; ` +
            `runs by process ${JSON.stringify(report.runsByScheduler)}; killed ${result.killed} at +${
              (result.killedAt ?? 0) - result.start
            } ms; ${result.totalMs} ms in all`,
        );
        expect(report.problems.slice(0, 20)).toEqual([]);
        expect(report.problems.length).toBe(0);
        expect(report.errors).toBe(0);

        // After the kill and the expiry of its leases: every job there, none stuck or paused.
        expect(result.jobsMidway.length).toBe(JOBS);
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
  });
});
