/**
 * OrTrigger and AndTrigger through the public API: each child runs through its own sequence,
 * shared instants fire once, missed fire times are all found, and the state survives JSON.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AndTrigger,
  CronTrigger,
  DateTrigger,
  IntervalTrigger,
  OrTrigger,
  type Trigger,
  type TriggerJSON,
  triggerFromJSON,
} from '../../src/index.js';
import {
  at as fromT0,
  HOUR,
  makeScheduler,
  named,
  record,
  SECOND,
  useFakeTime,
} from '../helpers/scheduler.js';

useFakeTime();

const S = Date.parse('2026-03-01T00:00:00Z');
const iso = (d: Date | null) => d?.toISOString() ?? null;
const at = (seconds: number) => new Date(S + seconds * 1000).toISOString();

/** The first `count` fire times from `now`, each next one computed as the scheduler does. */
function fires(trigger: Trigger, now: string, count: number): Array<string | null> {
  const out: Array<string | null> = [];
  let previous: Date | null = null;
  let current = new Date(now);
  for (let i = 0; i < count; i++) {
    const next = trigger.getNextFireTime(previous, current);
    out.push(iso(next));
    if (next === null) break;
    previous = current = next;
  }
  return out;
}

/** Continues a sequence from `previous` (the scheduler's call after a run). */
function continueFrom(trigger: Trigger, previous: string, count: number): Array<string | null> {
  const out: Array<string | null> = [];
  let prev = new Date(previous);
  for (let i = 0; i < count; i++) {
    const next = trigger.getNextFireTime(prev, prev);
    out.push(iso(next));
    if (next === null) break;
    prev = next;
  }
  return out;
}

/** The scheduler's catch-up: every fire time from `first` up to `now`, and the one after. */
function missed(trigger: Trigger, first: Date, now: Date): Array<string | null> {
  const out: Array<string | null> = [];
  let t: Date | null = first;
  while (t !== null && t.getTime() <= now.getTime()) {
    out.push(iso(t));
    t = trigger.getNextFireTime(t, now);
  }
  out.push(iso(t));
  return out;
}

/** A stored trigger brought back, as a persistent store does. */
const restore = (t: Trigger) => triggerFromJSON(JSON.parse(JSON.stringify(t.toJSON())) as TriggerJSON);

const every = (seconds: number, extra: Record<string, unknown> = {}) =>
  new IntervalTrigger({ seconds, startDate: new Date(S), timezone: 'UTC', ...extra });

afterEach(() => {
  vi.restoreAllMocks();
});

describe('combining triggers in a running scheduler', () => {
  it('runs an OrTrigger job at every fire time of every child', async () => {
    const scheduler = makeScheduler();
    const events = record(scheduler);
    await scheduler.start();
    await scheduler.addJob(
      () => {},
      new OrTrigger([
        new DateTrigger({ runDate: fromT0(HOUR) }),
        new DateTrigger({ runDate: fromT0(2 * HOUR) }),
      ]),
      { id: 'dates' },
    );
    await scheduler.addJob(
      () => {},
      new OrTrigger([
        new IntervalTrigger({ seconds: 4, startDate: fromT0(4 * SECOND) }),
        new IntervalTrigger({ seconds: 6, startDate: fromT0(4 * SECOND) }),
      ]),
      { id: 'intervals' },
    );
    await vi.advanceTimersByTimeAsync(22 * SECOND);
    await scheduler.removeJob('intervals');
    await vi.advanceTimersByTimeAsync(2 * HOUR);
    const runs = (id: string) =>
      named(events, 'job_executed')
        .filter((e) => e.jobId === id)
        .map((e) => (e.scheduledRunTime.getTime() - fromT0(0).getTime()) / SECOND);
    expect(runs('intervals')).toEqual([4, 8, 10, 12, 16, 20, 22]);
    expect(runs('dates')).toEqual([3600, 7200]);
    expect(await scheduler.getJob('dates')).toBeNull();
  });
});

describe('OrTrigger', () => {
  it('fires at the run date of each DateTrigger', () => {
    const t = new OrTrigger([
      new DateTrigger({ runDate: '2026-01-01T00:00:00Z' }),
      new DateTrigger({ runDate: '2026-01-02T00:00:00Z' }),
    ]);
    expect(fires(t, '2025-12-01T00:00:00Z', 3)).toEqual([
      '2026-01-01T00:00:00.000Z',
      '2026-01-02T00:00:00.000Z',
      null,
    ]);
  });

  it('runs each interval through its own sequence; a shared instant fires once', () => {
    const t = new OrTrigger([every(4), every(6)]);
    expect(fires(t, at(0), 10)).toEqual([0, 4, 6, 8, 12, 16, 18, 20, 24, 28].map(at));
  });

  it('gives every missed fire time when the scheduler catches up', () => {
    const t = new OrTrigger([every(4), every(6)]);
    const first = t.getNextFireTime(null, new Date(at(0))) as Date;
    expect(missed(t, first, new Date(at(25)))).toEqual([0, 4, 6, 8, 12, 16, 18, 20, 24, 28].map(at));
  });

  it('fires an instant two cron children share once', () => {
    const t = new OrTrigger([
      new CronTrigger({ hour: 12, timezone: 'UTC' }),
      new CronTrigger({ hour: '*/6', timezone: 'UTC' }),
    ]);
    expect(fires(t, '2026-01-01T01:00:00Z', 5)).toEqual([
      '2026-01-01T06:00:00.000Z',
      '2026-01-01T12:00:00.000Z',
      '2026-01-01T18:00:00.000Z',
      '2026-01-02T00:00:00.000Z',
      '2026-01-02T06:00:00.000Z',
    ]);
  });

  it('continues the same sequence after a JSON round trip mid-sequence', () => {
    const whole = fires(new OrTrigger([every(4), every(6)]), at(0), 12);
    const t = new OrTrigger([every(4), every(6)]);
    const head = fires(t, at(0), 5);
    const stored = restore(t);
    expect(stored.toJSON()).toEqual(t.toJSON());
    expect([...head, ...continueFrom(stored, head[4] as string, 7)]).toEqual(whole);
    // Nested: the inner trigger's state is stored with the outer one's.
    const nested = new OrTrigger([new OrTrigger([every(4), every(6)]), every(10)]);
    const nestedHead = fires(nested, at(0), 6);
    expect(nestedHead).toEqual([0, 4, 6, 8, 10, 12].map(at));
    expect(continueFrom(restore(nested), at(12), 5)).toEqual([16, 18, 20, 24, 28].map(at));
  });

  it('keeps DateTrigger children fired after a round trip', () => {
    const t = new OrTrigger([
      new DateTrigger({ runDate: '2026-01-01T00:00:00Z' }),
      new DateTrigger({ runDate: '2026-01-02T00:00:00Z' }),
    ]);
    const first = t.getNextFireTime(null, new Date('2025-12-01T00:00:00Z'));
    expect(continueFrom(restore(t), iso(first) as string, 2)).toEqual(['2026-01-02T00:00:00.000Z', null]);
  });

  it('rebuilds its state for a previous fire time earlier than the state', () => {
    const t = new OrTrigger([every(4), every(6)]);
    expect(continueFrom(t, at(12), 3)).toEqual([16, 18, 20].map(at));
    // Asked again from an earlier fire time (another job sharing the trigger, an older store row).
    expect(continueFrom(t, at(4), 3)).toEqual([6, 8, 12].map(at));
    // JSON without a state (written before the state existed) starts from the previous fire time.
    const { state: _state, ...stateless } = t.toJSON();
    expect(continueFrom(triggerFromJSON(stateless), at(6), 3)).toEqual([8, 12, 16].map(at));
  });

  it('applies its jitter without moving the children', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const t = new OrTrigger([every(4), every(6)], { jitter: 1 });
    const jittered = (s: number) => new Date(S + s * 1000 + 500).toISOString();
    expect(fires(t, at(0), 6)).toEqual([0, 4, 6, 8, 12, 16].map(jittered));
    const stored = restore(t);
    expect(continueFrom(stored, jittered(16), 3)).toEqual([18, 20, 24].map(jittered));
  });

  it('rejects a stored state that does not fit', () => {
    const json = new OrTrigger([every(4), every(6)]).toJSON();
    expect(() => triggerFromJSON({ ...json, state: { next: [at(4)] } })).toThrow(
      /or trigger's state\.next .*2 ISO date strings.*got \[/,
    );
    expect(() => triggerFromJSON({ ...json, state: { next: [at(4), 'soon'] } })).toThrow(
      /or trigger's state\.next .*got "soon"/,
    );
    expect(() => triggerFromJSON({ ...json, state: 'x' })).toThrow(/or trigger's state to be an object/);
  });
});

describe('AndTrigger', () => {
  it('fires where every child fires', () => {
    expect(fires(new AndTrigger([every(4), every(6)]), at(0), 4)).toEqual([0, 12, 24, 36].map(at));
    const weekdays = new CronTrigger({ dayOfWeek: 'mon-fri', hour: '*', timezone: 'UTC' });
    const noon = new CronTrigger({ hour: 12, timezone: 'UTC' });
    expect(fires(new AndTrigger([weekdays, noon]), '2026-01-02T13:00:00Z', 2)).toEqual([
      '2026-01-05T12:00:00.000Z',
      '2026-01-06T12:00:00.000Z',
    ]);
  });

  it('gives every missed fire time when the scheduler catches up', () => {
    const t = new AndTrigger([every(4), every(6)]);
    expect(missed(t, new Date(at(0)), new Date(at(40)))).toEqual([0, 12, 24, 36, 48].map(at));
  });

  it('ends at once when a DateTrigger child has passed', () => {
    const cron = new CronTrigger({ hour: 0, timezone: 'UTC' });
    const spy = vi.spyOn(cron, 'getNextFireTime');
    const t = new AndTrigger([new DateTrigger({ runDate: '2026-01-01T12:00:00Z' }), cron]);
    expect(t.getNextFireTime(null, new Date('2025-12-15T00:00:00Z'))).toBeNull();
    expect(spy.mock.calls.length).toBe(2);
    const agree = new AndTrigger([
      new DateTrigger({ runDate: '2026-01-01T00:00:00Z' }),
      new CronTrigger({ hour: 0, timezone: 'UTC' }),
    ]);
    expect(fires(agree, '2025-12-15T00:00:00Z', 2)).toEqual(['2026-01-01T00:00:00.000Z', null]);
  });

  it('gives up after 10,000 search rounds and returns null', () => {
    const even = every(2);
    const odd = new IntervalTrigger({ seconds: 2, startDate: new Date(S + 1000), timezone: 'UTC' });
    const evenSpy = vi.spyOn(even, 'getNextFireTime');
    const oddSpy = vi.spyOn(odd, 'getNextFireTime');
    expect(new AndTrigger([even, odd]).getNextFireTime(null, new Date(at(0)))).toBeNull();
    // Round 1 asks both children; each of the 9,999 rounds after it asks the one behind.
    expect(evenSpy.mock.calls.length + oddSpy.mock.calls.length).toBe(10_001);
  });

  it('applies its jitter without moving the children, also after a round trip', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const t = new AndTrigger([every(4), every(6)], { jitter: 1 });
    const jittered = (s: number) => new Date(S + s * 1000 + 500).toISOString();
    const head = fires(t, at(0), 3);
    expect(head).toEqual([0, 12, 24].map(jittered));
    const stored = restore(t);
    expect(stored.toJSON()).toEqual(t.toJSON());
    expect(continueFrom(stored, jittered(24), 2)).toEqual([36, 48].map(jittered));
  });

  it('continues the same sequence after a JSON round trip mid-sequence', () => {
    const t = new AndTrigger([new OrTrigger([every(4), every(10)]), every(6)]);
    const whole = fires(new AndTrigger([new OrTrigger([every(4), every(10)]), every(6)]), at(0), 6);
    expect(whole).toEqual([0, 12, 24, 30, 36, 48].map(at));
    const head = fires(t, at(0), 3);
    expect([...head, ...continueFrom(restore(t), head[2] as string, 3)]).toEqual(whole);
  });
});
