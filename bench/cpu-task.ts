/**
 * The CPU-bound job of bench/cpu.ts, in a module of its own: workers import it by reference, and
 * so does the main thread when the job is added (importing the bench itself would wait on its own
 * top-level await).
 */

/** Burns the CPU for `ms` milliseconds. */
export function burn(ms: number): number {
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) n++;
  return n;
}
