/**
 * MemoryJobStore: jobs in a binary min-heap by next run time, plus a map by id. Add, update,
 * remove and next-due are O(log n); `getDueJobs` is O(k log k) for k due jobs, and
 * `acquireDueJobs` O(k log n): it takes them out of the heap until `releaseJobs` puts them back
 * with their new next run time. Its leases cost nothing: one process holds the store, so a lease
 * only has to last until the release of the same pass (the next acquisition ends any left over).
 */
import { asyncDispose } from '../dispose.js';
import { ConflictingIdError, JobLookupError, JobPausedError } from '../errors.js';
import type { Job } from '../job.js';
import { clock } from '../time/clock.js';
import type { FinishedRunRow, RetryRow, RunQueryRow, RunRecordRow } from './backend.js';
import type { AcquiredJob, AcquiredRetry, JobRelease, JobStore, StoreHost } from './base.js';

interface Entry {
  job: Job;
  /** Next run time in epoch ms; `Infinity` when paused (then not in the heap). */
  key: number;
  /** Insertion order, so jobs due at the same instant keep the order they were added in. */
  seq: number;
  /** Index in the heap, or -1 when paused or acquired. */
  pos: number;
  /** The token of the acquisition holding it, or 0. */
  lease: number;
}

function before(a: Entry, b: Entry): boolean {
  return a.key < b.key || (a.key === b.key && a.seq < b.seq);
}

function keyOf(job: Job): number {
  return job.nextRunMs ?? Number.POSITIVE_INFINITY;
}

/** Keeps jobs in memory (the default store); they are gone when the process ends. */
export class MemoryJobStore implements JobStore {
  readonly #byId = new Map<string, Entry>();
  readonly #heap: Entry[] = [];
  #seq = 0;
  #leaseSeq = 0;
  // Entries taken by the last acquisition and not yet released.
  #held: Entry[] = [];
  // Waiting retries, by due time then the order they came in, with the job that made each (it
  // runs from it when its trigger has ended and the job is gone).
  #retries: Array<RetryRow & { job?: Job }> = [];
  // Run history, oldest written first.
  #history: RunRecordRow[] = [];

  /** Nothing to open. */
  async start(_scheduler: StoreHost, _alias: string): Promise<void> {}

  /** Nothing to close. */
  async shutdown(): Promise<void> {}

  /** How many jobs the store holds. */
  async countJobs(): Promise<number> {
    return this.#byId.size;
  }

  /** `await using store = ...`: nothing to close; the jobs stay. */
  async [asyncDispose](): Promise<void> {}

  /** The job with this id, or `null`. */
  async lookupJob(id: string): Promise<Job | null> {
    return this.#byId.get(id)?.job ?? null;
  }

  /** Jobs due at `now`, earliest first. */
  async getDueJobs(now: Date): Promise<Job[]> {
    const limit = now.getTime();
    const heap = this.#heap;
    const due: Entry[] = [];
    if (heap.length === 0 || heap[0].key > limit) return [];
    // Depth-first over the heap: a node's children are never earlier than it.
    const stack = [0];
    while (stack.length > 0) {
      const i = stack.pop() as number;
      if (i >= heap.length || heap[i].key > limit) continue;
      due.push(heap[i]);
      stack.push(2 * i + 2, 2 * i + 1);
    }
    due.sort((a, b) => a.key - b.key || a.seq - b.seq);
    return due.map((e) => e.job);
  }

  /**
   * Takes up to `limit` due jobs, earliest first, out of the heap under a lease that the next
   * acquisition ends (putting back any job its pass did not release).
   */
  async acquireDueJobs(now: Date, limit: number): Promise<AcquiredJob[]> {
    this.#endLeases();
    const cutoff = now.getTime();
    const heap = this.#heap;
    const taken: AcquiredJob[] = [];
    while (taken.length < limit && heap.length > 0 && heap[0].key <= cutoff) {
      const entry = heap[0];
      this.#delete(entry);
      entry.lease = ++this.#leaseSeq;
      this.#held.push(entry);
      taken.push({ job: entry.job, token: entry.lease });
    }
    return taken;
  }

  /**
   * Stores each acquired job's new next run time (or removes it) and ends its lease; a release
   * whose lease ended (the job was updated or removed meanwhile) is ignored (`null`). Every run
   * time of a release is this process's to run: nobody else claims them.
   */
  async releaseJobs(releases: JobRelease[]): Promise<Array<Date[] | null>> {
    const out: Array<Date[] | null> = [];
    for (const release of releases) {
      const entry = this.#byId.get(release.id);
      if (entry === undefined || entry.lease !== release.token || entry.lease === 0) {
        out.push(null);
        continue;
      }
      if (release.remove) {
        this.removeJobNow(release.id);
      } else {
        entry.job.nextRunTime = release.nextRunTime;
        this.#putBack(entry);
      }
      out.push(release.runTimes);
    }
    return out;
  }

  /** Puts back in the heap every job still held by an acquisition that was never released. */
  #endLeases(): void {
    // An entry updated or removed meanwhile had its lease ended then.
    for (const entry of this.#held) if (entry.lease !== 0) this.#putBack(entry);
    this.#held = [];
  }

  /**
   * Ends an acquired entry's lease and puts it back by its job's next run time: in the heap, or
   * paused (its waiting retries cancelled, as pausing does).
   */
  #putBack(entry: Entry): void {
    entry.lease = 0;
    entry.key = keyOf(entry.job);
    if (entry.key === Number.POSITIVE_INFINITY) this.#cancelRetries(entry.job.id);
    else this.#insert(entry);
  }

  /** The earliest next run time or retry, or `null`. */
  async getNextRunTime(): Promise<Date | null> {
    const job = this.#heap.length === 0 ? Number.POSITIVE_INFINITY : this.#heap[0].key;
    const retry = this.#retries.length === 0 ? Number.POSITIVE_INFINITY : this.#retries[0].dueAt;
    const next = Math.min(job, retry);
    return next === Number.POSITIVE_INFINITY ? null : new Date(next);
  }

  /** Writes each finished run's history row, and its retry while the job is there and not paused. */
  async completeRuns(runs: FinishedRunRow[]): Promise<void> {
    for (const run of runs) {
      if (run.record !== undefined) this.#history.push(run.record);
      const retry = run.retry;
      if (retry === undefined) continue;
      const entry = this.#byId.get(retry.jobId);
      if (entry === undefined ? run.job === undefined : entry.key === Number.POSITIVE_INFINITY) continue;
      const same = (r: RetryRow) =>
        r.jobId === retry.jobId && r.runTime === retry.runTime && r.attempt === retry.attempt;
      if (this.#retries.some(same)) continue;
      this.#insertRetry({ ...retry, job: run.job });
    }
  }

  /** Takes up to `limit` retries due at `now`, earliest first. */
  async acquireRetries(now: Date, limit: number): Promise<AcquiredRetry[]> {
    const cutoff = now.getTime();
    const taken: AcquiredRetry[] = [];
    let k = 0;
    while (k < this.#retries.length && taken.length < limit && this.#retries[k].dueAt <= cutoff) {
      const retry = this.#retries[k++];
      const entry = this.#byId.get(retry.jobId);
      const job =
        entry === undefined ? retry.job : entry.key === Number.POSITIVE_INFINITY ? undefined : entry.job;
      if (job === undefined) continue;
      taken.push({ job, runTime: new Date(retry.runTime), attempt: retry.attempt });
    }
    if (k > 0) this.#retries.splice(0, k);
    return taken;
  }

  /** Queues one run of job `id` outside its schedule, taken like a retry. */
  async queueRun(id: string, runTime: Date): Promise<boolean> {
    const entry = this.#byId.get(id);
    if (entry === undefined) throw new JobLookupError(id);
    if (entry.key === Number.POSITIVE_INFINITY) throw new JobPausedError(id);
    const at = runTime.getTime();
    if (entry.key === at || this.#retries.some((r) => r.jobId === id && r.runTime === at)) return false;
    const dueAt = Math.min(at, clock.now());
    this.#insertRetry({ jobId: id, runTime: at, attempt: 1, dueAt, job: entry.job });
    return true;
  }

  /** History rows, newest first (ties: the later written first). */
  async getRuns(query: RunQueryRow): Promise<RunRecordRow[]> {
    const out: RunRecordRow[] = [];
    const rows = this.#historyByEnd();
    for (let i = rows.length - 1; i >= 0 && out.length < query.limit; i--) {
      const row = rows[i];
      if (query.jobId !== undefined && row.jobId !== query.jobId) continue;
      if (query.outcomes !== undefined && !query.outcomes.includes(row.outcome)) continue;
      if (query.since !== undefined && row.finishedAt < query.since) continue;
      if (query.until !== undefined && row.finishedAt > query.until) continue;
      out.push(row);
    }
    return out;
  }

  /** The newest history row of each of these jobs that has one (ties: the later written). */
  async getLatestRuns(jobIds: readonly string[]): Promise<RunRecordRow[]> {
    const wanted = new Set(jobIds);
    const out: RunRecordRow[] = [];
    const rows = this.#historyByEnd();
    for (let i = rows.length - 1; i >= 0 && wanted.size > 0; i--) {
      if (wanted.delete(rows[i].jobId)) out.push(rows[i]);
    }
    return out;
  }

  /** Drops history rows finished before `before`, and all but the newest `maxPerJob` of each job. */
  async pruneRuns(before: number, maxPerJob: number): Promise<number> {
    const rows = this.#historyByEnd();
    const kept: RunRecordRow[] = [];
    const perJob = new Map<string, number>();
    // Newest first, so the per-job count keeps the newest.
    for (let i = rows.length - 1; i >= 0; i--) {
      const row = rows[i];
      if (row.finishedAt < before) continue;
      const n = (perJob.get(row.jobId) ?? 0) + 1;
      perJob.set(row.jobId, n);
      if (n <= maxPerJob) kept.push(row);
    }
    const deleted = this.#history.length - kept.length;
    if (deleted > 0) this.#history = kept.reverse();
    return deleted;
  }

  /**
   * The history oldest finished first, ties in the order written. Rows are written as runs end,
   * so this is the history itself unless a clock stepped back: only then is a copy sorted.
   */
  #historyByEnd(): RunRecordRow[] {
    const rows = this.#history;
    for (let i = 1; i < rows.length; i++) {
      if (rows[i - 1].finishedAt > rows[i].finishedAt) {
        return [...rows].sort((a, b) => a.finishedAt - b.finishedAt);
      }
    }
    return rows;
  }

  /** Puts a retry in the waiting list: by due time, after those due at the same time. */
  #insertRetry(retry: RetryRow & { job?: Job }): void {
    let i = this.#retries.length;
    while (i > 0 && this.#retries[i - 1].dueAt > retry.dueAt) i--;
    this.#retries.splice(i, 0, retry);
  }

  #cancelRetries(id: string): void {
    if (this.#retries.length > 0) this.#retries = this.#retries.filter((r) => r.jobId !== id);
  }

  /** Every job by next run time, paused jobs last. */
  async getAllJobs(): Promise<Job[]> {
    return [...this.#byId.values()].sort((a, b) => a.key - b.key || a.seq - b.seq).map((e) => e.job);
  }

  /** Adds a job; rejects with `ConflictingIdError` if its id exists. */
  async addJob(job: Job): Promise<void> {
    this.addJobNow(job);
  }

  /** `addJob` without the promise, for callers adding many jobs in a loop. */
  addJobNow(job: Job): void {
    if (this.#byId.has(job.id)) throw new ConflictingIdError(job.id);
    const entry: Entry = { job, key: keyOf(job), seq: this.#seq++, pos: -1, lease: 0 };
    this.#byId.set(job.id, entry);
    if (entry.key !== Number.POSITIVE_INFINITY) this.#insert(entry);
  }

  /** Replaces the job with this id; rejects with `JobLookupError` if there is none. */
  async updateJob(job: Job): Promise<void> {
    this.updateJobNow(job);
  }

  /** `updateJob` without the promise. */
  updateJobNow(job: Job): void {
    const entry = this.#byId.get(job.id);
    if (entry === undefined) throw new JobLookupError(job.id);
    entry.job = job;
    if (entry.lease !== 0) {
      // Acquired: the update ends the lease (its release is ignored) and puts the job back.
      this.#putBack(entry);
      return;
    }
    const key = keyOf(job);
    if (key === entry.key) return;
    const old = entry.key;
    entry.key = key;
    if (key === Number.POSITIVE_INFINITY) this.#cancelRetries(job.id);
    if (entry.pos < 0) {
      this.#insert(entry);
    } else if (key === Number.POSITIVE_INFINITY) {
      this.#delete(entry);
    } else if (key < old) {
      this.#up(entry.pos);
    } else {
      this.#down(entry.pos);
    }
  }

  /** Stores a processing pass's outcome: new next run times, and jobs that are done. */
  async applyRunResults(updated: Job[], removedIds: string[]): Promise<void> {
    for (const job of updated) this.updateJobNow(job);
    for (const id of removedIds) this.removeJobNow(id);
  }

  /** Removes a job; rejects with `JobLookupError` if there is none. */
  async removeJob(id: string): Promise<void> {
    this.removeJobNow(id);
  }

  /** `removeJob` without the promise. */
  removeJobNow(id: string): void {
    const entry = this.#byId.get(id);
    if (entry === undefined) throw new JobLookupError(id);
    this.#byId.delete(id);
    entry.lease = 0;
    if (entry.pos >= 0) this.#delete(entry);
    this.#cancelRetries(id);
  }

  /** Removes every job. */
  async removeAllJobs(): Promise<void> {
    for (const entry of this.#held) entry.lease = 0;
    this.#held = [];
    this.#byId.clear();
    this.#heap.length = 0;
    this.#retries = [];
  }

  /** How many jobs the store holds. */
  get size(): number {
    return this.#byId.size;
  }

  #insert(entry: Entry): void {
    entry.pos = this.#heap.length;
    this.#heap.push(entry);
    this.#up(entry.pos);
  }

  #delete(entry: Entry): void {
    const heap = this.#heap;
    const last = heap.pop() as Entry;
    const pos = entry.pos;
    entry.pos = -1;
    if (last === entry) return;
    heap[pos] = last;
    last.pos = pos;
    if (pos > 0 && before(last, heap[(pos - 1) >> 1])) this.#up(pos);
    else this.#down(pos);
  }

  #up(pos: number): void {
    const heap = this.#heap;
    const entry = heap[pos];
    while (pos > 0) {
      const parent = (pos - 1) >> 1;
      if (!before(entry, heap[parent])) break;
      heap[pos] = heap[parent];
      heap[pos].pos = pos;
      pos = parent;
    }
    heap[pos] = entry;
    entry.pos = pos;
  }

  #down(pos: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const entry = heap[pos];
    for (;;) {
      let child = 2 * pos + 1;
      if (child >= n) break;
      if (child + 1 < n && before(heap[child + 1], heap[child])) child++;
      if (!before(heap[child], entry)) break;
      heap[pos] = heap[child];
      heap[pos].pos = pos;
      pos = child;
    }
    heap[pos] = entry;
    entry.pos = pos;
  }
}
