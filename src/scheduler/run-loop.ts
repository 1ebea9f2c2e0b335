/**
 * The run loop: one timer for the whole scheduler; each pass reads the clock once and, the same
 * way for every store, acquires due jobs, applies the run rules (`run-rules.ts`), releases them
 * with their new next run times (claiming the runs), and submits the runs to their executors;
 * then it sleeps until the earliest next run time of all stores (at most 60 s at once, so
 * wall-clock jumps are noticed).
 *
 * Over 400 lines because it is one pass and what it decides for each acquired job (runs,
 * misses, claims, max_instances, removal) in one place; the pure rules are in `run-rules.ts`.
 */
import { MaxInstancesReachedError } from '../errors.js';
import { EVENT_CODES, type EventName, type EventPayload } from '../events.js';
import type { Executor, ExecutorHost } from '../executors/base.js';
import type { Job } from '../job.js';
import { type FinishedRunRow, givenBackDueAt } from '../stores/backend.js';
import type { AcquiredJob, JobRelease, JobStore, StoreHost } from '../stores/base.js';
import { type Leases, leasesOf } from '../stores/leases.js';
import { clock, MAX_SLEEP_MS, type TimerHandle, yieldToEventLoop } from '../time/clock.js';
import { eventOf } from './event-hub.js';
import { type HeldRun, HeldRuns } from './held-runs.js';
import type { UnstartedRun } from './history.js';
import type { Mutex } from './mutex.js';
import type { SchedulerSettings } from './options.js';
import { UNRECORDED_LIMIT } from './run-reports.js';
import { laterFireIsDue, type MissedRun, runTimesUntil, splitMissed } from './run-rules.js';

/** A batch whose release was sent: what its runs need once the release is stored. */
interface ReleasedBatch {
  acquired: AcquiredJob[];
  releases: JobRelease[];
  noExecutor: Set<string>;
  missedRuns: Map<string, MissedRun>;
  claims: Promise<Array<Date[] | null>>;
}

/** What a pass over one store knows, for the batches it starts. */
interface PassContext {
  store: JobStore;
  alias: string;
  now: number;
  ahead: number;
  shared: boolean;
  rowsOfUnstarted: boolean;
}

/** The run times a batch's release asks to claim. */
function runsAskedFor(releases: readonly JobRelease[]): number {
  let n = 0;
  for (const r of releases) n += r.runTimes.length;
  return n;
}

// Jobs handled between two turns of the event loop during a large burst.
const BATCH = 1000;
// How long a pass waits for a slow store before going on without it.
const SLOW_STORE_MS = 50;
// A pass over a shared store takes what the executors can start within this long (the prefetch);
// a run that finds no free slot waits as long past its time before it goes back to the store.
const PREFETCH_MS = 50;
// What a pass may take for an executor that has not yet seen a run end (`meanRunMs` null).
const COLD_CLAIMS = BATCH;
// A shared-store batch of jobs none of which is due yet (runs claimed ahead): processes waking
// together for the same fire time take turns, so its runs spread over them.
const AHEAD_BATCH = 200;

/** What the run loop needs from its scheduler. */
export interface LoopContext {
  host: StoreHost & ExecutorHost;
  stores: Map<string, JobStore>;
  executors: Map<string, Executor>;
  /** The lock of one store: job API calls and passes take turns on it. */
  mutexFor(alias: string): Mutex;
  /** Whether the run history is on. */
  recordsRuns(): boolean;
  /** Runs of a shared store that ended and whose end it has not yet confirmed. */
  unrecordedRuns(store: JobStore): number;
  /** Called after each pass (the history is pruned from here when due). */
  afterPass(): void;
  /** The rows a store writes for runs that never started (their history rows). */
  unstartedRuns(job: Job, runs: UnstartedRun[]): FinishedRunRow[];
  settings(): SchedulerSettings;
  isRunning(): boolean;
  daemon(): boolean;
}

/** Drives processing passes for one scheduler. */
export class RunLoop {
  #timer: TimerHandle | null = null;
  #soon: TimerHandle | null = null;
  #pass: Promise<void> | null = null;
  #again = false;
  #stopped = true;
  readonly #retryAt = new Map<string, number>();
  // Stores whose processing is under way, and each store's next due time from its last pass.
  readonly #busy = new Map<string, Promise<void>>();
  readonly #nextDue = new Map<string, number>();
  // Each store's earliest next run time after its last pass (epoch ms; Infinity for none).
  readonly #nextRunAt = new Map<string, number>();
  // A shared-store pass stopped for want of free executor slots: the next finished run wakes us.
  #wantsSlots = false;
  // Runs claimed ahead of their time (a store's claimAheadMs), started when it comes.
  readonly #held: HeldRuns;
  // Runs due that found no free slot: looked at again when a run ends (`#startSoon`), given back
  // to their stores PREFETCH_MS after their time (`#giveBackTimer`).
  #startSoon: TimerHandle | null = null;
  // Give-backs of waiting runs under way (`stop` waits for them before the stores close).
  readonly #givingBack = new Set<Promise<void>>();
  #giveBackTimer: TimerHandle | null = null;
  #giveBackAt = Number.POSITIVE_INFINITY;
  // Executors whose runs, taken before any had ended, had to be given back: no longer taken for
  // as if they were quick (`#capacity`).
  readonly #slow = new Set<string>();

  constructor(private readonly ctx: LoopContext) {
    this.#held = new HeldRuns(
      (runs) => this.#startHeld(runs),
      // Stopping: the waiting runs go back to their stores with the others (`stop`).
      (from) => {
        if (!this.#stopped) this.#armGiveBack(from);
      },
      () => ctx.daemon(),
    );
  }

  /** Starts passes (the first one at once). */
  start(): void {
    this.#stopped = false;
    this.#retryAt.clear();
    this.wakeup();
  }

  /**
   * Stops passes; resolves once the pass under way (if any) is done and the runs claimed ahead
   * of their time are given back to their stores (see `#giveBack`).
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#clearTimers();
    this.#clearWaitTimers();
    await this.#pass;
    await Promise.all(this.#busy.values());
    // A pass that ended meanwhile may have left runs waiting for a slot, and armed their timers.
    this.#clearWaitTimers();
    await this.#giveBack(this.#held.takeAll());
    await Promise.all(this.#givingBack);
  }

  /**
   * Writes a change of job `jobId` of `alias` that cancels its runs claimed ahead of their time
   * (a new next run time, a removal; called under the store's lock): they are taken out first
   * and, unless `write` deletes them itself (a removal), their claims deleted, so that a run time
   * given to the job again is claimed afresh rather than found claimed. Should `write` fail,
   * they go back to the store (see `#giveBack`).
   */
  async cancelHeld(
    alias: string,
    jobId: string,
    claimsGoWithWrite: boolean,
    write: () => Promise<void>,
  ): Promise<void> {
    const taken = this.#held.take(alias, jobId);
    const store = this.ctx.stores.get(alias);
    if (taken.length > 0 && !claimsGoWithWrite) {
      await store?.completeRuns?.(taken.map((r) => ({ jobId, runTime: r.runTime.getTime(), attempt: 1 })));
    }
    try {
      await write();
    } catch (error) {
      if (taken.length > 0 && !claimsGoWithWrite) await this.#giveBack(taken);
      throw error;
    }
  }

  /** Job `job.id` of `alias` changed without a new schedule: its held runs run it as it is now. */
  jobChanged(alias: string, job: Job): void {
    this.#held.replaceJob(alias, job);
  }

  /** Every job of `alias` is being removed, with the claims of its runs: its held runs do not run. */
  storeCleared(alias: string): void {
    this.#held.take(alias);
  }

  /**
   * The store `alias` is being removed from the scheduler: its held runs are given back to it,
   * taken under its lock, so that a pass under way has added its own first.
   */
  async storeRemoved(alias: string): Promise<void> {
    const runs = await this.ctx.mutexFor(alias).run(async () => this.#held.take(alias));
    await this.#giveBack(runs);
  }

  /**
   * Gives runs claimed ahead back to their stores, each a waiting run of its job due at its fire
   * time (as `runJob` queues one): any scheduler on the store takes it then, exactly once. A store
   * that fails to take them back leaves their claims, reported as abandoned.
   */
  async #giveBack(runs: HeldRun[]): Promise<void> {
    const byStore = groupByStore(runs, (rows, { job, runTime }) => {
      const t = runTime.getTime();
      rows.push({
        jobId: job.id,
        runTime: t,
        attempt: 1,
        job,
        retry: { jobId: job.id, runTime: t, attempt: 1, dueAt: givenBackDueAt(t) },
      });
    });
    for (const [alias, rows] of byStore) {
      try {
        const store = this.ctx.stores.get(alias);
        if (store?.completeRuns === undefined) throw new Error('the store is gone');
        await store.completeRuns(rows);
      } catch (error) {
        this.ctx.host.logger.error(
          { err: error, jobstore: alias },
          `Job store ${JSON.stringify(alias)}: giving back ${rows.length} claimed run(s) failed; they will be reported as abandoned`,
        );
      }
    }
  }

  /**
   * Starts held runs whose time has come, as far as their executors have room (`#hasRoom`);
   * writes the rows of those that could not start; returns those left for want of a slot, which
   * wait in `#held` (which has their give-back armed, `#armGiveBack`).
   */
  #startHeld(runs: HeldRun[]): HeldRun[] {
    // Stopping: they go back to their stores with the others (`stop`).
    if (this.#stopped) return runs;
    const left: HeldRun[] = [];
    const finished = groupByStore(runs, (rows, run) => {
      if (this.#hasRoom(run.job)) this.#submitRuns(run.job, run.alias, [run.runTime], 1, rows);
      else left.push(run);
    });
    for (const [alias, rows] of finished) {
      if (rows.length === 0) continue;
      this.ctx.stores
        .get(alias)
        ?.completeRuns?.(rows)
        .catch((error: unknown) =>
          this.ctx.host.logger.error(
            { err: error, jobstore: alias },
            `Job store ${JSON.stringify(alias)}: recording ${rows.length} run(s) that did not start failed`,
          ),
        );
    }
    return left;
  }

  /**
   * Whether `job`'s executor can start one more run soon: it has a free slot now, or one is
   * expected to free within PREFETCH_MS (`freeSlots`). An executor without `freeSlots`, or a job
   * whose executor is gone (the submission reports it), always has room.
   */
  #hasRoom(job: Job): boolean {
    const free = this.ctx.executors.get(job.executor)?.freeSlots?.(PREFETCH_MS);
    return free === undefined || !(free < 1);
  }

  /**
   * Due runs of a pass that found no free slot: they wait in `#held` (see `#startHeld`), looked
   * at again soon, since runs may end before the pass is over.
   */
  #waitForSlots(runs: HeldRun[]): void {
    this.#held.wait(runs);
    this.#lookAgainSoon();
  }

  /**
   * Gives back the runs still waiting PREFETCH_MS after `at` (`#giveBackWaiting`): the earliest
   * from which a waiting run's wait counts, its run time or, when later, when it began to wait.
   */
  #armGiveBack(at: number): void {
    if (at >= this.#giveBackAt) return;
    if (this.#giveBackTimer !== null) clock.clearTimeout(this.#giveBackTimer);
    this.#giveBackAt = at;
    this.#giveBackTimer = clock.setTimeout(
      this.#giveBackWaiting,
      Math.max(0, at + PREFETCH_MS - clock.now()),
      this.ctx.daemon(),
    );
  }

  /** Offers the waiting runs to their executors again, once, soon (a run ended). */
  #lookAgainSoon(): void {
    if (this.#startSoon !== null) return;
    this.#startSoon = clock.setTimeout(
      () => {
        this.#startSoon = null;
        this.#held.startWaiting();
      },
      0,
      this.ctx.daemon(),
    );
  }

  /**
   * Runs still waiting PREFETCH_MS after their time (or after they began to wait, when they came
   * late) go back to their stores, each a waiting run of its job (`#giveBack`), for any process
   * with room to take; their executors are no longer taken for as if runs were quick (`#slow`).
   */
  readonly #giveBackWaiting = (): void => {
    this.#giveBackTimer = null;
    this.#giveBackAt = Number.POSITIVE_INFINITY;
    if (this.#stopped) return;
    this.#held.startWaiting();
    const late = this.#held.takeWaiting(clock.now() - PREFETCH_MS);
    if (late.length > 0) {
      for (const run of late) this.#slow.add(run.job.executor);
      this.ctx.host.logger.debug(
        { count: late.length },
        `${late.length} run(s) found no free executor slot within ${PREFETCH_MS} ms: giving them back to their stores`,
      );
      const giving = this.#giveBack(late).then(() => {
        this.#givingBack.delete(giving);
        this.wakeup();
      });
      this.#givingBack.add(giving);
    }
    this.#armGiveBack(this.#held.earliestWaiting());
  };

  #clearWaitTimers(): void {
    if (this.#startSoon !== null) clock.clearTimeout(this.#startSoon);
    if (this.#giveBackTimer !== null) clock.clearTimeout(this.#giveBackTimer);
    this.#startSoon = this.#giveBackTimer = null;
    this.#giveBackAt = Number.POSITIVE_INFINITY;
  }

  /** Runs a pass soon; many calls in a row make one pass. */
  wakeup(): void {
    if (this.#stopped) return;
    if (this.#pass !== null) {
      this.#again = true;
      return;
    }
    if (this.#soon !== null) return;
    if (this.#timer !== null) {
      clock.clearTimeout(this.#timer);
      this.#timer = null;
    }
    this.#soon = clock.setTimeout(
      () => {
        this.#soon = null;
        this.#pass = this.#run();
      },
      0,
      this.ctx.daemon(),
    );
  }

  /** An executor finished an instance: when a pass left due jobs for want of slots, look again. */
  runFinished(): void {
    if (this.#held.waiting > 0) this.#lookAgainSoon();
    this.roomMade();
  }

  /** Room for more runs (a slot, or the stores caught up): a pass that stopped for want of it looks again. */
  roomMade(): void {
    if (!this.#wantsSlots) return;
    this.#wantsSlots = false;
    this.wakeup();
  }

  /**
   * How many jobs a pass over a shared store may acquire: the sum over all executors of the runs
   * each can start within PREFETCH_MS (a job's executor is known only once it is acquired, so
   * the count is for the scheduler as a whole). Unbounded when some executor does not say, or
   * when there is none (a job for a missing executor is then taken to be paused). Runs held for
   * a later time count as taken (`countHeld`), except for retries, which are due now: they start
   * in the slots free now, the held runs at their time. An executor that has not yet seen a run
   * end cannot tell how many it can start soon: for jobs (`countHeld`) it counts COLD_CLAIMS, as
   * if runs were quick, until runs it had to give back for want of slots mark it slow; the runs
   * start as slots free (`#startHeld`), so a process with quick runs starts its first fire on
   * time, and one with slow runs gives the rest back within PREFETCH_MS of their time. Nothing
   * while the store has UNRECORDED_LIMIT or more ended runs still to record (`RunReports`): the
   * pass then waits for it to catch up (`roomMade`), as for a free slot.
   */
  #capacity(store: JobStore, countHeld = true): number {
    // Runs ended faster than the store records them: no new work from it until it catches up.
    if (this.ctx.unrecordedRuns(store) >= UNRECORDED_LIMIT) return 0;
    if (this.ctx.executors.size === 0) return Number.POSITIVE_INFINITY;
    let total = 0;
    for (const [alias, executor] of this.ctx.executors) {
      let free = executor.freeSlots?.(PREFETCH_MS);
      if (free === undefined || Number.isNaN(free)) return Number.POSITIVE_INFINITY;
      if (countHeld && executor.meanRunMs?.() === null && !this.#slow.has(alias)) {
        free = Math.max(free, COLD_CLAIMS);
      }
      total += Math.max(0, free);
    }
    return Math.max(0, Math.floor(total) - (countHeld ? this.#held.size : 0));
  }

  #clearTimers(): void {
    if (this.#timer !== null) clock.clearTimeout(this.#timer);
    if (this.#soon !== null) clock.clearTimeout(this.#soon);
    this.#timer = this.#soon = null;
  }

  async #run(): Promise<void> {
    let delay = MAX_SLEEP_MS;
    do {
      this.#again = false;
      try {
        delay = await this.#process();
      } catch (error) {
        this.ctx.host.logger.error({ err: error }, 'Processing jobs failed');
        delay = this.ctx.settings().jobstoreRetryIntervalMs;
      }
    } while (this.#again && !this.#stopped);
    this.#pass = null;
    if (this.#stopped) return;
    this.ctx.afterPass();
    this.ctx.host.logger.debug({ delay }, `Next wakeup is due in ${delay} ms`);
    // The timer starts the next pass itself: going through wakeup() would arm one more timer,
    // which Node fires 1 ms later at the earliest, so every run would start 1 ms late.
    this.#timer = clock.setTimeout(
      () => {
        this.#timer = null;
        if (this.#stopped || this.#pass !== null || this.#soon !== null) return;
        this.#pass = this.#run();
      },
      delay,
      this.ctx.daemon(),
    );
  }

  /**
   * One pass over every store, the stores side by side; resolves to the milliseconds until the
   * next one is due. A store still busy after SLOW_STORE_MS (a server that hangs until its
   * timeout) is not waited for: it goes on alone, keeps its lock, and wakes the loop when done,
   * so it holds up no other store.
   */
  async #process(): Promise<number> {
    if (!this.ctx.isRunning()) return MAX_SLEEP_MS;
    const now = clock.now();
    const started: Array<Promise<void>> = [];
    let settled = false;
    for (const [alias, store] of this.ctx.stores) {
      if (this.#busy.has(alias)) continue;
      const run = this.#processStoreOrRetry(store, alias, now).then((next) => {
        this.#nextDue.set(alias, next);
        this.#busy.delete(alias);
        // Done after the pass went on without it: look again, with its answer.
        if (settled) this.wakeup();
      });
      this.#busy.set(alias, run);
      started.push(run);
    }
    if (this.ctx.stores.size > 1) {
      let timer: TimerHandle | null = null;
      await Promise.race([
        Promise.all(started),
        new Promise<void>((resolve) => {
          timer = clock.setTimeout(resolve, SLOW_STORE_MS, true);
        }),
      ]);
      clock.clearTimeout(timer);
    } else {
      await Promise.all(started);
    }
    settled = true;
    let next = Number.POSITIVE_INFINITY;
    for (const alias of this.ctx.stores.keys()) {
      // A store still busy says when it is done (wakeup); meanwhile its last answer stands.
      if (!this.#busy.has(alias)) next = Math.min(next, this.#nextDue.get(alias) ?? next);
    }
    return next === Number.POSITIVE_INFINITY ? MAX_SLEEP_MS : Math.max(0, next - clock.now());
  }

  /** Processes one store unless it is waiting to be retried; resolves to its next due time. */
  async #processStoreOrRetry(store: JobStore, alias: string, now: number): Promise<number> {
    const retry = this.#retryAt.get(alias);
    if (retry !== undefined && retry > now) return retry;
    try {
      const next = await this.ctx.mutexFor(alias).run(() => this.#processStore(store, alias, now));
      this.#retryAt.delete(alias);
      return next ?? Number.POSITIVE_INFINITY;
    } catch (error) {
      const interval = this.ctx.settings().jobstoreRetryIntervalMs;
      this.ctx.host.telemetry?.storeError(alias);
      this.ctx.host.logger.warn(
        { err: error, jobstore: alias },
        `Error processing jobs of job store ${JSON.stringify(alias)}; retrying in ${interval / 1000} s`,
      );
      // From the failure, not the pass start: a store that hung until its timeout gets its pause.
      const retryAt = clock.now() + interval;
      this.#retryAt.set(alias, retryAt);
      return retryAt;
    }
  }

  /**
   * Takes the store's due retries (on a shared store, at most what the executors can start soon)
   * and hands each to its job's executor as one more attempt of its fire time; a retry the
   * executor refuses is recorded as such.
   */
  async #processRetries(store: JobStore, alias: string, nowDate: Date, shared: boolean): Promise<void> {
    if (store.acquireRetries === undefined) return;
    let capacity = shared ? this.#capacity(store, false) : Number.POSITIVE_INFINITY;
    for (;;) {
      if (this.#stopped || !this.ctx.isRunning()) return;
      const limit = Math.min(BATCH, capacity);
      if (limit < 1) {
        this.#wantsSlots = true;
        return;
      }
      const taken = await store.acquireRetries(nowDate, limit);
      const finished: FinishedRunRow[] = [];
      for (const { job, runTime, attempt, givenBack } of taken) {
        if (!this.ctx.executors.has(job.executor)) {
          this.ctx.host.logger.error(
            { jobId: job.id, executor: job.executor, attempt },
            `Executor lookup failed for a retry of job "${job.id}" ("${job.executor}"): it is not run`,
          );
          finished.push({ jobId: job.id, runTime: runTime.getTime(), attempt });
          continue;
        }
        if (givenBack === true && job.coalesce && laterFireIsDue(job, runTime, nowDate)) {
          // A fire time given back, of a coalescing job whose next fire time is due as well: the
          // run of that one (waiting to be taken, or taken already) stands for both.
          this.ctx.host.logger.debug(
            { jobId: job.id, runTime },
            `Run time ${runTime.toISOString()} of job "${job.id}" coalesced into its next fire time`,
          );
          finished.push({ jobId: job.id, runTime: runTime.getTime(), attempt });
          continue;
        }
        // Attempt 1 here is a run asked for with `runJob`: it runs however late it is taken (the
        // processes may have been down), since the grace time is there for fire times; or a fire
        // time given back (`#giveBack`), which keeps it (the executor reports it missed).
        const asked = attempt === 1 && givenBack !== true;
        const run = asked ? job.clone() : job;
        if (asked) run.misfireGraceTime = null;
        this.#submitRuns(run, alias, [runTime], attempt, finished);
      }
      if (finished.length > 0) await store.completeRuns?.(finished);
      if (taken.length < limit) return;
      if (shared) capacity = this.#capacity(store, false);
      await yieldToEventLoop();
    }
  }

  /**
   * One pass over one store: take due jobs under a lease, decide their runs (`missedRunTimes`),
   * store the decisions with the run claims, and run only what the store confirmed. On a shared
   * store a pass takes no more than the executors can start soon (`#capacity`), leaving the rest
   * to other processes; when that is nothing, it waits for a run to finish (`runFinished`) or for
   * the poll. A local store gives everything due, a batch at a time.
   */
  async #processStore(store: JobStore, alias: string, now: number): Promise<number | null> {
    const nowDate = new Date(now);
    const leases = leasesOf(store);
    const shared = store.shared === true;
    // On a shared store, runs due within claimAheadMs are claimed now and held until their time.
    const ahead = shared ? Math.max(0, store.claimAheadMs ?? 0) : 0;
    const until = now + ahead;
    const untilDate = ahead === 0 ? nowDate : new Date(until);
    // A local store holds no claims: rows for runs that did not start are only worth writing
    // as history.
    const rowsOfUnstarted = shared || this.ctx.recordsRuns();
    let full = false;
    // While what the pass takes is not due yet (the store said so after its last pass, and each
    // batch so far confirms it), it goes in smaller batches (AHEAD_BATCH).
    let aheadOnly = shared && ahead > 0 && (this.#nextRunAt.get(alias) ?? 0) > now;
    // On a shared store, the next batch is asked for while this one's runs start: the store
    // works on it meanwhile instead of waiting for the process.
    let prefetched: { acquired: Promise<AcquiredJob[]>; limit: number } | null = null;
    // On a shared store, the batch whose release was sent last and whose runs have not started.
    let released: ReleasedBatch | null = null;
    const pass: PassContext = { store, alias, now, ahead, shared, rowsOfUnstarted };
    // How many jobs a batch of a shared store takes: what the executors can start soon, less the
    // runs claimed and not started yet.
    const batchLimit = (unstarted: number) =>
      Math.min(aheadOnly ? AHEAD_BATCH : BATCH, this.#capacity(store) - unstarted);
    try {
      for (;;) {
        // A batch asked for before a pause or shutdown is handed back (finally, below).
        if (this.#stopped || !this.ctx.isRunning()) break;
        let limit: number;
        let acquired: AcquiredJob[];
        if (prefetched !== null) {
          const pending = prefetched.acquired;
          limit = prefetched.limit;
          prefetched = null;
          acquired = await pending;
          if (this.#stopped || !this.ctx.isRunning()) {
            // Paused or stopping while it came: it goes back as it was.
            await this.#returnUnused(leases, alias, pending);
            break;
          }
        } else {
          // The runs of the batch released last have not started: they count against the slots.
          limit = shared ? batchLimit(released === null ? 0 : runsAskedFor(released.releases)) : BATCH;
          if (limit < 1) {
            full = this.#wantsSlots = true;
            break;
          }
          acquired = await leases.acquire(untilDate, limit);
        }
        const releases: JobRelease[] = [];
        const noExecutor = new Set<string>();
        // Fire times past their grace time: claimed (each, or a long run as one by its first fire
        // time) and reported once the release that moves the job past them is stored.
        const missedRuns = new Map<string, MissedRun>();
        for (const { job, token } of acquired) {
          if (aheadOnly && job.nextRunTime !== null && job.nextRunTime.getTime() <= now) aheadOnly = false;
          if (!this.ctx.executors.has(job.executor)) {
            // Paused in the store; reported once the release says so.
            noExecutor.add(job.id);
            releases.push({ id: job.id, token, nextRunTime: null, remove: false, runTimes: [] });
            continue;
          }
          const { runTimes, next, missed } = runTimesUntil(job, now, until, nowDate);
          if (missed !== null) missedRuns.set(job.id, missed);
          releases.push({
            id: job.id,
            token,
            nextRunTime: next,
            remove: next === null,
            runTimes: missed === null ? runTimes : [...(missed.times ?? [missed.first]), ...runTimes],
          });
        }
        const claims = leases.release(releases);
        // Awaited when the batch's runs start; a failure reaches the pass there.
        claims.catch(() => {});
        const batch: ReleasedBatch = { acquired, releases, noExecutor, missedRuns, claims };
        if (shared && acquired.length >= limit && !this.#stopped && this.ctx.isRunning()) {
          // The next batch is asked for at once, while this one's release is stored: what the
          // executors can start soon, less the runs this release and the one before ask to claim
          // (not started yet).
          let claimedRuns = runsAskedFor(releases);
          if (released !== null) claimedRuns += runsAskedFor(released.releases);
          const nextLimit = batchLimit(claimedRuns);
          if (nextLimit >= 1) {
            const pending = leases.acquire(untilDate, nextLimit);
            // Awaited at the top of the next turn; a failure reaches the pass there.
            pending.catch(() => {});
            prefetched = { acquired: pending, limit: nextLimit };
          }
        }
        if (shared) {
          // The runs of the batch before start now, their claims stored meanwhile, while the store
          // works on this batch's release and the next acquisition: this batch's runs start in
          // the next turn, or after the loop.
          const previous = released;
          released = batch;
          if (previous !== null) await this.#settleBatch(previous, pass);
        } else {
          await this.#settleBatch(batch, pass);
        }
        if (acquired.length < limit) break;
        await yieldToEventLoop();
      }
      if (released !== null) {
        const last: ReleasedBatch = released;
        released = null;
        await this.#settleBatch(last, pass);
      }
    } finally {
      // A batch released by a pass that failed or stopped after it: its claimed runs start, or
      // go back to the store when the scheduler is stopping.
      if (released !== null) await this.#settleLeftBatch(released, pass);
      // Left by a pass that failed, or stopped, after asking for it: its jobs go back as they were.
      if (prefetched !== null) await this.#returnUnused(leases, alias, prefetched.acquired);
    }
    // Retries are due now: they are looked at even when held runs fill the executors' slots.
    await this.#processRetries(store, alias, nowDate, shared);
    const next = await store.getNextRunTime();
    this.#nextRunAt.set(alias, next === null ? Number.POSITIVE_INFINITY : next.getTime());
    const poll = store.pollIntervalMs;
    let nextMs = next === null ? null : next.getTime();
    // A run time beyond this pass's window is looked at claimAheadMs before it comes; one within
    // it that the pass did not take (a retry, taken when due; a job left to others or for want
    // of slots) is looked at when due.
    if (nextMs !== null && nextMs > until) nextMs -= ahead;
    // Due jobs left for want of slots are not a reason to look again at once.
    if (full && nextMs !== null && nextMs <= clock.now()) nextMs = null;
    if (poll === undefined) return nextMs;
    const pollAt = clock.now() + poll;
    return nextMs === null ? pollAt : Math.min(nextMs, pollAt);
  }

  /**
   * Starts the runs of a released batch once its release is stored: those the store claimed for
   * this process, reporting runs missed and jobs changed elsewhere; then writes the rows of runs
   * that did not start and reports the jobs the release removed. Runs start also when paused (as
   * held runs start at their time). Once the scheduler is stopping, a shared store's batch gives
   * the runs it would start back to the store instead, each a waiting run of its job due at its
   * fire time (`#giveBack`), for any process to take at once; missed runs are reported as
   * always. A local store holds no claims to give back: its batch is handled as before.
   */
  async #settleBatch(batch: ReleasedBatch, pass: PassContext): Promise<void> {
    const { acquired, releases, noExecutor, missedRuns } = batch;
    const { store, alias, now, ahead, shared, rowsOfUnstarted } = pass;
    const stopping = this.#stopped && shared;
    const claimedByJob = await batch.claims;
    const finished: FinishedRunRow[] = [];
    const removedIds: string[] = [];
    const givenBack: HeldRun[] = [];
    for (let i = 0; i < acquired.length; i++) {
      const { job } = acquired[i];
      const claimed = claimedByJob[i];
      if (claimed === null) {
        this.ctx.host.logger.info(
          { jobId: job.id },
          `Job "${job.id}" changed or was taken by another scheduler during this pass`,
        );
        continue;
      }
      if (noExecutor.has(job.id)) {
        this.#executorMissing(job, alias);
        continue;
      }
      // Runs already past their grace time were claimed with the others: reported as missed
      // and completed at once, so a process that dies in between leaves a claim that another
      // reports, and no fire time goes unaccounted for.
      let runClaims = claimed;
      const skipped = missedRuns.get(job.id);
      if (skipped !== undefined) {
        const lastMs = skipped.last.getTime();
        const claimedMissed = claimed.filter((t) => t.getTime() <= lastMs);
        runClaims = claimed.filter((t) => t.getTime() > lastMs);
        if (claimedMissed.length > 0) {
          // Claimed one by one, only those this scheduler claimed are its to report; claimed
          // as one, the claim stands for the whole run.
          const report =
            skipped.times === undefined
              ? skipped
              : {
                  count: claimedMissed.length,
                  first: claimedMissed[0],
                  last: claimedMissed[claimedMissed.length - 1],
                };
          this.#reportMissed(job, alias, report);
          if (rowsOfUnstarted) finished.push(...this.#unstartedRows(job, claimedMissed, 1, 'missed'));
        }
      }
      // On a shared store a run already past its grace time (the coalesced run of a backlog)
      // is reported here, its claim completed in this pass; elsewhere the executor reports it
      // as it would start, as APScheduler does (job_submitted, then job_missed).
      const { onTime, missed } = shared
        ? splitMissed(job, runClaims, now)
        : { onTime: runClaims, missed: [] };
      if (missed.length > 0) {
        this.#reportMissed(job, alias, {
          count: missed.length,
          first: missed[0],
          last: missed[missed.length - 1],
        });
        if (rowsOfUnstarted) finished.push(...this.#unstartedRows(job, missed, 1, 'missed'));
      }
      if (stopping) {
        for (const runTime of onTime) givenBack.push({ job, alias, runTime });
      } else {
        let startNow = onTime;
        if (ahead > 0 && onTime.length > 0 && onTime[onTime.length - 1].getTime() > now) {
          startNow = [];
          for (const t of onTime) {
            if (t.getTime() > now) this.#held.add(job, alias, t);
            else startNow.push(t);
          }
        }
        if (startNow.length === 1 && shared && !this.#hasRoom(job)) {
          this.#waitForSlots([{ job, alias, runTime: startNow[0] }]);
        } else if (startNow.length > 0) {
          this.#submitRuns(job, alias, startNow, 1, rowsOfUnstarted ? finished : null);
        }
      }
      if (releases[i].remove) removedIds.push(job.id);
    }
    if (givenBack.length > 0) await this.#giveBack(givenBack);
    // Reported once the batch is written and its runs have started (they start on a microtask,
    // so a job that is done reports its last run's start before its removal, as it did).
    if (finished.length > 0) await store.completeRuns?.(finished);
    else if (removedIds.length > 0) await undefined;
    for (const id of removedIds) this.#emit('job_removed', { jobId: id, jobstore: alias });
  }

  /** `#settleBatch` for a batch a failed or stopped pass left; a failure is logged. */
  async #settleLeftBatch(batch: ReleasedBatch, pass: PassContext): Promise<void> {
    try {
      await this.#settleBatch(batch, pass);
    } catch (error) {
      this.ctx.host.logger.error(
        { err: error, jobstore: pass.alias },
        `Job store ${JSON.stringify(pass.alias)}: a batch left by a pass that failed or stopped could not be settled; runs it claimed and did not start are reported as abandoned`,
      );
    }
  }

  /**
   * Releases the jobs of an acquisition the pass did not get to (it failed or stopped first),
   * unchanged (no run claimed), so that any process can take them at once.
   */
  async #returnUnused(leases: Leases, alias: string, pending: Promise<AcquiredJob[]>): Promise<void> {
    try {
      const acquired = await pending;
      if (acquired.length === 0) return;
      await leases.release(
        acquired.map(({ job, token }) => ({
          id: job.id,
          token,
          nextRunTime: job.nextRunTime,
          remove: false,
          runTimes: [],
        })),
      );
    } catch (error) {
      this.ctx.host.logger.error(
        { err: error, jobstore: alias },
        `Job store ${JSON.stringify(alias)}: handing back the jobs taken for a next batch that did not run failed; this process takes them back at its next pass, other processes once their leases run out`,
      );
    }
  }

  /** The rows of runs that never started (missed before submission, or refused by maxInstances). */
  #unstartedRows(
    job: Job,
    runTimes: Date[],
    attempt: number,
    outcome: 'missed' | 'max_instances',
  ): FinishedRunRow[] {
    if (runTimes.length === 0) return [];
    return this.ctx.unstartedRuns(
      job,
      runTimes.map((runTime) => ({ runTime, attempt, outcome })),
    );
  }

  /**
   * Submits runs, and adds to `finished` (unless null) the rows of those that did not start:
   * refused by `maxInstances` (recorded as such), or not taken by a failing executor (their
   * claims still go).
   */
  #submitRuns(
    job: Job,
    alias: string,
    runTimes: Date[],
    attempt: number,
    finished: FinishedRunRow[] | null,
  ): void {
    const result = this.#submit(job, alias, runTimes, attempt);
    if (finished === null || result === 'ok') return;
    if (result === 'max_instances') finished.push(...this.#unstartedRows(job, runTimes, attempt, result));
    else
      for (const runTime of runTimes) finished.push({ jobId: job.id, runTime: runTime.getTime(), attempt });
  }

  /** Reports a run of missed fire times as one job_missed event. */
  #reportMissed(job: Job, alias: string, missed: MissedRun): void {
    this.ctx.host.logger.warn(
      { jobId: job.id, scheduledRunTime: missed.first, missedCount: missed.count },
      missed.count === 1
        ? `Run time of job "${job.id}" was missed by more than ${job.misfireGraceTime} s`
        : `${missed.count} run times of job "${job.id}", ${missed.first.toISOString()} to ${missed.last.toISOString()}, were missed by more than ${job.misfireGraceTime} s`,
    );
    this.#emit('job_missed', {
      jobId: job.id,
      jobstore: alias,
      scheduledRunTime: missed.first,
      attempt: 1,
      missedCount: missed.count,
      firstMissedTime: missed.first,
      lastMissedTime: missed.last,
    });
  }

  #executorMissing(job: Job, alias: string): void {
    // Keep the job (nothing is lost) but stop it from being due again and again.
    this.ctx.host.logger.error(
      { jobId: job.id, executor: job.executor },
      `Executor lookup failed for job "${job.id}" ("${job.executor}"): pausing it`,
    );
    job.nextRunTime = null;
    this.#emit('job_modified', { jobId: job.id, jobstore: alias });
  }

  /** Hands runs to the job's executor: whether it took them, refused them (maxInstances), or failed. */
  #submit(job: Job, alias: string, submitted: Date[], attempt: number): 'ok' | 'max_instances' | 'failed' {
    const host = this.ctx.host;
    const executor = this.ctx.executors.get(job.executor) as Executor;
    try {
      if (attempt === 1) executor.submitJob(job, submitted);
      else executor.submitJob(job, submitted, attempt);
      this.#emit('job_submitted', { jobId: job.id, jobstore: alias, scheduledRunTimes: submitted, attempt });
      return 'ok';
    } catch (error) {
      if (error instanceof MaxInstancesReachedError) {
        host.logger.warn(
          { jobId: job.id },
          `Execution of job "${job.id}" skipped: maximum number of running instances reached (${job.maxInstances})`,
        );
        this.#emit('job_max_instances', {
          jobId: job.id,
          jobstore: alias,
          scheduledRunTimes: submitted,
          attempt,
        });
        return 'max_instances';
      }
      host.logger.error(
        { err: error, jobId: job.id, executor: job.executor },
        `Error submitting job "${job.id}" to executor "${job.executor}"`,
      );
      return 'failed';
    }
  }

  #emit<N extends EventName>(name: N, payload: EventPayload<N>): void {
    const host = this.ctx.host;
    if (!host.wantsEvent(EVENT_CODES[name])) return;
    host.dispatchEvent(eventOf(name, host.schedulerId, payload));
  }
}

/** Held runs by store alias: `add` puts what each run leads to into the list of its store. */
function groupByStore(
  runs: HeldRun[],
  add: (rows: FinishedRunRow[], run: HeldRun) => void,
): Map<string, FinishedRunRow[]> {
  const byStore = new Map<string, FinishedRunRow[]>();
  for (const run of runs) {
    let rows = byStore.get(run.alias);
    if (rows === undefined) byStore.set(run.alias, (rows = []));
    add(rows, run);
  }
  return byStore;
}
