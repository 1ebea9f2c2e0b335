/**
 * "Did you mean" suggestions for misspelled option names, so `misfireGracetime` points at
 * `misfireGraceTime` instead of only listing what is allowed.
 */

import { JOB_POLICY_NAMES } from './job-fields.js';

/** The options every job takes (SPEC section 3), also suggested where trigger options are checked. */
export const JOB_OPTION_NAMES: readonly string[] = [
  'id',
  'name',
  'args',
  ...JOB_POLICY_NAMES,
  'nextRunTime',
  'jobstore',
  'executor',
  'replaceExisting',
];

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost);
    }
    previous = current;
  }
  return previous[b.length];
}

/**
 * The candidate `given` most likely misspells: the same name in another case, else the nearest
 * within two edits (one for short names); `null` when none is that close.
 */
export function closestName(given: string, candidates: Iterable<string>): string | null {
  const lower = given.toLowerCase();
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    if (candidate === given) continue;
    if (candidate.toLowerCase() === lower) return candidate;
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const limit = Math.min(given.length, best?.length ?? 0) <= 4 ? 1 : 2;
  return bestDistance <= limit ? best : null;
}

/** `did you mean "x"? ` for a close candidate, else the empty string. */
export function didYouMean(given: string, candidates: Iterable<string>): string {
  const name = closestName(given, candidates);
  return name === null ? '' : `did you mean ${JSON.stringify(name)}? `;
}
