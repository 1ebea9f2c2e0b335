/**
 * The dashboard's JSON API and its defences, over real HTTP on loopback: jobs and a job, pause,
 * resume, run now and remove with the CSRF token, the run history, the same error shape everywhere, read-only mode, the
 * loopback rule and `authorize`, and mounting in Express and Fastify.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackgroundScheduler, createDashboard, type DashboardOptions } from '../../src/index.js';
import { waitFor } from '../helpers/wait.js';

/** The API's response bodies, loosely. */
interface Body {
  jobs: Array<Record<string, unknown>>;
  job: Record<string, unknown> & { runs: Array<Record<string, unknown>> };
  runs: Array<Record<string, unknown>>;
  queued: { id: string; scheduledRunTime: string };
  error: { code: string; message: string };
  removed: string;
}

/** The JSON body of a response. */
async function body(response: Response): Promise<Body> {
  return (await response.json()) as Body;
}

let scheduler: BackgroundScheduler;
let server: Server | null = null;

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function dashboard(options: DashboardOptions = {}): Promise<{ url: string; csrf: string }> {
  const url = await listen(createDashboard(scheduler, options));
  const page = await (await fetch(`${url}${options.basePath ?? '/'}`)).text();
  const csrf = /name="tickwork-csrf" content="([^"]+)"/.exec(page)?.[1] ?? '';
  return { url: `${url}${options.basePath ?? '/'}`, csrf };
}

// Twelve hours from now, so that "nightly" always fires after "poll" (every 5 minutes), whatever
// the time of day the tests run at.
const NIGHTLY_HOUR = (new Date().getUTCHours() + 12) % 24;
const NIGHTLY_AT = `at ${String(NIGHTLY_HOUR).padStart(2, '0')}:00 every day`;

beforeEach(async () => {
  scheduler = new BackgroundScheduler({ timezone: 'UTC', daemon: true });
  await scheduler.start({ paused: true });
  await scheduler.addJob(() => undefined, 'cron', {
    hour: NIGHTLY_HOUR,
    id: 'nightly',
    name: 'Nightly report',
    args: [],
  });
  await scheduler.addJob(() => undefined, 'interval', {
    minutes: 5,
    id: 'poll',
    name: '<img src=x onerror=alert(1)>',
  });
});

afterEach(async () => {
  await new Promise<void>((resolve) => (server === null ? resolve() : server.close(() => resolve())));
  server = null;
  await scheduler.shutdown({ wait: false });
});

describe('dashboard API', () => {
  it('lists the jobs and shows one with its next runs', async () => {
    const { url } = await dashboard();
    const list = await body(await fetch(`${url}api/jobs`));
    expect(list.jobs.map((j) => [j.id, j.description])).toEqual([
      ['poll', expect.stringMatching(/^every 5 minutes from /)],
      ['nightly', NIGHTLY_AT],
    ]);
    const response = await fetch(`${url}api/jobs/nightly`);
    expect(response.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    const { job } = await body(response);
    expect(job).toMatchObject({ id: 'nightly', name: 'Nightly report', paused: false, args: [] });
    expect(job.nextRunTimes).toHaveLength(10);
  });

  it('pauses, resumes and removes with the CSRF token, and refuses without it', async () => {
    const { url, csrf } = await dashboard();
    expect(csrf).toMatch(/^[\w-]{40,}$/);
    const refused = await fetch(`${url}api/jobs/nightly/pause`, { method: 'POST' });
    expect(refused.status).toBe(403);
    expect(await body(refused)).toEqual({
      error: { code: 'csrf', message: 'Missing or wrong x-tickwork-csrf header' },
    });
    const wrong = await fetch(`${url}api/jobs/nightly/pause`, {
      method: 'POST',
      headers: { 'x-tickwork-csrf': 'x' },
    });
    expect(wrong.status).toBe(403);
    expect((await scheduler.getJob('nightly'))?.nextRunTime).not.toBeNull();

    const headers = { 'x-tickwork-csrf': csrf };
    const paused = await fetch(`${url}api/jobs/nightly/pause`, { method: 'POST', headers });
    expect((await body(paused)).job.paused).toBe(true);
    expect((await scheduler.getJob('nightly'))?.nextRunTime).toBeNull();
    await fetch(`${url}api/jobs/nightly/resume`, { method: 'POST', headers });
    expect((await scheduler.getJob('nightly'))?.nextRunTime).not.toBeNull();
    const removed = await fetch(`${url}api/jobs/nightly`, { method: 'DELETE', headers });
    expect(await body(removed)).toEqual({ removed: 'nightly' });
    expect(await scheduler.getJob('nightly')).toBeNull();
  });

  it("runs a job now and answers its runs: filtered, on the job, and as each job's last run", async () => {
    const { url, csrf } = await dashboard();
    const headers = { 'x-tickwork-csrf': csrf };
    expect((await fetch(`${url}api/jobs/nightly/run`, { method: 'POST' })).status).toBe(403);
    const queued = await fetch(`${url}api/jobs/nightly/run`, { method: 'POST', headers });
    expect(queued.status).toBe(200);
    const { scheduledRunTime } = (await body(queued)).queued;
    // The scheduler is paused: the run waits for it.
    expect((await body(await fetch(`${url}api/runs`))).runs).toEqual([]);
    scheduler.resume();
    await waitFor(async () => (await scheduler.getRuns()).length === 1, 'the run in the history');

    const { runs } = await body(await fetch(`${url}api/runs`));
    expect(runs).toEqual([
      expect.objectContaining({
        jobId: 'nightly',
        outcome: 'success',
        attempt: 1,
        scheduledRunTime,
        error: null,
      }),
    ]);
    expect(typeof runs[0].durationMs).toBe('number');
    expect((await body(await fetch(`${url}api/runs?outcome=error,timeout`))).runs).toEqual([]);
    expect((await body(await fetch(`${url}api/runs?jobId=poll`))).runs).toEqual([]);
    expect((await body(await fetch(`${url}api/runs?jobId=nightly&limit=1`))).runs).toHaveLength(1);
    const { job } = await body(await fetch(`${url}api/jobs/nightly`));
    expect(job.runs.map((r) => r.scheduledRunTime)).toEqual([scheduledRunTime]);
    expect(job.lastRun).toMatchObject({ outcome: 'success' });
    const { jobs } = await body(await fetch(`${url}api/jobs`));
    expect(jobs.map((j) => [j.id, (j.lastRun as { outcome: string } | null)?.outcome ?? null])).toEqual([
      ['poll', null],
      ['nightly', 'success'],
    ]);

    const badOutcome = await fetch(`${url}api/runs?outcome=fine`);
    expect(badOutcome.status).toBe(400);
    expect((await body(badOutcome)).error).toEqual({
      code: 'bad_request',
      message: 'Unknown outcome "fine"; outcomes: success, error, timeout, missed, max_instances, abandoned',
    });
    expect((await body(await fetch(`${url}api/runs?limit=0`))).error.code).toBe('bad_request');
    const badStore = await fetch(`${url}api/runs?jobstore=elsewhere`);
    expect(badStore.status).toBe(400);
    expect((await body(badStore)).error.message).toMatch(/Expected jobstore to be one of "default"/);
    expect((await fetch(`${url}api/runs`, { method: 'POST', headers })).status).toBe(405);

    await scheduler.pauseJob('poll');
    const paused = await fetch(`${url}api/jobs/poll/run`, { method: 'POST', headers });
    expect(paused.status).toBe(409);
    expect((await body(paused)).error).toEqual({
      code: 'job_paused',
      message: 'Job "poll" is paused: resume it before running it',
    });
    const missing = await fetch(`${url}api/jobs/nope/run`, { method: 'POST', headers });
    expect(missing.status).toBe(404);
  });

  it('refuses state changes by GET and from another origin', async () => {
    const { url, csrf } = await dashboard();
    expect((await fetch(`${url}api/jobs/nightly/pause`)).status).toBe(405);
    const cross = await fetch(`${url}api/jobs/nightly/pause`, {
      method: 'POST',
      headers: { 'x-tickwork-csrf': csrf, origin: 'https://evil.example' },
    });
    expect(cross.status).toBe(403);
    expect((await body(cross)).error.code).toBe('cross_origin');
  });

  it('answers errors in one shape', async () => {
    const { url, csrf } = await dashboard();
    const missing = await fetch(`${url}api/jobs/nope`);
    expect(missing.status).toBe(404);
    expect(await body(missing)).toEqual({
      error: { code: 'job_not_found', message: 'No job with id "nope"' },
    });
    const pauseMissing = await fetch(`${url}api/jobs/nope/pause`, {
      method: 'POST',
      headers: { 'x-tickwork-csrf': csrf },
    });
    expect(pauseMissing.status).toBe(404);
    expect((await body(pauseMissing)).error.code).toBe('job_not_found');
    const route = await fetch(`${url}api/frob`);
    expect(await body(route)).toEqual({ error: { code: 'not_found', message: 'No API route GET frob' } });
  });

  it('has no state changes when read-only', async () => {
    const { url, csrf } = await dashboard({ readOnly: true });
    const page = await (await fetch(url)).text();
    expect(page).toContain('name="tickwork-read-only" content="true"');
    const response = await fetch(`${url}api/jobs/nightly/pause`, {
      method: 'POST',
      headers: { 'x-tickwork-csrf': csrf },
    });
    expect(response.status).toBe(403);
    expect((await body(response)).error.code).toBe('read_only');
    const run = await fetch(`${url}api/jobs/nightly/run`, {
      method: 'POST',
      headers: { 'x-tickwork-csrf': csrf },
    });
    expect(run.status).toBe(403);
    expect((await body(run)).error.code).toBe('read_only');
    expect((await body(await fetch(`${url}api/runs`))).runs).toEqual([]);
  });

  it('serves under a base path and redirects the path without its slash', async () => {
    const { url } = await dashboard({ basePath: '/admin/jobs/' });
    expect(url.endsWith('/admin/jobs/')).toBe(true);
    expect((await body(await fetch(`${url}api/jobs`))).jobs).toHaveLength(2);
    const redirect = await fetch(url.slice(0, -1), { redirect: 'manual' });
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get('location')).toBe('/admin/jobs/');
  });

  it('refuses bad options naming them', () => {
    expect(() => createDashboard(scheduler, { basePath: 'admin' })).toThrow(
      /Expected basePath to be a path starting and ending with "\/", got "admin" \(string\)/,
    );
    expect(() => createDashboard(scheduler, { readOnly: 'yes' as never })).toThrow(
      /Expected readOnly to be a boolean/,
    );
    expect(() => createDashboard(scheduler, { authorize: true as never })).toThrow(
      /Expected authorize to be a function/,
    );
  });
});

/** Calls the handler with a request from `remoteAddress`, as a server would; resolves to the status. */
function requestFrom(options: DashboardOptions, remoteAddress: string, path = '/api/jobs'): Promise<number> {
  const handler = createDashboard(scheduler, options);
  return new Promise((resolve) => {
    const req = { url: path, method: 'GET', headers: { host: 'jobs.example' }, socket: { remoteAddress } };
    const headers: Record<string, unknown> = {};
    const res = {
      statusCode: 200,
      headersSent: false,
      setHeader: (k: string, v: unknown) => {
        headers[k] = v;
      },
      end: () => resolve(res.statusCode),
    };
    handler(req as unknown as IncomingMessage, res as unknown as ServerResponse);
  });
}

describe('who may use the dashboard', () => {
  it('serves loopback addresses only without authorize', async () => {
    expect(await requestFrom({}, '127.0.0.1')).toBe(200);
    expect(await requestFrom({}, '::1')).toBe(200);
    expect(await requestFrom({}, '::ffff:127.0.0.1')).toBe(200);
    expect(await requestFrom({}, '203.0.113.5')).toBe(403);
    expect(await requestFrom({}, '::ffff:192.0.2.1', '/')).toBe(403);
  });

  it('lets authorize decide, from any address', async () => {
    const authorize = (req: IncomingMessage) => req.headers.host === 'jobs.example';
    expect(await requestFrom({ authorize }, '203.0.113.5')).toBe(200);
    expect(await requestFrom({ authorize: async () => false }, '127.0.0.1')).toBe(403);
  });
});

describe('mounted in frameworks', () => {
  it('works in Express under a path', async () => {
    const app = express();
    app.use('/jobs', createDashboard(scheduler, { basePath: '/jobs/' }));
    app.get('/other', (_req, res) => {
      res.send('other');
    });
    const url = await listen(app);
    expect((await body(await fetch(`${url}/jobs/api/jobs`))).jobs).toHaveLength(2);
    expect(await (await fetch(`${url}/jobs/`)).text()).toContain('<script src="/jobs/app.js"');
    expect(await (await fetch(`${url}/other`)).text()).toBe('other');
  });

  it('works in Fastify through the raw request', async () => {
    const app = Fastify();
    const handler = createDashboard(scheduler, { basePath: '/jobs/' });
    app.all('/jobs/*', (request, reply) => {
      reply.hijack();
      handler(request.raw, reply.raw);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      expect((await body(await fetch(`${url}/jobs/api/jobs`))).jobs).toHaveLength(2);
      expect((await fetch(`${url}/jobs/app.js`)).headers.get('content-type')).toMatch(/javascript/);
    } finally {
      await app.close();
    }
  });
});
