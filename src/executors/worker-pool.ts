/**
 * A small pool of worker threads for WorkerThreadExecutor: spawns up to `maxWorkers` on demand,
 * reuses them across runs, replaces any that exit, stops idle ones after `idleTimeout`, forwards
 * each run's AbortSignal into its worker and terminates a worker that ignores it for longer than
 * the grace period.
 */
import type { Worker } from 'node:worker_threads';
import { WorkerCrashedError } from '../errors.js';
import { clock, type TimerHandle } from '../time/clock.js';
import {
  deserializeThrown,
  type RunMessage,
  type RunOutcomeMessage,
  serializeThrown,
  type ToWorkerMessage,
} from './worker-protocol.js';

/** One run to hand to a worker. */
export type RunRequest = Omit<RunMessage, 'type' | 'runId'>;

/** How the pool is set up. */
export interface WorkerPoolOptions {
  /** Most workers alive at once. */
  maxWorkers: number;
  /** Milliseconds an idle worker lives before it is stopped. */
  idleTimeoutMs: number;
  /** Milliseconds a worker may keep running after its run was aborted. */
  gracePeriodMs: number;
  /** Starts one worker thread. */
  spawn: () => Worker;
}

interface Run {
  id: number;
  request: RunRequest;
  signal: AbortSignal | undefined;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
  onAbort: (() => void) | null;
}

interface Slot {
  worker: Worker;
  run: Run | null;
  /** Set once the run was aborted; the worker is terminated when it fires. */
  graceTimer: TimerHandle | null;
  idleTimer: TimerHandle | null;
  /** Why the worker stopped, if it crashed with an uncaught error. */
  crash: unknown;
  exited: Promise<void>;
}

/**
 * Arms a timer for `ms` of elapsed (monotonic) time, however long: the clock caps single sleeps,
 * so long ones are chained.
 */
function after(ms: number, fn: () => void, onHandle: (handle: TimerHandle) => void): void {
  const deadline = clock.monotonic() + ms;
  const arm = () => {
    const left = deadline - clock.monotonic();
    if (left <= 0) fn();
    else onHandle(clock.setTimeout(arm, left, true));
  };
  onHandle(clock.setTimeout(arm, ms, true));
}

/** A pool of worker threads running task references. */
export class WorkerPool {
  readonly #options: WorkerPoolOptions;
  readonly #slots = new Set<Slot>();
  readonly #idle: Slot[] = [];
  readonly #queue: Run[] = [];
  readonly #drained = new Set<() => void>();
  #nextRunId = 1;
  #closed = false;

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
  }

  /** Live worker threads (busy and idle). */
  get size(): number {
    return this.#slots.size;
  }

  /**
   * Runs a task in a worker. Resolves to its return value; rejects with what it threw, with the
   * signal's reason when aborted, or with an error saying the worker exited.
   */
  run(request: RunRequest, signal?: AbortSignal): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.#closed) {
        reject(new Error('The worker pool is shut down and takes no more runs'));
        return;
      }
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const run: Run = { id: this.#nextRunId++, request, signal, resolve, reject, onAbort: null };
      if (signal !== undefined) {
        // While queued, an abort just drops the run; once dispatched it is forwarded.
        run.onAbort = () => {
          const index = this.#queue.indexOf(run);
          if (index >= 0) this.#queue.splice(index, 1);
          this.#settle(run, false, signal.reason);
        };
        signal.addEventListener('abort', run.onAbort, { once: true });
      }
      this.#queue.push(run);
      this.#pump();
    });
  }

  /**
   * Stops taking runs. With `force`, queued runs are rejected with `reason` and running ones are
   * aborted (their workers terminated after the grace period); otherwise they are waited for.
   * Resolves once every worker has exited.
   */
  async close(force: boolean, reason?: unknown): Promise<void> {
    this.#closed = true;
    if (force) {
      for (const run of this.#queue.splice(0)) this.#settle(run, false, reason);
      for (const slot of this.#slots) if (slot.run !== null) this.#abort(slot, reason);
    }
    if (this.#queue.length > 0 || [...this.#slots].some((slot) => slot.run !== null)) {
      await new Promise<void>((resolve) => this.#drained.add(resolve));
    }
    const slots = [...this.#slots];
    for (const slot of slots) void slot.worker.terminate();
    await Promise.all(slots.map((slot) => slot.exited));
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      let slot = this.#idle.pop();
      if (slot === undefined) {
        if (this.#slots.size >= this.#options.maxWorkers) break;
        slot = this.#spawn();
      }
      this.#dispatch(slot, this.#queue.shift()!);
    }
    if (this.#queue.length === 0 && ![...this.#slots].some((slot) => slot.run !== null)) {
      for (const resolve of this.#drained) resolve();
      this.#drained.clear();
    }
  }

  #spawn(): Slot {
    const worker = this.#options.spawn();
    let markExited: () => void = () => {};
    const slot: Slot = {
      worker,
      run: null,
      graceTimer: null,
      idleTimer: null,
      crash: undefined,
      exited: new Promise((resolve) => (markExited = resolve)),
    };
    worker.on('message', (message: RunOutcomeMessage) => this.#onOutcome(slot, message));
    worker.on('error', (error) => (slot.crash = error));
    worker.on('exit', (code) => {
      this.#onExit(slot, code);
      markExited();
    });
    this.#slots.add(slot);
    return slot;
  }

  #dispatch(slot: Slot, run: Run): void {
    if (slot.idleTimer !== null) clock.clearTimeout(slot.idleTimer);
    slot.idleTimer = null;
    slot.run = run;
    // A busy worker keeps the process alive; an idle one does not (see #release).
    slot.worker.ref();
    const message: ToWorkerMessage = { type: 'run', runId: run.id, ...run.request };
    try {
      slot.worker.postMessage(message);
    } catch (error) {
      // Arguments were checked before; this is a last line for values that fail to clone.
      slot.run = null;
      this.#settle(run, false, error);
      this.#release(slot);
      return;
    }
    if (run.signal !== undefined && run.onAbort !== null) {
      const signal = run.signal;
      signal.removeEventListener('abort', run.onAbort);
      run.onAbort = () => this.#abort(slot, signal.reason);
      signal.addEventListener('abort', run.onAbort, { once: true });
    }
  }

  /** Forwards an abort into the worker, and terminates it if the run has not ended in time. */
  #abort(slot: Slot, reason: unknown): void {
    const run = slot.run;
    if (run === null || slot.graceTimer !== null) return;
    const message: ToWorkerMessage = { type: 'abort', runId: run.id, reason: serializeThrown(reason) };
    slot.worker.postMessage(message);
    after(
      this.#options.gracePeriodMs,
      () => {
        if (slot.run !== run) return;
        slot.run = null;
        this.#settle(run, false, reason);
        void slot.worker.terminate();
      },
      (handle) => (slot.graceTimer = handle),
    );
  }

  #onOutcome(slot: Slot, message: RunOutcomeMessage): void {
    const run = slot.run;
    if (run === null || message.runId !== run.id) return;
    slot.run = null;
    if (message.type === 'done') this.#settle(run, true, message.value);
    else this.#settle(run, false, deserializeThrown(message.thrown));
    this.#release(slot);
  }

  #onExit(slot: Slot, code: number): void {
    this.#slots.delete(slot);
    const index = this.#idle.indexOf(slot);
    if (index >= 0) this.#idle.splice(index, 1);
    for (const timer of [slot.graceTimer, slot.idleTimer]) if (timer !== null) clock.clearTimeout(timer);
    const run = slot.run;
    if (run !== null) {
      slot.run = null;
      const cause = slot.crash;
      const what = `job ${JSON.stringify(run.request.jobId)} (task ${JSON.stringify(run.request.taskRef)})`;
      const jobId = run.request.jobId;
      const error =
        cause instanceof Error
          ? new WorkerCrashedError(
              `Worker thread crashed while running ${what}: ${cause.message}`,
              jobId,
              code,
              {
                cause,
              },
            )
          : new WorkerCrashedError(
              `Worker thread exited with code ${code} while running ${what}`,
              jobId,
              code,
            );
      this.#settle(run, false, error);
    }
    // Queued runs get a fresh worker in place of this one.
    this.#pump();
  }

  #release(slot: Slot): void {
    if (slot.graceTimer !== null) clock.clearTimeout(slot.graceTimer);
    slot.graceTimer = null;
    if (!this.#slots.has(slot)) return;
    slot.worker.unref();
    this.#idle.push(slot);
    if (!this.#closed) {
      after(
        this.#options.idleTimeoutMs,
        () => {
          const index = this.#idle.indexOf(slot);
          if (index < 0) return;
          // Out of the idle list at once, so no run is handed to a worker that is stopping.
          this.#idle.splice(index, 1);
          void slot.worker.terminate();
        },
        (handle) => (slot.idleTimer = handle),
      );
    }
    this.#pump();
  }

  #settle(run: Run, ok: boolean, value: unknown): void {
    if (run.signal !== undefined && run.onAbort !== null) {
      run.signal.removeEventListener('abort', run.onAbort);
    }
    run.onAbort = null;
    if (ok) run.resolve(value);
    else run.reject(value);
  }
}
