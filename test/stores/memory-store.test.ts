/**
 * MemoryJobStore on its own: the JobStore contract (SPEC section 7), and a randomized comparison
 * with a naive sorted-array model.
 */
import { describe, expect, it } from 'vitest';
import { ConflictingIdError, type Job, JobLookupError, MemoryJobStore } from '../../src/index.js';
import { seededRandom } from '../helpers/random.js';
import { at, makeJob, SECOND } from '../helpers/scheduler.js';

const ids = (jobs: Job[]) => jobs.map((j) => j.id);

describe('MemoryJobStore', () => {
  it('adds, looks up, updates and removes jobs', async () => {
    const store = new MemoryJobStore();
    const job = makeJob('a', at(5 * SECOND));
    await store.addJob(job);
    expect(await store.lookupJob('a')).toBe(job);
    expect(await store.lookupJob('b')).toBeNull();
    const updated = makeJob('a', at(9 * SECOND));
    await store.updateJob(updated);
    expect(await store.lookupJob('a')).toBe(updated);
    expect((await store.getNextRunTime())?.getTime()).toBe(at(9 * SECOND).getTime());
    await store.removeJob('a');
    expect(await store.lookupJob('a')).toBeNull();
    expect(await store.getAllJobs()).toEqual([]);
    expect(await store.getNextRunTime()).toBeNull();
    expect(store.size).toBe(0);
  });

  it('rejects a duplicate id, and updates or removals of unknown ids', async () => {
    const store = new MemoryJobStore();
    await store.addJob(makeJob('a', at(0)));
    const clash = await store.addJob(makeJob('a', at(1))).catch((e: unknown) => e);
    expect(clash).toBeInstanceOf(ConflictingIdError);
    expect((clash as ConflictingIdError).jobId).toBe('a');
    await expect(store.updateJob(makeJob('x', at(0)))).rejects.toBeInstanceOf(JobLookupError);
    await expect(store.removeJob('x')).rejects.toBeInstanceOf(JobLookupError);
    // The failed add changed nothing.
    expect((await store.getAllJobs()).map((j) => j.nextRunTime?.getTime())).toEqual([at(0).getTime()]);
  });

  it('returns due jobs earliest first, same-instant jobs in insertion order', async () => {
    const store = new MemoryJobStore();
    const plan: Array<[string, number | null]> = [
      ['late', 30],
      ['tie1', 10],
      ['early', 5],
      ['tie2', 10],
      ['paused', null],
      ['future', 100],
      ['tie3', 10],
      ['now', 50],
    ];
    for (const [id, s] of plan) await store.addJob(makeJob(id, s === null ? null : at(s * SECOND)));
    expect(ids(await store.getDueJobs(at(50 * SECOND)))).toEqual([
      'early',
      'tie1',
      'tie2',
      'tie3',
      'late',
      'now',
    ]);
    expect(ids(await store.getDueJobs(at(10 * SECOND)))).toEqual(['early', 'tie1', 'tie2', 'tie3']);
    expect(ids(await store.getDueJobs(at(4 * SECOND)))).toEqual([]);
    expect((await store.getNextRunTime())?.getTime()).toBe(at(5 * SECOND).getTime());
    expect(ids(await store.getAllJobs())).toEqual([
      'early',
      'tie1',
      'tie2',
      'tie3',
      'late',
      'now',
      'future',
      'paused',
    ]);
  });

  it('keeps paused jobs out of due jobs and the next run time, and last in getAllJobs', async () => {
    const store = new MemoryJobStore();
    await store.addJob(makeJob('p1', null));
    await store.addJob(makeJob('a', at(SECOND)));
    await store.addJob(makeJob('p2', null));
    expect(ids(await store.getAllJobs())).toEqual(['a', 'p1', 'p2']);
    await store.updateJob(makeJob('a', null));
    expect(await store.getNextRunTime()).toBeNull();
    expect(await store.getDueJobs(at(1_000 * SECOND))).toEqual([]);
    expect(ids(await store.getAllJobs())).toEqual(['p1', 'a', 'p2']);
    await store.updateJob(makeJob('p2', at(2 * SECOND)));
    expect(ids(await store.getAllJobs())).toEqual(['p2', 'p1', 'a']);
    expect(ids(await store.getDueJobs(at(2 * SECOND)))).toEqual(['p2']);
  });

  it('removeAllJobs empties it', async () => {
    const store = new MemoryJobStore();
    for (let i = 0; i < 10; i++) await store.addJob(makeJob(`j${i}`, i % 3 === 0 ? null : at(i * SECOND)));
    await store.removeAllJobs();
    expect(await store.getAllJobs()).toEqual([]);
    expect(await store.getNextRunTime()).toBeNull();
    expect(await store.getDueJobs(at(100 * SECOND))).toEqual([]);
    await store.addJob(makeJob('j1', at(SECOND)));
    expect(ids(await store.getAllJobs())).toEqual(['j1']);
  });

  it('applyRunResults stores new run times and removes finished jobs', async () => {
    const store = new MemoryJobStore();
    for (const id of ['a', 'b', 'c']) await store.addJob(makeJob(id, at(SECOND)));
    await store.applyRunResults([makeJob('a', at(5 * SECOND)), makeJob('c', at(3 * SECOND))], ['b']);
    expect(ids(await store.getAllJobs())).toEqual(['c', 'a']);
    expect((await store.getNextRunTime())?.getTime()).toBe(at(3 * SECOND).getTime());
  });

  it('acquires due jobs earliest first, up to the limit, and releases them with their new run times', async () => {
    const store = new MemoryJobStore();
    for (const [id, s] of [
      ['c', 3],
      ['a', 1],
      ['b', 2],
      ['later', 50],
    ] as const) {
      await store.addJob(makeJob(id, at(s * SECOND)));
    }
    const first = await store.acquireDueJobs(at(10 * SECOND), 2);
    expect(first.map((a) => a.job.id)).toEqual(['a', 'b']);
    // While acquired, a job is not due: the earliest is 'c'.
    expect((await store.getDueJobs(at(10 * SECOND))).map((j) => j.id)).toEqual(['c']);
    const runTimes = [at(SECOND)];
    const claimed = await store.releaseJobs([
      { id: 'a', token: first[0].token, nextRunTime: at(20 * SECOND), remove: false, runTimes },
    ]);
    expect(claimed).toEqual([runTimes]);
    expect((await store.lookupJob('a'))?.nextRunTime?.getTime()).toBe(at(20 * SECOND).getTime());
    // 'b' was never released: the next acquisition puts it back, still due, before 'c'.
    expect((await store.acquireDueJobs(at(10 * SECOND), 10)).map((a) => a.job.id)).toEqual(['b', 'c']);
    expect((await store.acquireDueJobs(at(10 * SECOND), 10)).map((a) => a.job.id)).toEqual(['b', 'c']);
    expect(ids(await store.getAllJobs())).toEqual(['b', 'c', 'a', 'later']);
  });

  it('ignores the release of a job updated or removed while acquired', async () => {
    const store = new MemoryJobStore();
    for (const id of ['a', 'b', 'c']) await store.addJob(makeJob(id, at(SECOND)));
    const taken = await store.acquireDueJobs(at(5 * SECOND), 10);
    const token = (id: string) => taken.find((a) => a.job.id === id)?.token as number;
    await store.updateJob(makeJob('a', at(40 * SECOND)));
    await store.removeJob('b');
    const claimed = await store.releaseJobs(
      ['a', 'b', 'c'].map((id) => ({
        id,
        token: token(id),
        nextRunTime: null,
        remove: id === 'c',
        runTimes: [],
      })),
    );
    expect(claimed).toEqual([null, null, []]);
    expect(ids(await store.getAllJobs())).toEqual(['a']);
    expect((await store.getNextRunTime())?.getTime()).toBe(at(40 * SECOND).getTime());
  });
});

describe('MemoryJobStore against a naive model', () => {
  const random = seededRandom;

  interface Entry {
    id: string;
    time: number | null;
    seq: number;
  }

  /** The model: a plain array, sorted on every read. */
  class Model {
    entries: Entry[] = [];
    seq = 0;
    has(id: string) {
      return this.entries.some((e) => e.id === id);
    }
    add(id: string, time: number | null) {
      this.entries.push({ id, time, seq: this.seq++ });
    }
    update(id: string, time: number | null) {
      const entry = this.entries.find((e) => e.id === id) as Entry;
      entry.time = time;
    }
    remove(id: string) {
      this.entries = this.entries.filter((e) => e.id !== id);
    }
    sorted(): Entry[] {
      const key = (e: Entry) => (e.time === null ? Number.POSITIVE_INFINITY : e.time);
      return [...this.entries].sort((a, b) => {
        const ka = key(a);
        const kb = key(b);
        return ka === kb ? a.seq - b.seq : ka < kb ? -1 : 1;
      });
    }
    due(now: number): string[] {
      return this.sorted()
        .filter((e) => e.time !== null && e.time <= now)
        .map((e) => e.id);
    }
    next(): number | null {
      const first = this.sorted()[0];
      return first === undefined || first.time === null ? null : first.time;
    }
  }

  for (const seed of [1, 2, 3, 4]) {
    it(`agrees on 4,000 random operations (seed ${seed})`, async () => {
      const rand = random(seed);
      const store = new MemoryJobStore();
      const model = new Model();
      // Few distinct times, so ties are common; some paused jobs.
      const time = () => (rand() < 0.15 ? null : at(Math.floor(rand() * 40) * SECOND).getTime());
      for (let step = 0; step < 4_000; step++) {
        const id = `j${Math.floor(rand() * 150)}`;
        const roll = rand();
        if (roll < 0.4) {
          const t = time();
          const job = makeJob(id, t === null ? null : new Date(t));
          if (model.has(id)) {
            await expect(store.addJob(job)).rejects.toBeInstanceOf(ConflictingIdError);
          } else {
            await store.addJob(job);
            model.add(id, t);
          }
        } else if (roll < 0.7) {
          const t = time();
          const job = makeJob(id, t === null ? null : new Date(t));
          if (model.has(id)) {
            await store.updateJob(job);
            model.update(id, t);
          } else {
            await expect(store.updateJob(job)).rejects.toBeInstanceOf(JobLookupError);
          }
        } else if (roll < 0.85) {
          if (model.has(id)) {
            await store.removeJob(id);
            model.remove(id);
          } else {
            await expect(store.removeJob(id)).rejects.toBeInstanceOf(JobLookupError);
          }
        } else if (roll < 0.86) {
          await store.removeAllJobs();
          model.entries = [];
        } else {
          // Read: due jobs at a random instant, the next run time, every job.
          const now = at(Math.floor(rand() * 45) * SECOND).getTime();
          expect(ids(await store.getDueJobs(new Date(now)))).toEqual(model.due(now));
          expect((await store.getNextRunTime())?.getTime() ?? null).toBe(model.next());
          expect(ids(await store.getAllJobs())).toEqual(model.sorted().map((e) => e.id));
          expect(store.size).toBe(model.entries.length);
        }
        if (rand() < 0.3) {
          const id2 = `j${Math.floor(rand() * 150)}`;
          const found = await store.lookupJob(id2);
          expect(found?.id ?? null).toBe(model.has(id2) ? id2 : null);
        }
      }
    });
  }
});
