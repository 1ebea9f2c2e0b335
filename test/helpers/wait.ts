/**
 * Waiting on real time, for tests that drive real processes and servers (fake timers cannot move
 * a database or another process): wait for a condition with a deadline, never for a fixed delay.
 */

/** Resolves after `ms` of real time. */
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Polls `condition` every 20 ms until it holds; rejects naming `what` after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Polls `condition` every `everyMs` until it holds (true) or `deadline` (epoch ms) passes (false). */
export async function pollUntil(condition: () => boolean, deadline: number, everyMs = 50): Promise<boolean> {
  for (;;) {
    if (condition()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(everyMs, deadline - Date.now()));
  }
}
