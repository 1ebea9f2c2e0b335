/**
 * Fires spread across processes: three scheduler processes share one store (SQLite file,
 * Postgres, Redis), 100 interval jobs fall due every second for 10 s, each run holds 100 ms, and
 * each process has 10 workers. A pass acquires only what its executor can start soon, so no
 * process takes a whole second's fires while the others idle: every fire runs once, none is
 * missed, and each process runs between 20% and 47% of them. The grace time (5 s) is far above
 * the lateness of a fair share (about 0.4 s), so on a loaded machine "none missed" still means on
 * time; a process hoarding a second's 100 fires would hold them 1 s. The stores run side by side.
 * `CLUSTER_STORES=sqlite,redis` picks stores.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { killAllSchedulerProcesses, runScenario, selectedSetups } from '../helpers/cluster.js';

const JOBS = 100;
const FIRES = 10;
const PROCESSES = 3;

afterAll(() => killAllSchedulerProcesses());

describe.concurrent('fires spread across processes sharing a store', () => {
  for (const setup of selectedSetups()) {
    it(`${setup.name}: 3 processes of 10 workers share 100 fires a second of 100 ms runs`, async () => {
      const instance = await setup.start();
      try {
        const log = (message: string) => process.stdout.write(`[spread] ${message}\n`);
        const { report, totalMs } = await runScenario(instance, `spread_${setup.name}_${process.pid}`, {
          processes: PROCESSES,
          jobs: JOBS,
          fires: FIRES,
          timing: { leaseTime: 5, pollInterval: 1 },
          killAfter: null,
          leadMs: 15_000,
          holdMs: 100,
          misfireGraceTime: 5,
          maxWorkers: 10,
          log,
        });
        log(
          `${setup.name}: expected ${report.expected}, runs ${report.runs}, missed ${report.missed}, ` +
            `max_instances ${report.maxInstances}; runs by process ${JSON.stringify(report.runsByScheduler)}; ` +
            `${totalMs} ms in all`,
        );
        expect(report.problems.slice(0, 20)).toEqual([]);
        expect([report.runs, report.missed, report.maxInstances, report.errors]).toEqual([
          JOBS * FIRES,
          0,
          0,
          0,
        ]);
        const shares = Object.values(report.runsByScheduler).map((runs) => runs / report.runs);
        expect(shares.length).toBe(PROCESSES);
        for (const share of shares) {
          expect(share).toBeGreaterThanOrEqual(0.2);
          expect(share).toBeLessThanOrEqual(0.47);
        }
      } finally {
        await instance.destroy();
      }
    }, 120_000);
  }
});
