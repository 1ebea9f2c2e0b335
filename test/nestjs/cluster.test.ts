/**
 * `@Cron` runs once per cluster: two processes of a real Nest application share one SQLite file
 * or one Postgres database; a job every second for 10 s runs exactly once per fire time across
 * them, and killing one process midway (SIGKILL) loses no fire: each is run once, missed by the
 * run rules, or reported abandoned (claimed by the killed process).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { AppProcessConfig } from '../fixtures/nestjs/app-process.js';
import { checkLedger, readLedger, STORE_SETUPS } from '../helpers/cluster.js';
import { pollUntil, sleep } from '../helpers/wait.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FIXTURE = join(ROOT, 'test', 'fixtures', 'nestjs', 'app-process.ts');
const FIRES = 10;
const TIMING = { leaseTime: 2, pollInterval: 0.5 };

interface AppProcess {
  id: string;
  child: ChildProcess;
  output: string;
  ready: boolean;
  exited: string | null;
}

const live = new Set<AppProcess>();
afterAll(() => {
  for (const p of live) p.child.kill('SIGKILL');
});

function spawnApp(config: AppProcessConfig): AppProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, JSON.stringify(config)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const app: AppProcess = { id: config.schedulerId, child, output: '', ready: false, exited: null };
  live.add(app);
  const keep = (chunk: Buffer) => {
    app.output = (app.output + chunk.toString('utf8')).slice(-8_000);
    if (/^ready$/m.test(app.output)) app.ready = true;
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.once('exit', (code, signal) => {
    app.exited = signal ?? `exit code ${code}`;
    live.delete(app);
  });
  return app;
}

describe.concurrent('tickwork/nestjs in two processes', () => {
  for (const setup of STORE_SETUPS.filter((s) => s.name === 'sqlite' || s.name === 'postgres')) {
    it(`${setup.name}: @Cron every second runs once per fire time, one process killed midway`, async () => {
      const instance = await setup.start();
      const dir = await mkdtemp(join(tmpdir(), 'tickwork-nest-cluster-'));
      const ledger = join(dir, 'ledger');
      const store = instance.config(`nest_${process.pid}`, TIMING);
      const apps = [0, 1].map((i) => spawnApp({ store, schedulerId: `${setup.name}-nest-${i}`, ledger }));
      try {
        const ready = await pollUntil(
          () => apps.every((a) => a.ready || a.exited !== null),
          Date.now() + 60_000,
        );
        expect(
          apps.map((a) => `${a.id}: ${a.ready ? 'ready' : `${a.exited ?? 'not ready'} ${a.output}`}`),
        ).toEqual(apps.map((a) => `${a.id}: ready`));
        expect(ready).toBe(true);
        // The fires counted: ten whole seconds from the first one after both are up.
        const start = Math.ceil((Date.now() + 1_000) / 1000) * 1000;
        const end = start + (FIRES - 1) * 1000;
        const expected = new Set<string>();
        for (let t = start; t <= end; t += 1000) expected.add(`tick ${new Date(t).toISOString()}`);

        // Midway, kill the process that ran the latest fire, a few ms into the next second.
        await sleep(start + 4_700 - Date.now());
        const runs = readLedger(ledger).filter((l) => l.kind === 'run');
        const victim = apps.find((a) => a.id === runs[runs.length - 1]?.schedulerId) ?? apps[0];
        await sleep(start + 5_000 + Math.floor(Math.random() * 15) - Date.now());
        victim.child.kill('SIGKILL');
        const survivor = apps.find((a) => a !== victim) as AppProcess;

        // Past the last fire and the killed process's leases, every fire is accounted for.
        await pollUntil(() => survivor.exited !== null, end + TIMING.leaseTime * 2_000 + 2_000, 100);
        expect(survivor.exited, survivor.output).toBeNull();
        survivor.child.kill('SIGTERM');
        expect(await pollUntil(() => survivor.exited !== null, Date.now() + 15_000, 20)).toBe(true);
        // Nest's shutdown hooks close the application, then end the process with the signal.
        expect(survivor.output).toMatch(/^scheduler shut down$/m);
        expect(survivor.exited).toBe('SIGTERM');

        const lines = readLedger(ledger).filter(
          (l) => expected.has(`${l.jobId} ${l.runTime}`) || l.kind === 'error',
        );
        const report = checkLedger(lines, expected, victim.id);
        process.stdout.write(
          `[nest cluster] ${setup.name}: ${report.expected} fires: ${report.runs} runs ` +
            `${JSON.stringify(report.runsByScheduler)}, ${report.missed} missed, ${report.abandoned} abandoned; killed ${victim.id}\n`,
        );
        expect(report.problems).toEqual([]);
        expect(report.errors).toBe(0);
        // Most fires ran (the killed process can leave at most a lease's worth unrun).
        expect(report.runs).toBeGreaterThanOrEqual(FIRES - TIMING.leaseTime - 1);
        expect(report.runsByScheduler[survivor.id]).toBeGreaterThan(0);
      } finally {
        for (const a of apps) a.child.kill('SIGKILL');
        await pollUntil(() => apps.every((a) => a.exited !== null), Date.now() + 5_000, 20);
        await rm(dir, { recursive: true, force: true });
        await instance.destroy();
      }
    }, 120_000);
  }
});
