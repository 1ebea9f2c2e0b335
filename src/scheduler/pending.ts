/**
 * The pending list: jobs added while the scheduler is stopped, kept here until `start()` adds them
 * to their stores (as in APScheduler).
 */
import { ConflictingIdError } from '../errors.js';
import type { Job } from '../job.js';

/** A job waiting for `start()`. */
export interface PendingJob {
  job: Job;
  /** The job was given its next run time (else `start()` computes it from the trigger). */
  explicitNextRunTime: boolean;
  replaceExisting: boolean;
}

/** The jobs waiting for `start()`, in the order they were added. */
export class PendingJobs {
  #entries: PendingJob[] = [];

  /**
   * Adds a job (marking it pending). A job with the same id already here is replaced if
   * `replaceExisting`, else `ConflictingIdError` is thrown.
   */
  add(job: Job, explicitNextRunTime: boolean, replaceExisting: boolean): void {
    const clash = this.#entries.findIndex((p) => p.job.id === job.id);
    if (clash >= 0) {
      if (!replaceExisting) throw new ConflictingIdError(job.id);
      this.#entries.splice(clash, 1);
    }
    job.pending = true;
    this.#entries.push({ job, explicitNextRunTime, replaceExisting });
  }

  /** The first entry with this id (in this store, if given), or `null`. */
  find(id: string, jobstore?: string): PendingJob | null {
    for (const entry of this.#entries) {
      if (entry.job.id === id && (jobstore === undefined || entry.job.jobstore === jobstore)) return entry;
    }
    return null;
  }

  /** The pending jobs (of one store, or of all), in the order they were added. */
  jobs(jobstore?: string): Job[] {
    const jobs: Job[] = [];
    for (const p of this.#entries)
      if (jobstore === undefined || p.job.jobstore === jobstore) jobs.push(p.job);
    return jobs;
  }

  /** Puts the job as changed by `modifyJob` in an entry's place. */
  replace(entry: PendingJob, job: Job, nextRunTimeGiven: boolean): void {
    entry.job = job;
    if (nextRunTimeGiven) entry.explicitNextRunTime = true;
  }

  /** Removes one entry. */
  remove(entry: PendingJob): void {
    this.#entries = this.#entries.filter((p) => p !== entry);
  }

  /** Removes every entry (of one store, or of all). */
  removeAll(jobstore?: string): void {
    this.#entries = this.#entries.filter((p) => jobstore !== undefined && p.job.jobstore !== jobstore);
  }

  /** Empties the list and returns what it held (for `start()` to add). */
  takeAll(): PendingJob[] {
    const entries = this.#entries;
    this.#entries = [];
    return entries;
  }

  /**
   * Puts back entries `start()` took but could not add (marking their jobs pending again),
   * before any added since.
   */
  putBack(entries: PendingJob[]): void {
    for (const entry of entries) entry.job.pending = true;
    this.#entries = entries.concat(this.#entries);
  }

  /**
   * Where `getJobs` sorts a job: by next run time, except that a pending job whose first run
   * time is not known yet (not given explicitly) comes after all those that have one.
   */
  rank(job: Job): number {
    const explicit = this.#entries.find((p) => p.job === job)?.explicitNextRunTime ?? true;
    if (job.pending && !explicit) return Number.MAX_VALUE;
    return job.nextRunMs ?? Number.POSITIVE_INFINITY;
  }
}
