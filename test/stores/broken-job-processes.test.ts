/**
 * Two scheduler processes share a SQLite file; one lacks the task of a job (an old build in a
 * rolling deploy). The other one must run the job all the same: the process that cannot restore
 * it gives it back at once, leaves no lease behind when it stops, and reports it once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ProcessConfig } from '../fixtures/stores/scheduler-process.js';
import {
  killAllSchedulerProcesses,
  type LedgerLine,
  readLedger,
  SchedulerProcess,
} from '../helpers/cluster.js';
import { waitFor } from '../helpers/wait.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tickwork-broken-'));
});
afterEach(() => {
  killAllSchedulerProcesses();
  rmSync(dir, { recursive: true, force: true });
});

describe('a job one process of a SQLite cluster cannot restore', () => {
  it('runs in the process that can, while the other starts, stops and runs beside it', async () => {
    const ledger = join(dir, 'ledger.txt');
    const base: ProcessConfig = {
      // The default 30 s lease: a lease left behind would block the job far past these waits.
      store: { kind: 'sqlite', path: join(dir, 'jobs.db'), pollInterval: 0.2 },
      schedulerId: 'new',
      ledger,
    };
    const lines = (kind: LedgerLine['kind'], schedulerId: string) =>
      readLedger(ledger).filter(
        (l) => l.kind === kind && l.jobId === 'job-0' && l.schedulerId === schedulerId,
      );
    const start = async (config: ProcessConfig) => {
      const p = new SchedulerProcess(config);
      await waitFor(() => p.ready || p.exited !== null, `${config.schedulerId} ready`, 20_000);
      expect(p.exited, p.output).toBeNull();
      return p;
    };

    // A process with the task adds the job (every 0.5 s) and runs it, then stops.
    const first = await start({
      ...base,
      jobs: { count: 1, seconds: 0.5, startDate: new Date().toISOString() },
    });
    await waitFor(() => lines('run', 'new').length >= 1, 'the first run', 10_000);
    expect(await first.stop(10_000)).toBe(true);

    // An old process without the task takes the job, reports it, and stops cleanly.
    const old = await start({ ...base, schedulerId: 'old', registerLedger: false });
    await waitFor(() => lines('error', 'old').length >= 1, 'the old process to report the job', 10_000);
    expect(lines('error', 'old')[0].rest).toMatch(/ledger/);
    expect(await old.stop(10_000)).toBe(true);

    // It left no lease: a new process runs the job at once, not after the 30 s lease.
    const runsBefore = lines('run', 'new').length;
    const second = await start(base);
    await waitFor(
      () => lines('run', 'new').length >= runsBefore + 2,
      'runs after the old process stopped',
      10_000,
    );

    // An old process running beside it does not starve the job, and reports it once.
    const oldAgain = await start({ ...base, schedulerId: 'old-again', registerLedger: false });
    await waitFor(() => lines('error', 'old-again').length >= 1, 'the second old process to report', 10_000);
    const runsBeside = lines('run', 'new').length;
    await waitFor(() => lines('run', 'new').length >= runsBeside + 6, 'runs beside an old process', 10_000);
    expect(lines('error', 'old-again')).toHaveLength(1);
    expect(lines('run', 'old-again')).toEqual([]);
    expect(await oldAgain.stop(10_000)).toBe(true);
    expect(await second.stop(10_000)).toBe(true);
  }, 90_000);
});
