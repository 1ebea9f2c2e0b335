/**
 * The `tickwork` command: `next` and `describe`, their help, JSON output and exit codes (0 done,
 * 2 usage). Most cases call `main` in-process; one runs the real executable.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t), color: false });
  return { code, out, err };
}

describe('tickwork next', () => {
  it('lists the next fire times of a crontab line in its zone and in UTC', async () => {
    const r = await run(
      'next',
      '0 9 * * 1-5',
      '--tz',
      'Europe/Berlin',
      '-n',
      '3',
      '--from',
      '2026-12-04T12:00',
    );
    expect(r).toEqual({
      code: 0,
      err: '',
      out: [
        'at 09:00 on Monday through Friday (Europe/Berlin)',
        '2026-12-07 09:00 Europe/Berlin  (2026-12-07T08:00:00.000Z)',
        '2026-12-08 09:00 Europe/Berlin  (2026-12-08T08:00:00.000Z)',
        '2026-12-09 09:00 Europe/Berlin  (2026-12-09T08:00:00.000Z)',
        '',
      ].join('\n'),
    });
  });

  it('takes a crontab split over several words, macros and fields, and prints JSON', async () => {
    const split = await run(
      'next',
      '*/30',
      '*',
      '*',
      '*',
      '*',
      '--tz',
      'UTC',
      '-n',
      '2',
      '--from',
      '2026-12-01T10:10Z',
      '--json',
    );
    expect(JSON.parse(split.out)).toEqual({
      description: 'every 30 minutes',
      timezone: 'UTC',
      fireTimes: ['2026-12-01T10:30:00.000Z', '2026-12-01T11:00:00.000Z'],
    });
    const macro = await run('next', '@monthly', '--tz', 'UTC', '-n', '1', '--from', '2026-12-02', '--json');
    expect(JSON.parse(macro.out).fireTimes).toEqual(['2027-01-01T00:00:00.000Z']);
    const fields = await run(
      'next',
      'hour=9',
      'day_of_week=sat',
      '--tz',
      'UTC',
      '-n',
      '1',
      '--from',
      '2026-12-01',
      '--json',
    );
    expect(JSON.parse(fields.out)).toEqual({
      description: 'at 09:00 on Saturday',
      timezone: 'UTC',
      fireTimes: ['2026-12-05T09:00:00.000Z'],
    });
  });

  it('says when a schedule has no fire times left', async () => {
    const r = await run('next', '0 0 0 1 1 * 2020', '--tz', 'UTC');
    expect(r.out).toMatch(/\(no fire times left\)\n$/);
  });

  it('exits 2 with the reason for a bad schedule, zone, count, option or command', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['next', '61 * * * *', '--tz', 'UTC'], /Invalid cron field minute: "61"/],
      [
        ['next', '@daily', '--tz', 'Mars/Base'],
        /Expected --tz to be an IANA time zone name, got unknown time zone "Mars\/Base"/,
      ],
      [['next', '@daily', '-n', 'lots'], /-n takes a whole number, got "lots"/],
      [['next', '@daily', '--frobnicate'], /Unknown option '--frobnicate'/],
      [['next'], /missing the schedule/],
      [['next', 'hour=9', '0'], /mixed a crontab line and fields/],
      [['next', 'hours=9'], /unknown cron field "hours"/],
      [['frob'], /unknown command "frob"/],
    ];
    for (const [args, message] of cases) {
      const r = await run(...args);
      expect({ args, code: r.code, out: r.out }).toEqual({ args, code: 2, out: '' });
      expect(r.err).toMatch(message);
    }
  });
});

describe('tickwork describe and help', () => {
  it('prints the description alone, or as JSON', async () => {
    expect(
      await run('describe', 'hour=9', 'minute=30', 'day_of_week=mon-fri', '--tz', 'America/New_York'),
    ).toEqual({
      code: 0,
      err: '',
      out: 'at 09:30 on Monday through Friday (America/New_York)\n',
    });
    const json = await run('describe', '30 17 * * 5L', '--tz', 'UTC', '--json');
    expect(JSON.parse(json.out)).toEqual({
      description: 'at 17:30 on the last Friday of every month',
      timezone: 'UTC',
    });
  });

  it('has --help on every command (exit 0), and usage without a command (exit 2)', async () => {
    expect(await run('--help')).toMatchObject({
      code: 0,
      out: expect.stringMatching(/^Usage: tickwork <command>/),
    });
    expect(await run('next', '--help')).toMatchObject({
      code: 0,
      out: expect.stringMatching(/^Usage: tickwork next/),
    });
    expect(await run('describe', '-h')).toMatchObject({
      code: 0,
      out: expect.stringMatching(/^Usage: tickwork describe/),
    });
    expect(await run()).toMatchObject({ code: 2, out: expect.stringMatching(/^Usage: tickwork <command>/) });
  });

  it('runs as an executable with its exit code, without colours when not on a terminal', () => {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'src/cli/bin.ts'), 'describe', '@hourly'],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: 'every hour\n' });
    const bad = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'src/cli/bin.ts'), 'next', '* * *'],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^tickwork: Invalid crontab/);
  });
});
