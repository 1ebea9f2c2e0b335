/**
 * How the run loop takes and gives back due jobs, the same for every store: `acquire` then
 * `release`. The stores of this package implement `acquireDueJobs`/`releaseJobs` themselves; a
 * store with only the minimal contract (`getDueJobs`, `updateJob`, `removeJob`, optionally
 * `applyRunResults`) gets them here, with leases that cost nothing (its pass holds the store's
 * lock from acquisition to release, and nobody else uses it).
 */
import type { Job } from '../job.js';
import type { AcquiredJob, JobRelease, JobStore } from './base.js';

/** Acquire and release, bound to one store. */
export interface Leases {
  acquire(now: Date, limit: number): Promise<AcquiredJob[]>;
  release(releases: JobRelease[]): Promise<Array<Date[] | null>>;
}

const bound = new WeakMap<JobStore, Leases>();

/** The store's own acquire/release, or ones built on its minimal contract. */
export function leasesOf(store: JobStore): Leases {
  let leases = bound.get(store);
  if (leases === undefined) {
    leases =
      store.acquireDueJobs !== undefined && store.releaseJobs !== undefined
        ? {
            acquire: store.acquireDueJobs.bind(store),
            release: (store.releaseJobs as NonNullable<JobStore['releaseJobs']>).bind(store),
          }
        : new MinimalStoreLeases(store);
    bound.set(store, leases);
  }
  return leases;
}

/**
 * Leases over `getDueJobs`: one call per pass (the pass's `now` is one Date object), handed out
 * `limit` at a time; a release writes the new next run times with `applyRunResults` when the
 * store has it, else job by job.
 */
class MinimalStoreLeases implements Leases {
  #now: Date | null = null;
  #due: Job[] = [];
  #offset = 0;
  readonly #held = new Map<string, Job>();

  constructor(private readonly store: JobStore) {}

  async acquire(now: Date, limit: number): Promise<AcquiredJob[]> {
    this.#held.clear();
    if (this.#now !== now) {
      this.#due = await this.store.getDueJobs(now);
      this.#now = now;
      this.#offset = 0;
    }
    const end = Math.min(this.#due.length, this.#offset + limit);
    const taken: AcquiredJob[] = [];
    for (let i = this.#offset; i < end; i++) {
      const job = this.#due[i];
      this.#held.set(job.id, job);
      taken.push({ job, token: 0 });
    }
    this.#offset = end;
    if (end === this.#due.length) this.#due = [];
    return taken;
  }

  async release(releases: JobRelease[]): Promise<Array<Date[] | null>> {
    const updated: Job[] = [];
    const removed: string[] = [];
    const out: Array<Date[] | null> = [];
    for (const release of releases) {
      const job = this.#held.get(release.id);
      if (job === undefined) {
        out.push(null);
        continue;
      }
      if (release.remove) {
        removed.push(release.id);
      } else {
        job.nextRunTime = release.nextRunTime;
        updated.push(job);
      }
      out.push(release.runTimes);
    }
    this.#held.clear();
    if (this.store.applyRunResults !== undefined) {
      await this.store.applyRunResults(updated, removed);
    } else {
      for (const job of updated) await this.store.updateJob(job);
      for (const id of removed) await this.store.removeJob(id);
    }
    return out;
  }
}
