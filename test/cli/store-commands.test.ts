/**
 * `tickwork jobs|pause|resume|remove --store URL` on SQLite, Postgres and Redis (real servers),
 * and `tickwork dashboard`: the jobs of a store are listed and changed by a program that has none
 * of their functions (the executable in a process of its own shows them as broken).
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { BackgroundScheduler, type JobStore, registerTask } from '../../src/index.js';
import { startPostgres } from '../helpers/postgres-server.js';
import { startRedis } from '../helpers/redis-server.js';
import { makeStore, type StoreConfig } from '../helpers/store-config.js';
import { waitFor } from '../helpers/wait.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

async function run(
  args: string[],
  signal?: AbortSignal,
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t), color: false }, signal);
  return { code, out, err };
}

/** The dashboard API's answers, as far as these tests read them. */
interface ApiBody {
  jobs: Array<{ id: string }>;
  job: { id: string; description: string; nextRunTimes: string[]; runs: Array<{ scheduledRunTime: string }> };
  queued: { id: string; scheduledRunTime: string };
  runs: Array<Record<string, unknown>>;
}

interface StoreCase {
  name: string;
  setup(): Promise<{ config: StoreConfig; args: string[]; destroy(): Promise<void> }>;
}

const CASES: StoreCase[] = [
  {
    name: 'sqlite',
    async setup() {
      const dir = await mkdtemp(join(tmpdir(), 'tickwork-cli-'));
      const path = join(dir, 'jobs.db');
      return {
        config: { kind: 'sqlite', path },
        args: ['--store', `sqlite:${path}`],
        destroy: () => rm(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'postgres',
    async setup() {
      const server = await startPostgres();
      return {
        config: { kind: 'postgres', connectionString: server.connectionString, tableName: 'cli_jobs' },
        args: ['--store', server.connectionString, '--table', 'cli_jobs'],
        destroy: () => server.destroy(),
      };
    },
  },
  {
    name: 'redis',
    async setup() {
      const server = await startRedis();
      return {
        config: { kind: 'redis', url: server.url, keyPrefix: 'cli:' },
        args: ['--store', server.url, '--prefix', 'cli:'],
        destroy: () => server.destroy(),
      };
    },
  },
];

registerTask('cli.report', () => undefined);

describe.concurrent('tickwork store commands', () => {
  for (const storeCase of CASES) {
    describe.sequential(storeCase.name, () => {
      let setup: Awaited<ReturnType<StoreCase['setup']>>;
      beforeAll(async () => {
        setup = await storeCase.setup();
        const store: JobStore = makeStore(setup.config);
        const scheduler = new BackgroundScheduler({
          timezone: 'UTC',
          daemon: true,
          jobstores: { default: store },
        });
        await scheduler.start({ paused: true });
        await scheduler.addJob('cli.report', 'cron', {
          id: 'nightly',
          name: 'Nightly\u001b[2J report',
          hour: 2,
        });
        await scheduler.addJob('cli.report', 'interval', { id: 'poll', minutes: 5 });
        await scheduler.shutdown({ wait: false });
      }, 60_000);
      afterAll(async () => {
        await setup?.destroy();
      });

      it('lists, pauses, resumes and removes jobs, with JSON and exit codes', async () => {
        const list = await run(['jobs', ...setup.args]);
        expect(list.code).toBe(0);
        expect(list.out).toMatch(/^id +name +trigger +next run +last run +state\n/);
        expect(list.out).toContain('Nightly\\u001b[2J report');
        expect(list.out).toMatch(
          /nightly +\S.*at 02:00 every day +\d{4}-\d\d-\d\dT02:00:00\.000Z +- +scheduled/,
        );

        const paused = await run(['pause', 'nightly', ...setup.args, '--json']);
        expect(JSON.parse(paused.out).job).toMatchObject({
          id: 'nightly',
          state: 'paused',
          nextRunTime: null,
        });
        const json = JSON.parse((await run(['jobs', ...setup.args, '--json'])).out);
        expect(json.jobs.map((j: { id: string; state: string }) => `${j.id} ${j.state}`)).toEqual([
          'poll scheduled',
          'nightly paused',
        ]);
        expect((await run(['resume', 'nightly', ...setup.args])).out).toMatch(
          /^nightly: scheduled, next run \d{4}-/,
        );
        expect(await run(['remove', 'poll', ...setup.args])).toEqual({
          code: 0,
          out: 'removed poll\n',
          err: '',
        });

        const missing = await run(['pause', 'nope', ...setup.args]);
        expect(missing.code).toBe(1);
        expect(missing.err).toMatch(/nope/);
      }, 60_000);

      it('run queues a run that exactly one of two worker processes runs; runs and jobs show it', async () => {
        const executed: string[] = [];
        const workers = ['worker-1', 'worker-2'].map(
          (schedulerId) =>
            new BackgroundScheduler({
              timezone: 'UTC',
              daemon: true,
              schedulerId,
              logger: false,
              jobstores: { default: makeStore(setup.config) },
            }),
        );
        for (const w of workers) {
          w.on('job_executed', (e) => executed.push(`${e.schedulerId} ${e.jobId} ${e.attempt}`));
          await w.start();
        }
        try {
          const queued = await run(['run', 'nightly', ...setup.args, '--json']);
          expect(queued.code, queued.err).toBe(0);
          const { scheduledRunTime } = JSON.parse(queued.out).queued;
          const history = async () =>
            JSON.parse((await run(['runs', 'nightly', ...setup.args, '--json'])).out);
          await waitFor(async () => (await history()).runs.length > 0, 'the run in the history', 20_000);
          expect((await history()).runs).toEqual([
            expect.objectContaining({
              jobId: 'nightly',
              jobstore: 'default',
              outcome: 'success',
              attempt: 1,
              scheduledRunTime,
            }),
          ]);
          expect(executed).toHaveLength(1);
          expect(executed[0]).toMatch(/^worker-[12] nightly 1$/);

          const table = await run(['runs', ...setup.args]);
          expect(table.out).toMatch(/^finished +job +outcome +attempt +for +took +error\n/);
          expect(table.out).toMatch(/\d{4}-\S+Z +nightly +success +1 /);
          expect((await run(['runs', ...setup.args, '--outcome', 'error'])).out).toBe('(no runs)\n');
          const jobs = await run(['jobs', ...setup.args]);
          expect(jobs.out).toMatch(/^id +name +trigger +next run +last run +state\n/);
          expect(jobs.out).toMatch(/nightly .* success \d{4}-\S+Z +scheduled/);
          const listed = JSON.parse((await run(['jobs', ...setup.args, '--json'])).out).jobs;
          expect(listed.find((j: { id: string }) => j.id === 'nightly').lastRun).toMatchObject({
            outcome: 'success',
            scheduledRunTime,
          });

          const unknown = await run(['runs', ...setup.args, '--outcome', 'fine']);
          expect(unknown.code).toBe(2);
          expect(unknown.err).toMatch(/unknown outcome "fine" in --outcome/);
          const missing = await run(['run', 'nope', ...setup.args]);
          expect(missing.code).toBe(1);
          expect(missing.err).toMatch(/No job by the id of "nope"/);
        } finally {
          for (const w of workers) await w.shutdown();
        }
      }, 60_000);

      it('tickwork dashboard on the store: jobs, a job page, run now and the runs', async () => {
        const worker = new BackgroundScheduler({
          timezone: 'UTC',
          daemon: true,
          schedulerId: 'dashboard-worker',
          logger: false,
          jobstores: { default: makeStore(setup.config) },
        });
        await worker.start();
        const stop = new AbortController();
        let out = '';
        const done = main(
          ['dashboard', ...setup.args, '--port', '0'],
          { out: (t) => (out += t), err: (t) => (out += t), color: false },
          stop.signal,
        );
        try {
          await waitFor(() => out.includes('http://'), 'the dashboard to listen', 20_000);
          const url = /http:\/\/\S+\//.exec(out)?.[0] as string;
          const page = await (await fetch(url)).text();
          const csrf = /name="tickwork-csrf" content="([^"]+)"/.exec(page)?.[1] ?? '';
          const api = async (path: string, init?: RequestInit) =>
            (await (await fetch(`${url}api/${path}`, init)).json()) as ApiBody;
          const { jobs } = await api('jobs');
          expect(jobs.map((j) => j.id)).toContain('nightly');
          const before = (await api('runs?jobId=nightly')).runs.length;
          const { job } = await api('jobs/nightly');
          expect(job).toMatchObject({ id: 'nightly', description: 'at 02:00 every day' });
          expect(job.nextRunTimes).toHaveLength(10);
          const { queued } = await api('jobs/nightly/run', {
            method: 'POST',
            headers: { 'x-tickwork-csrf': csrf },
          });
          await waitFor(
            async () => (await api('runs?jobId=nightly')).runs.length > before,
            'the run in the history',
            20_000,
          );
          const { runs } = await api('runs?jobId=nightly&limit=1');
          expect(runs[0]).toMatchObject({
            outcome: 'success',
            scheduledRunTime: queued.scheduledRunTime,
            schedulerId: 'dashboard-worker',
          });
          expect((await api('jobs/nightly')).job.runs[0].scheduledRunTime).toBe(queued.scheduledRunTime);
        } finally {
          stop.abort();
          expect(await done).toBe(0);
          await worker.shutdown();
        }
      }, 60_000);

      it('shows the jobs as broken in a process without their task, which can still run one', () => {
        const r = spawnSync(
          process.execPath,
          ['--import', 'tsx', join(ROOT, 'src/cli/bin.ts'), 'jobs', ...setup.args, '--json'],
          { cwd: ROOT, encoding: 'utf8' },
        );
        expect(r.status, r.stderr).toBe(0);
        const job = JSON.parse(r.stdout).jobs.find((j: { id: string }) => j.id === 'nightly');
        expect(job).toMatchObject({ id: 'nightly', state: 'broken', trigger: 'at 02:00 every day' });
        expect(job.broken).toMatch(/cli\.report/);
        // It can still ask for a run, which waits in the store for a process with the task.
        const queued = spawnSync(
          process.execPath,
          ['--import', 'tsx', join(ROOT, 'src/cli/bin.ts'), 'run', 'nightly', ...setup.args, '--json'],
          { cwd: ROOT, encoding: 'utf8' },
        );
        expect(queued.status, queued.stderr).toBe(0);
        expect(JSON.parse(queued.stdout).queued).toMatchObject({ id: 'nightly' });
      }, 60_000);
    });
  }

  it('refuses a missing or unknown store with exit code 2', async () => {
    const saved = process.env.TICKWORK_STORE;
    delete process.env.TICKWORK_STORE;
    try {
      const missing = await run(['jobs']);
      expect(missing.code).toBe(2);
      expect(missing.err).toMatch(/missing --store \(or TICKWORK_STORE\)/);
      const unknown = await run(['jobs', '--store', 'mysql://x']);
      expect(unknown.code).toBe(2);
      expect(unknown.err).toMatch(/unknown store "mysql:\/\/x"/);
    } finally {
      if (saved !== undefined) process.env.TICKWORK_STORE = saved;
    }
  });

  it('serves the dashboard of a store until stopped', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tickwork-cli-dash-'));
    try {
      const path = join(dir, 'jobs.db');
      const scheduler = new BackgroundScheduler({
        timezone: 'UTC',
        daemon: true,
        jobstores: { default: makeStore({ kind: 'sqlite', path }) },
      });
      await scheduler.start({ paused: true });
      await scheduler.addJob('cli.report', 'cron', { id: 'daily', hour: 6 });
      await scheduler.shutdown({ wait: false });

      const stop = new AbortController();
      let out = '';
      const done = main(
        ['dashboard', '--store', `sqlite:${path}`, '--port', '0'],
        { out: (t) => (out += t), err: (t) => (out += t), color: false },
        stop.signal,
      );
      for (let i = 0; i < 200 && !out.includes('http://'); i++) await new Promise((r) => setTimeout(r, 25));
      const url = /http:\/\/\S+\//.exec(out)?.[0];
      expect(url, out).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const body = (await (await fetch(`${url}api/jobs`)).json()) as { jobs: Array<{ id: string }> };
      expect(body.jobs.map((j) => j.id)).toEqual(['daily']);
      stop.abort();
      expect(await done).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
