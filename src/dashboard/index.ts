/**
 * `createDashboard(scheduler, options)`: a request handler for `node:http`, Express and Connect
 * that serves a page of the scheduler's jobs and a JSON API under `${basePath}api/`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describeValue } from '../describe.js';
import { JobLookupError, JobPausedError } from '../errors.js';
import type { Job } from '../job.js';
import { type JobRun, type JobRunOutcome, latestRuns, RUN_OUTCOMES, runToJSON } from '../runs.js';
import type { Scheduler } from '../scheduler/base.js';
import { describeTrigger } from '../triggers/english.js';
import { APP_JS, INDEX_HTML, STYLE_CSS } from './assets.js';
import { hasCsrfToken, isLoopback, isSameOrigin, newCsrfToken, securityHeaders } from './security.js';

/** Options of `createDashboard`. */
export interface DashboardOptions {
  /** The path the dashboard is served under, ending in `/`. Default `/`. */
  basePath?: string;
  /**
   * Decides who may use the dashboard. Without it only requests from loopback addresses are
   * served (others get 403); with it, every request it accepts is served, from any address.
   */
  authorize?: (req: IncomingMessage) => boolean | Promise<boolean>;
  /** No pause, resume, run now or remove: the page and the API only read. Default false. */
  readOnly?: boolean;
}

/** The `getRuns` query of `GET runs?jobId=&jobstore=&outcome=error,timeout&limit=100`. */
function runQuery(params: URLSearchParams) {
  const jobId = params.get('jobId') ?? undefined;
  const jobstore = params.get('jobstore') ?? undefined;
  const outcomeText = params.get('outcome');
  let outcome: JobRunOutcome[] | undefined;
  if (outcomeText !== null && outcomeText !== '') {
    outcome = outcomeText.split(',') as JobRunOutcome[];
    const unknown = outcome.find((o) => !RUN_OUTCOMES.includes(o));
    if (unknown !== undefined) {
      throw new ApiError(
        400,
        'bad_request',
        `Unknown outcome ${JSON.stringify(unknown)}; outcomes: ${RUN_OUTCOMES.join(', ')}`,
      );
    }
  }
  const limitText = params.get('limit') ?? String(DEFAULT_RUNS);
  if (!/^\d+$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 10_000) {
    throw new ApiError(
      400,
      'bad_request',
      `limit must be a whole number from 1 to 10000, got ${JSON.stringify(limitText)}`,
    );
  }
  return { jobId, jobstore, outcome, limit: Number(limitText) };
}

/** A `(req, res, next?)` handler: `http.createServer(handler)` or `app.use('/jobs', handler)`. */
export type DashboardHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  next?: (error?: unknown) => void,
) => void;

/** A failed API call: its HTTP status, a machine code and a message. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const MAX_NEXT_RUNS = 10;
/** Runs on a job's page. */
const JOB_PAGE_RUNS = 20;
/** Runs `GET runs` returns unless told (at most `getRuns` allows). */
const DEFAULT_RUNS = 100;

function checkOptions(
  options: DashboardOptions,
): Required<Omit<DashboardOptions, 'authorize'>> & Pick<DashboardOptions, 'authorize'> {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Expected dashboard options to be an object, got ${describeValue(options)}`);
  }
  const { basePath = '/', authorize, readOnly = false } = options;
  if (typeof basePath !== 'string' || !basePath.startsWith('/') || !basePath.endsWith('/')) {
    throw new TypeError(
      `Expected basePath to be a path starting and ending with "/", got ${describeValue(basePath)}`,
    );
  }
  if (authorize !== undefined && typeof authorize !== 'function') {
    throw new TypeError(`Expected authorize to be a function, got ${describeValue(authorize)}`);
  }
  if (typeof readOnly !== 'boolean') {
    throw new TypeError(`Expected readOnly to be a boolean, got ${describeValue(readOnly)}`);
  }
  return { basePath, authorize, readOnly };
}

/** The job as the API shows it. */
function jobJSON(job: Job, detail: boolean, lastRun?: JobRun | null): Record<string, unknown> {
  const json: Record<string, unknown> = {
    id: job.id,
    name: job.name,
    trigger: job.trigger.toString(),
    description: describeTrigger(job.trigger),
    timezone: (job.trigger.toJSON().timezone as string | undefined) ?? null,
    nextRunTime: job.nextRunTime?.toISOString() ?? null,
    paused: job.nextRunTime === null,
    broken: job.broken,
    jobstore: job.jobstore,
    executor: job.executor,
    task: job.taskRef,
  };
  if (lastRun !== undefined) {
    json.lastRun =
      lastRun === null ? null : { outcome: lastRun.outcome, finishedAt: lastRun.finishedAt.toISOString() };
  }
  if (detail) {
    json.args = job.args;
    json.misfireGraceTime = job.misfireGraceTime;
    json.coalesce = job.coalesce;
    json.maxInstances = job.maxInstances;
    json.timeout = job.timeout;
    json.nextRunTimes = job.getNextRunTimes(MAX_NEXT_RUNS).map((d) => d.toISOString());
  }
  return json;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.end(body);
}

function sendJSON(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

/** The dashboard of `scheduler`, safe by default (see `DashboardOptions`). */
export function createDashboard(scheduler: Scheduler, options: DashboardOptions = {}): DashboardHandler {
  const { basePath, authorize, readOnly } = checkOptions(options);
  const csrf = newCsrfToken();
  const page = INDEX_HTML.replaceAll('__BASE__', basePath)
    .replace('__CSRF__', csrf)
    .replace('__READONLY__', String(readOnly));

  async function api(req: IncomingMessage, res: ServerResponse, route: string): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://dashboard');
    if (method === 'GET' && route === 'jobs') {
      const jobs = await scheduler.getJobs();
      const last = await latestRuns(scheduler, jobs);
      sendJSON(res, 200, { jobs: jobs.map((j) => jobJSON(j, false, last.get(j) ?? null)) });
      return;
    }
    if (method === 'GET' && route === 'runs') {
      const runs = await scheduler.getRuns(runQuery(url.searchParams));
      sendJSON(res, 200, { runs: runs.map(runToJSON) });
      return;
    }
    if (route === 'runs') throw new ApiError(405, 'method_not_allowed', `${method} is not allowed on runs`);
    const match = /^jobs\/([^/]+)(?:\/(pause|resume|run))?$/.exec(route);
    if (match === null) throw new ApiError(404, 'not_found', `No API route ${method} ${route}`);
    const id = decodeURIComponent(match[1]);
    const jobstore = url.searchParams.get('jobstore') ?? undefined;
    const action = match[2];
    if (method === 'GET' && action === undefined) {
      const job = await scheduler.getJob(id, jobstore);
      if (job === null) throw new ApiError(404, 'job_not_found', `No job with id ${JSON.stringify(id)}`);
      const runs = await scheduler.getRuns({ jobId: id, jobstore: job.jobstore, limit: JOB_PAGE_RUNS });
      sendJSON(res, 200, { job: { ...jobJSON(job, true, runs[0] ?? null), runs: runs.map(runToJSON) } });
      return;
    }
    const changes =
      (action !== undefined && method === 'POST') || (action === undefined && method === 'DELETE');
    if (!changes) throw new ApiError(405, 'method_not_allowed', `${method} is not allowed on ${route}`);
    if (readOnly) throw new ApiError(403, 'read_only', 'This dashboard is read-only');
    if (!isSameOrigin(req))
      throw new ApiError(403, 'cross_origin', 'Cross-origin requests may not change jobs');
    if (!hasCsrfToken(req, csrf)) throw new ApiError(403, 'csrf', 'Missing or wrong x-tickwork-csrf header');
    if (action === 'run') {
      const runTime = await scheduler.runJob(id, jobstore);
      sendJSON(res, 200, { queued: { id, scheduledRunTime: runTime.toISOString() } });
    } else if (action === 'pause')
      sendJSON(res, 200, { job: jobJSON(await scheduler.pauseJob(id, jobstore), false) });
    else if (action === 'resume') {
      const job = await scheduler.resumeJob(id, jobstore);
      sendJSON(res, 200, { job: job === null ? null : jobJSON(job, false) });
    } else {
      await scheduler.removeJob(id, jobstore);
      sendJSON(res, 200, { removed: id });
    }
  }

  async function handle(
    req: IncomingMessage,
    res: ServerResponse,
    next?: (error?: unknown) => void,
  ): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://dashboard').pathname;
    // Mounted by a framework that strips its prefix (Express), the path is already relative.
    const relative = path.startsWith(basePath) ? path.slice(basePath.length) : path.slice(1);
    if (basePath !== '/' && path === basePath.slice(0, -1)) {
      res.statusCode = 308;
      res.setHeader('Location', basePath);
      res.end();
      return;
    }
    const known =
      relative === '' || relative === 'app.js' || relative === 'style.css' || relative.startsWith('api/');
    if (!known) {
      if (next !== undefined) next();
      else {
        securityHeaders(res);
        sendJSON(res, 404, { error: { code: 'not_found', message: `Nothing at ${path}` } });
      }
      return;
    }
    securityHeaders(res);
    const allowed = authorize === undefined ? isLoopback(req.socket?.remoteAddress) : await authorize(req);
    if (!allowed) {
      sendJSON(res, 403, {
        error: {
          code: 'forbidden',
          message:
            authorize === undefined
              ? 'The dashboard serves loopback addresses only; pass an authorize option to serve others'
              : 'Not authorized',
        },
      });
      return;
    }
    try {
      if (relative === '') send(res, 200, 'text/html; charset=utf-8', page);
      else if (relative === 'app.js') send(res, 200, 'text/javascript; charset=utf-8', APP_JS);
      else if (relative === 'style.css') send(res, 200, 'text/css; charset=utf-8', STYLE_CSS);
      else await api(req, res, relative.slice(4));
    } catch (error) {
      if (error instanceof ApiError) {
        sendJSON(res, error.status, { error: { code: error.code, message: error.message } });
      } else if (error instanceof JobLookupError) {
        sendJSON(res, 404, { error: { code: 'job_not_found', message: error.message } });
      } else if (error instanceof JobPausedError) {
        sendJSON(res, 409, { error: { code: 'job_paused', message: error.message } });
      } else if (error instanceof TypeError || error instanceof RangeError) {
        // A wrong value in the request: an unknown store, a job that cannot be resumed here.
        sendJSON(res, 400, { error: { code: 'bad_request', message: error.message } });
      } else {
        sendJSON(res, 500, {
          error: { code: 'internal', message: error instanceof Error ? error.message : String(error) },
        });
      }
    }
  }

  return (req, res, next) => {
    handle(req, res, next).catch((error: unknown) => {
      if (next !== undefined) next(error);
      else if (!res.headersSent) sendJSON(res, 500, { error: { code: 'internal', message: String(error) } });
      else res.destroy(error as Error);
    });
  };
}
