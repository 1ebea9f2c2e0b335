/**
 * The `tickwork` command: `tickwork next` and `tickwork describe` read a schedule from the
 * command line. Exit codes: 0 done, 1 failed, 2 usage.
 */
import { parseArgs } from 'node:util';
import { CronTrigger, describeTrigger, type Trigger } from '../index.js';
import { getZone, localZoneName } from '../time/zone.js';
import { wallTimeOf } from '../triggers/english.js';

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

A schedule is a crontab line ("0 9 * * 1-5", "*/5 * * * * *", "@daily") or cron fields in
APScheduler's grammar (hour=9 minute=30 day_of_week=mon-fri).

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

/** Runs the command line `args` (without `node` and the script); resolves to the exit code. */
export async function main(args: string[], io: Io): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case 'next':
        return next(rest, io);
      case 'describe':
        return describeCommand(rest, io);
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
      error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    const message = error instanceof Error ? error.message : String(error);
    io.err(`tickwork: ${message}\n${usage ? 'Run "tickwork --help" for usage.\n' : ''}`);
    // A schedule or zone the trigger refuses is a usage mistake too: the words were wrong.
    return usage || error instanceof RangeError || error instanceof TypeError ? 2 : 1;
  }
}
