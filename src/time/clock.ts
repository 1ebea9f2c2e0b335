/**
 * The one place tickwork reads the time and arms timers. Everything else calls `clock`, so tests
 * can drive time with fake timers (which replace the globals this module looks up at each call)
 * or with `setClock()`.
 */

/** A handle returned by `Clock.setTimeout`. */
export type TimerHandle = unknown;

/** What tickwork needs from a clock. */
export interface Clock {
  /** The current time, in epoch milliseconds. */
  now(): number;
  /**
   * Milliseconds from an arbitrary origin that never jump (`performance.now()`), for durations
   * within the process; a clock without it has its durations measured by `now()`.
   */
  monotonic?(): number;
  /** Calls `fn` after `ms` milliseconds; `unref` lets the process exit while it is pending. */
  setTimeout(fn: () => void, ms: number, unref?: boolean): TimerHandle;
  /** Cancels a timer made by `setTimeout`. */
  clearTimeout(handle: TimerHandle): void;
}

/** The longest single sleep: long sleeps are split so wall-clock jumps are noticed. */
export const MAX_SLEEP_MS = 60_000;

const systemClock: Clock = {
  now: () => Date.now(),
  // Read at each call, so fake timers that replace `performance` are followed.
  monotonic: () => performance.now(),
  setTimeout(fn, ms, unref = false) {
    const handle = setTimeout(fn, Math.min(Math.max(0, ms), MAX_SLEEP_MS));
    if (unref && typeof handle === 'object' && handle !== null && 'unref' in handle) handle.unref();
    return handle;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

let current: Clock = systemClock;

/** The clock tickwork reads. Delegates to the current clock, so it may be imported once. */
export const clock: Required<Clock> = {
  now: () => current.now(),
  monotonic: () => (current.monotonic === undefined ? current.now() : current.monotonic()),
  setTimeout: (fn, ms, unref) => current.setTimeout(fn, Math.min(Math.max(0, ms), MAX_SLEEP_MS), unref),
  clearTimeout: (handle) => current.clearTimeout(handle),
};

/** Replaces the clock (for tests or simulations); `setClock()` restores the system clock. */
export function setClock(replacement?: Clock): void {
  current = replacement ?? systemClock;
}

/**
 * Calls `fn` at `deadlineMs` (epoch ms), however far away, re-arming capped sleeps and re-reading
 * the clock on each wake-up. Returns a function that cancels it.
 */
export function atDeadline(deadlineMs: number, fn: () => void, unref = false): () => void {
  let handle: TimerHandle | null = null;
  let cancelled = false;
  const arm = () => {
    if (cancelled) return;
    const wait = deadlineMs - clock.now();
    if (wait <= 0) {
      handle = null;
      fn();
      return;
    }
    handle = clock.setTimeout(arm, wait, unref);
  };
  arm();
  return () => {
    cancelled = true;
    if (handle !== null) clock.clearTimeout(handle);
  };
}

/**
 * Calls `fn` once `ms` milliseconds have elapsed on the monotonic clock, however long (capped
 * sleeps are chained): a duration, unmoved by wall-clock steps. Returns a function that cancels it.
 */
export function afterDuration(ms: number, fn: () => void, unref = false): () => void {
  const deadline = clock.monotonic() + ms;
  let handle: TimerHandle | null = null;
  let cancelled = false;
  const arm = () => {
    if (cancelled) return;
    const wait = deadline - clock.monotonic();
    if (wait <= 0) {
      handle = null;
      fn();
      return;
    }
    handle = clock.setTimeout(arm, wait, unref);
  };
  handle = clock.setTimeout(arm, ms, unref);
  return () => {
    cancelled = true;
    if (handle !== null) clock.clearTimeout(handle);
  };
}

/** Resolves after pending I/O callbacks ran: lets a long loop give the event loop a turn. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
