/**
 * The `tickwork` command: `next` and `describe` read a schedule from the command line; `jobs`,
 * `pause`, `resume`, `remove`, `run` and `runs` work on a persistent store; `dashboard` serves
 * one. Exit codes: 0 done, 1 failed, 2 usage.
 *
 * Over 400 lines because each command is its own short function here, with its usage text and
 * its table and JSON output: one file a reader scans from the command name to what it prints.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import {
  CronTrigger,
  createDashboard,
  describeTrigger,
  type Job,
  type JobRun,
  type JobRunOutcome,
  type Trigger,
} from '../index.js';
import { latestRuns, RUN_OUTCOMES, runToJSON } from '../runs.js';
import { getZone, localZoneName } from '../time/zone.js';
import { wallTimeOf } from '../triggers/english.js';
import { openStore, StoreUrlError, withStore } from './store.js';

/** Where the command writes, and whether it may use colours. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  color: boolean;
}

/** A mistake in how the command was called (exit code 2). */
class UsageError extends Error {}

const MAIN_HELP = `Usage: tickwork <command> [options]

Commands:
  next <schedule>       the next fire times of a schedule
  describe <schedule>   a schedule in plain English

  jobs                  the jobs of a store
  pause <id>            pause a job
  resume <id>           resume a job
  remove <id>           remove a job
  run <id>              run a job once now (a process that has its task runs it)
  runs [id]             the run history of a store, or of one job
  dashboard             serve the web dashboard of a store

A schedule is a crontab line ("0 9 * * 1-5", "*/5 * * * * *", "@daily") or cron fields in
APScheduler's grammar (hour=9 minute=30 day_of_week=mon-fri).

A store is --store sqlite:./jobs.db, --store postgres://user@host/db (--table NAME) or
--store redis://host:6379 (--prefix PREFIX), or the TICKWORK_STORE environment variable. The
commands open it without running jobs, and need none of the job functions.

Run "tickwork <command> --help" for a command's options.
`;

const NEXT_HELP = `Usage: tickwork next <schedule> [-n 5] [--tz ZONE] [--from DATE] [--json]

Lists the next fire times of a schedule, in its time zone and in UTC.

  <schedule>      a crontab line ("0 9 * * 1-5", quoted) or fields (hour=9 minute=30)
  -n, --count N   how many fire times (default 5, at most 100000)
  --tz ZONE       the IANA time zone of the schedule (default: the system's, ${localZoneName()})
  --from DATE     start at this date (ISO 8601; without an offset, wall time in ZONE; default now)
  --json          print JSON: { description, timezone, fireTimes }
  -h, --help      this help
`;

const DESCRIBE_HELP = `Usage: tickwork describe <schedule> [--tz ZONE] [--json]

Prints a schedule in plain English.

  <schedule>   a crontab line ("0 9 * * 1-5", quoted) or fields (hour=9 minute=30)
  --tz ZONE    the IANA time zone of the schedule (default: the system's)
  --json       print JSON: { description, timezone }
  -h, --help   this help
`;

const STORE_OPTIONS = {
  store: { type: 'string' },
  table: { type: 'string' },
  prefix: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

const STORE_HELP = `  --store URL      sqlite:./jobs.db, postgres://user@host/db or redis://host:6379
                   (default: the TICKWORK_STORE environment variable)
  --table NAME     the Postgres table (default tickwork_jobs)
  --prefix PREFIX  the Redis key prefix (default tickwork:)
  --json           print JSON
  -h, --help       this help
`;

const JOBS_HELP = `Usage: tickwork jobs --store URL [--json]

Lists the jobs of a store: id, name, trigger in plain English, next run, the outcome of its
last run, and state (scheduled, paused, or broken: its task or trigger cannot be restored here,
with the reason).

${STORE_HELP}`;

const ACTION_HELP: Record<string, string> = {
  pause: 'Pauses the job with this id.',
  resume: 'Resumes the job with this id.',
  remove: 'Removes the job with this id.',
  run: `Runs the job with this id once now, outside its schedule. The run is queued in the store:
a scheduler process that has the job's task takes it (exactly one, on a shared store) and runs
it within its poll interval; "tickwork runs <id>" then shows it. A paused job is refused.`,
};

function actionHelp(action: string): string {
  return `Usage: tickwork ${action} <id> --store URL [--json]

${ACTION_HELP[action]}

${STORE_HELP}`;
}

const RUNS_HELP = `Usage: tickwork runs [id] --store URL [--limit 20] [--outcome error[,timeout...]] [--json]

Lists the run history of a store (or of one job), newest first: when it finished, the job, the
outcome, the attempt, the fire time it was for, how long it took, and its error.

  --limit N        how many runs (default 20, at most 10000)
  --outcome LIST   only these outcomes, comma-separated: ${RUN_OUTCOMES.join(', ')}
${STORE_HELP}`;

const DASHBOARD_HELP = `Usage: tickwork dashboard --store URL [--port 8080] [--host 127.0.0.1] [--read-only]

Serves the web dashboard of a store until interrupted (Ctrl-C). It serves loopback addresses
only, whatever --host says.

  --port N       the port (default 8080; 0 picks a free one)
  --host HOST    the address to listen on (default 127.0.0.1)
  --read-only    no pause, resume, run or remove
${STORE_HELP}`;

function jobState(job: Job): string {
  if (job.broken !== null) return 'broken';
  return job.nextRunTime === null ? 'paused' : 'scheduled';
}

function jobRow(job: Job, last?: JobRun | null): Record<string, unknown> {
  const row: Record<string, unknown> = {
    id: job.id,
    name: job.name,
    trigger: describeTrigger(job.trigger),
    nextRunTime: job.nextRunTime?.toISOString() ?? null,
    state: jobState(job),
    broken: job.broken,
  };
  if (last !== undefined) row.lastRun = last === null ? null : runToJSON(last);
  return row;
}

function duration(run: JobRun): string {
  if (run.startedAt === null) return '-';
  const ms = run.finishedAt.getTime() - run.startedAt.getTime();
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** Pads the cells of `rows` into columns. */
function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Control characters of a job's text written as escapes, so a job's name cannot drive the terminal. */
function printable(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.charCodeAt(0);
    out += code < 0x20 || (code >= 0x7f && code <= 0x9f) ? `\\u${code.toString(16).padStart(4, '0')}` : ch;
  }
  return out;
}

async function jobs(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: STORE_OPTIONS });
  if (values.help) {
    io.out(JOBS_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`jobs takes no arguments, got ${positionals.join(' ')}`);
  const { list, last } = await withStore(values, async (scheduler) => {
    const list = await scheduler.getJobs();
    return { list, last: await latestRuns(scheduler, list) };
  });
  if (values.json) {
    io.out(`${JSON.stringify({ jobs: list.map((j) => jobRow(j, last.get(j) ?? null)) }, null, 2)}\n`);
    return 0;
  }
  if (list.length === 0) {
    io.out('(no jobs)\n');
    return 0;
  }
  const rows = [['id', 'name', 'trigger', 'next run', 'last run', 'state']];
  for (const job of list) {
    const state = job.broken === null ? jobState(job) : `broken: ${job.broken}`;
    const next = job.nextRunTime?.toISOString() ?? '-';
    const run = last.get(job);
    const lastRun = run === undefined ? '-' : `${run.outcome} ${run.finishedAt.toISOString()}`;
    rows.push([job.id, job.name, describeTrigger(job.trigger), next, lastRun, state].map(printable));
  }
  const [header, ...body] = table(rows).split('\n');
  io.out(`${bold(io, header)}\n${body.join('\n')}\n`);
  return 0;
}

async function runs(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...STORE_OPTIONS,
      limit: { type: 'string', default: '20' },
      outcome: { type: 'string' },
    },
  });
  if (values.help) {
    io.out(RUNS_HELP);
    return 0;
  }
  if (positionals.length > 1)
    throw new UsageError(`runs takes at most one job id, got ${positionals.length}`);
  if (!/^\d+$/.test(values.limit) || Number(values.limit) < 1 || Number(values.limit) > 10_000) {
    throw new UsageError(`--limit takes a whole number from 1 to 10000, got "${values.limit}"`);
  }
  let outcome: JobRunOutcome[] | undefined;
  if (values.outcome !== undefined) {
    outcome = values.outcome.split(',').map((o) => o.trim()) as JobRunOutcome[];
    const unknown = outcome.find((o) => !RUN_OUTCOMES.includes(o));
    if (unknown !== undefined) {
      throw new UsageError(`unknown outcome "${unknown}" in --outcome; outcomes: ${RUN_OUTCOMES.join(', ')}`);
    }
  }
  const [jobId] = positionals;
  const list = await withStore(values, (scheduler) =>
    scheduler.getRuns({ jobId, outcome, limit: Number(values.limit) }),
  );
  if (values.json) {
    io.out(`${JSON.stringify({ runs: list.map(runToJSON) }, null, 2)}\n`);
    return 0;
  }
  if (list.length === 0) {
    io.out('(no runs)\n');
    return 0;
  }
  const rows = [['finished', 'job', 'outcome', 'attempt', 'for', 'took', 'error']];
  for (const run of list) {
    const error = run.error === null ? '' : `${run.error.name}: ${run.error.message}`.split('\n')[0];
    rows.push(
      [
        run.finishedAt.toISOString(),
        run.jobId,
        run.outcome,
        String(run.attempt),
        run.scheduledRunTime.toISOString(),
        duration(run),
        error,
      ].map(printable),
    );
  }
  const [header, ...body] = table(rows).split('\n');
  io.out(`${bold(io, header)}\n${body.join('\n')}\n`);
  return 0;
}

async function runNow(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: STORE_OPTIONS });
  if (values.help) {
    io.out(actionHelp('run'));
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`run takes one job id, got ${positionals.length}`);
  const [id] = positionals;
  const runTime = await withStore(values, (scheduler) => scheduler.runJob(id));
  if (values.json) io.out(`${JSON.stringify({ queued: { id, scheduledRunTime: runTime.toISOString() } })}\n`);
  else io.out(`${printable(id)}: run queued for ${runTime.toISOString()}; a process with its task runs it\n`);
  return 0;
}

async function jobAction(action: 'pause' | 'resume' | 'remove', args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: STORE_OPTIONS });
  if (values.help) {
    io.out(actionHelp(action));
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`${action} takes one job id, got ${positionals.length}`);
  const [id] = positionals;
  const job = await withStore(values, async (scheduler) => {
    if (action === 'pause') return scheduler.pauseJob(id);
    if (action === 'resume') return scheduler.resumeJob(id);
    await scheduler.removeJob(id);
    return null;
  });
  if (values.json) {
    const key = action === 'remove' ? 'removed' : 'job';
    io.out(`${JSON.stringify({ [key]: job === null ? id : jobRow(job) })}\n`);
  } else if (action === 'remove') io.out(`removed ${printable(id)}\n`);
  else if (job === null) io.out(`${printable(id)}: its trigger has no run left, so it was removed\n`);
  else io.out(`${printable(id)}: ${jobState(job)}, next run ${job.nextRunTime?.toISOString() ?? '-'}\n`);
  return 0;
}

async function dashboard(args: string[], io: Io, signal?: AbortSignal): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...STORE_OPTIONS,
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      'read-only': { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    io.out(DASHBOARD_HELP);
    return 0;
  }
  if (positionals.length > 0)
    throw new UsageError(`dashboard takes no arguments, got ${positionals.join(' ')}`);
  if (!/^\d+$/.test(values.port) || Number(values.port) > 65535) {
    throw new UsageError(`--port takes a port number, got "${values.port}"`);
  }
  const scheduler = await openStore(values);
  const server = createServer(createDashboard(scheduler, { readOnly: values['read-only'] }));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(Number(values.port), values.host, resolve);
    });
    const { address, port } = server.address() as AddressInfo;
    const host = address.includes(':') ? `[${address}]` : address;
    io.out(`tickwork dashboard on http://${host}:${port}/ (Ctrl-C stops it)\n`);
    await new Promise<void>((resolve) => {
      if (signal !== undefined) signal.addEventListener('abort', () => resolve(), { once: true });
      else {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      }
    });
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await scheduler.shutdown({ wait: false });
  }
  return 0;
}

const FIELD_ALIASES: Record<string, string> = { day_of_week: 'dayOfWeek', dow: 'dayOfWeek' };
const FIELDS = ['year', 'month', 'day', 'week', 'dayOfWeek', 'hour', 'minute', 'second'];

/** The trigger a schedule on the command line names: a crontab line, or `field=value` words. */
export function scheduleTrigger(words: string[], timezone: string): Trigger {
  if (words.length === 0)
    throw new UsageError('missing the schedule: a crontab line or fields such as hour=9');
  if (words.every((w) => w.includes('='))) {
    const fields: Record<string, string> = {};
    for (const word of words) {
      const [rawKey, ...rest] = word.split('=');
      const key = FIELD_ALIASES[rawKey] ?? rawKey;
      if (!FIELDS.includes(key)) {
        throw new UsageError(`unknown cron field "${rawKey}" in "${word}"; fields: ${FIELDS.join(', ')}`);
      }
      fields[key] = rest.join('=');
    }
    return new CronTrigger({ ...fields, timezone });
  }
  if (words.some((w) => w.includes('='))) {
    throw new UsageError(`mixed a crontab line and fields: ${words.join(' ')}`);
  }
  return CronTrigger.fromCrontab(words.join(' '), { timezone });
}

function bold(io: Io, text: string): string {
  return io.color ? `\u001b[1m${text}\u001b[22m` : text;
}

function next(args: string[], io: Io): number {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      count: { type: 'string', short: 'n', default: '5' },
      tz: { type: 'string' },
      from: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    io.out(NEXT_HELP);
    return 0;
  }
  if (!/^\d+$/.test(values.count)) throw new UsageError(`-n takes a whole number, got "${values.count}"`);
  const timezone = getZone(values.tz ?? localZoneName(), '--tz').name;
  const trigger = scheduleTrigger(positionals, timezone);
  const fireTimes = trigger.getNextFireTimes?.(Number(values.count), values.from) ?? [];
  const description = describeTrigger(trigger);
  if (values.json) {
    io.out(
      `${JSON.stringify({ description, timezone, fireTimes: fireTimes.map((d) => d.toISOString()) }, null, 2)}\n`,
    );
    return 0;
  }
  const zone = getZone(timezone);
  const lines = [bold(io, description)];
  for (const fire of fireTimes) lines.push(`${wallTimeOf(fire.getTime(), zone)}  (${fire.toISOString()})`);
  if (fireTimes.length === 0) lines.push('(no fire times left)');
  io.out(`${lines.join('\n')}\n`);
  return 0;
}

function describeCommand(args: string[], io: Io): number {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      tz: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    io.out(DESCRIBE_HELP);
    return 0;
  }
  const timezone = getZone(values.tz ?? localZoneName(), '--tz').name;
  const description = describeTrigger(scheduleTrigger(positionals, timezone));
  io.out(values.json ? `${JSON.stringify({ description, timezone }, null, 2)}\n` : `${description}\n`);
  return 0;
}

/**
 * Runs the command line `args` (without `node` and the script); resolves to the exit code.
 * `signal` stops a long-running command (the dashboard) instead of SIGINT/SIGTERM.
 */
export async function main(args: string[], io: Io, signal?: AbortSignal): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case 'next':
        return next(rest, io);
      case 'describe':
        return describeCommand(rest, io);
      case 'jobs':
        return await jobs(rest, io);
      case 'pause':
      case 'resume':
      case 'remove':
        return await jobAction(command, rest, io);
      case 'run':
        return await runNow(rest, io);
      case 'runs':
        return await runs(rest, io);
      case 'dashboard':
        return await dashboard(rest, io, signal);
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        io.out(MAIN_HELP);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    const usage =
      error instanceof UsageError ||
      error instanceof StoreUrlError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true;
    const message = error instanceof Error ? error.message : String(error);
    io.err(`tickwork: ${message}\n${usage ? 'Run "tickwork --help" for usage.\n' : ''}`);
    if (usage) return 2;
    // A schedule or zone the trigger refuses is a usage mistake: the words were wrong. A job
    // that is not there, or a store that cannot be reached, is a failure.
    const badWords =
      (command === 'next' || command === 'describe') &&
      (error instanceof RangeError || error instanceof TypeError);
    return badWords ? 2 : 1;
  }
}
