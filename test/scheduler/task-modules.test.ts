/**
 * The task module policy through addJob: which 'module#export' references a scheduler imports
 * by default, with taskModules (specifiers, globs, a predicate) and with taskRoot, and how bad
 * values of those options are refused.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundScheduler, type SchedulerOptions, TaskLookupError } from '../../src/index.js';

const schedulers: BackgroundScheduler[] = [];
afterEach(async () => {
  for (const s of schedulers.splice(0)) if (s.running) await s.shutdown({ wait: false });
});

async function add(ref: string, options: SchedulerOptions = {}): Promise<unknown> {
  const s = new BackgroundScheduler({ timezone: 'UTC', ...options });
  schedulers.push(s);
  await s.start({ paused: true });
  return s.addJob(ref, 'interval', { hours: 1 }).then(
    (job) => job.id,
    (error: unknown) => error,
  );
}

const INSIDE = './test/fixtures/tasks/allowed.ts#run';

describe('task module policy', () => {
  it('by default imports files inside the working directory and nothing else', async () => {
    expect(typeof (await add(INSIDE))).toBe('string');
    for (const ref of [
      'node:child_process#execSync',
      'child_process#execSync',
      'fs#rmSync',
      'data:text/javascript,export const f=()=>1#f',
      'https://example.invalid/x.mjs#f',
      '/etc/passwd#f',
      'file:///etc/passwd#f',
      '../outside.js#f',
      'luxon#DateTime.now',
    ]) {
      const error = await add(ref);
      expect(error, ref).toBeInstanceOf(TaskLookupError);
      expect(String(error), ref).toMatch(/refused/);
    }
  });

  it('imports what taskModules allows, by specifier, glob or predicate', async () => {
    expect(typeof (await add('luxon#DateTime.now', { taskModules: ['luxon'] }))).toBe('string');
    expect(typeof (await add(INSIDE, { taskModules: './test/fixtures/tasks/*.ts' }))).toBe('string');
    expect(typeof (await add(INSIDE, { taskModules: ['./test/**'] }))).toBe('string');
    expect(await add(INSIDE, { taskModules: ['./test/fixtures/worker/*.ts'] })).toBeInstanceOf(
      TaskLookupError,
    );
    // An empty list: registered names only.
    expect(await add(INSIDE, { taskModules: [] })).toBeInstanceOf(TaskLookupError);
    const asked: Array<[string, string | null]> = [];
    const predicate = (specifier: string, path: string | null) => {
      asked.push([specifier, path]);
      return path?.endsWith('allowed.ts') === true;
    };
    expect(typeof (await add(INSIDE, { taskModules: predicate }))).toBe('string');
    expect(asked[0]?.[1]).toMatch(/test[/\\]fixtures[/\\]tasks[/\\]allowed\.ts$/);
    expect(await add('luxon#DateTime.now', { taskModules: predicate })).toBeInstanceOf(TaskLookupError);
    const throwing = () => {
      throw new Error('policy down');
    };
    expect(String(await add(INSIDE, { taskModules: throwing }))).toMatch(/policy down/);
    // Builtins and URLs stay refused whatever the list says.
    expect(
      await add('node:child_process#execSync', { taskModules: ['**', 'node:child_process'] }),
    ).toBeInstanceOf(TaskLookupError);
    expect(
      await add('data:text/javascript,export const f=()=>1#f', { taskModules: () => true }),
    ).toBeInstanceOf(TaskLookupError);
  });

  it('keeps file references inside taskRoot', async () => {
    expect(await add(INSIDE, { taskRoot: 'test/fixtures/worker' })).toBeInstanceOf(TaskLookupError);
    expect(typeof (await add(INSIDE, { taskRoot: 'test/fixtures' }))).toBe('string');
  });

  it('refuses bad taskModules and taskRoot values, naming the option and the value', () => {
    for (const taskModules of [5, null, [''], ['ok', 3], {}]) {
      expect(
        () => new BackgroundScheduler({ taskModules } as unknown as SchedulerOptions),
        String(taskModules),
      ).toThrow(/taskModules.*got/);
    }
    expect(() => new BackgroundScheduler({ taskModules: [7] } as unknown as SchedulerOptions)).toThrow(
      /\[7\]|7/,
    );
    for (const taskRoot of ['', 3, null]) {
      expect(() => new BackgroundScheduler({ taskRoot } as unknown as SchedulerOptions)).toThrow(
        /taskRoot.*got/,
      );
    }
  });
});
