/**
 * Runs claimed ahead of their time on a shared store (the store's `claimAheadMs`): held here,
 * earliest first, under one clock timer, and handed back to the run loop when their time comes.
 * Runs whose time has come but that found no free executor slot wait here too (`waiting`), until
 * a slot frees or the run loop gives them back to the store.
 */
import type { Job } from '../job.js';
import { clock, type TimerHandle } from '../time/clock.js';

/** One claimed run waiting for its time. */
export interface HeldRun {
  job: Job;
  /** The store that holds the job and the run's claim. */
  alias: string;
  runTime: Date;
  /** When it began to wait for a free slot (epoch ms; see `HeldRuns.wait`). */
  waitingSince?: number;
}

/** From when a waiting run's wait counts: its run time, or when it began to wait if later. */
function waitFrom(run: HeldRun): number {
  return Math.max(run.runTime.getTime(), run.waitingSince ?? 0);
}

/** The held runs of one scheduler. */
export class HeldRuns {
  // Ascending by run time; a pass adds runs mostly in that order, so inserting is cheap.
  #runs: HeldRun[] = [];
  // Due, and left by `due` for want of free slots; in the order they came.
  #waiting: HeldRun[] = [];
  #timer: TimerHandle | null = null;
  #timerAt = Number.POSITIVE_INFINITY;

  /**
   * @param due Called with the runs whose time has come (one call per timer, earliest first);
   *   returns those it could not start, which then wait (`startWaiting`, `takeWaiting`).
   * @param waited Called when runs begin to wait, with the earliest time from which their wait
   *   counts (see `earliestWaiting`).
   * @param daemon Whether the timer should leave the process free to exit.
   */
  constructor(
    private readonly due: (runs: HeldRun[]) => HeldRun[],
    private readonly waited: (from: number) => void,
    private readonly daemon: () => boolean,
  ) {}

  /** How many runs are held, waiting ones included. */
  get size(): number {
    return this.#runs.length + this.#waiting.length;
  }

  /** How many runs are due and waiting for a free slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * The earliest time from which a waiting run's wait counts (its run time, or when it began to
   * wait if later; epoch ms), or `Infinity` when none waits.
   */
  earliestWaiting(): number {
    let at = Number.POSITIVE_INFINITY;
    for (const run of this.#waiting) at = Math.min(at, waitFrom(run));
    return at;
  }

  /**
   * Runs that are due now wait for a free slot (`startWaiting` offers them to `due`); `waited`
   * hears from when their wait counts.
   */
  wait(runs: HeldRun[]): void {
    if (runs.length === 0) return;
    const now = clock.now();
    let from = Number.POSITIVE_INFINITY;
    for (const run of runs) {
      run.waitingSince ??= now;
      from = Math.min(from, waitFrom(run));
      this.#waiting.push(run);
    }
    this.waited(from);
  }

  /** Offers the waiting runs to `due` again; those it leaves go on waiting (`waited` is not told again). */
  startWaiting(): void {
    if (this.#waiting.length === 0) return;
    const runs = this.#waiting;
    this.#waiting = [];
    const left = this.due(runs);
    // `due` may have added more meanwhile (it starts runs, which may call back).
    this.#waiting = left.length === 0 ? this.#waiting : [...left, ...this.#waiting];
  }

  /** Takes out the waiting runs whose wait counts from `until` (epoch ms) or earlier. */
  takeWaiting(until: number): HeldRun[] {
    const taken: HeldRun[] = [];
    const kept: HeldRun[] = [];
    for (const run of this.#waiting) (waitFrom(run) <= until ? taken : kept).push(run);
    this.#waiting = kept;
    return taken;
  }

  /** Holds a run until its time. */
  add(job: Job, alias: string, runTime: Date): void {
    const run = { job, alias, runTime };
    const runs = this.#runs;
    const at = runTime.getTime();
    let i = runs.length;
    if (i > 0 && runs[i - 1].runTime.getTime() > at) {
      let lo = 0;
      let hi = runs.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (runs[mid].runTime.getTime() <= at) lo = mid + 1;
        else hi = mid;
      }
      i = lo;
    }
    runs.splice(i, 0, run);
    if (at < this.#timerAt) this.#arm();
  }

  /**
   * Takes out the held runs of one job of a store, or of every job of it (`jobId` absent). Runs
   * of one job that are due and waiting for a slot stay: like runs handed to an executor, they
   * start (or go back to the store) whatever becomes of the job.
   */
  take(alias: string, jobId?: string): HeldRun[] {
    const taken: HeldRun[] = [];
    const kept: HeldRun[] = [];
    const keptWaiting: HeldRun[] = [];
    for (const run of this.#waiting) {
      if (run.alias === alias && jobId === undefined) taken.push(run);
      else keptWaiting.push(run);
    }
    this.#waiting = keptWaiting;
    for (const run of this.#runs) {
      if (run.alias === alias && (jobId === undefined || run.job.id === jobId)) taken.push(run);
      else kept.push(run);
    }
    if (kept.length < this.#runs.length) {
      this.#runs = kept;
      this.#arm();
    }
    return taken;
  }

  /** The held runs of `job.id` in that store will run this job (the job as changed since). */
  replaceJob(alias: string, job: Job): void {
    for (const run of this.#runs) if (run.alias === alias && run.job.id === job.id) run.job = job;
    for (const run of this.#waiting) if (run.alias === alias && run.job.id === job.id) run.job = job;
  }

  /** Takes out every held run (the scheduler is stopping). */
  takeAll(): HeldRun[] {
    const runs = [...this.#waiting, ...this.#runs];
    this.#runs = [];
    this.#waiting = [];
    this.#arm();
    return runs;
  }

  #arm(): void {
    if (this.#timer !== null) clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = Number.POSITIVE_INFINITY;
    if (this.#runs.length === 0) return;
    const at = this.#runs[0].runTime.getTime();
    this.#timerAt = at;
    this.#timer = clock.setTimeout(() => this.#fire(), Math.max(0, at - clock.now()), this.daemon());
  }

  #fire(): void {
    this.#timer = null;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = clock.now();
    let k = 0;
    while (k < this.#runs.length && this.#runs[k].runTime.getTime() <= now) k++;
    const due = this.#runs.splice(0, k);
    this.#arm();
    if (due.length === 0) return;
    this.wait(this.due(due));
  }
}
