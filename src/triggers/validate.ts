/**
 * Option checks shared by the triggers, with p-queue-style messages naming option and value.
 */
import { checkIntegerFrom, checkNumberFrom, checkSecondsFromZero } from '../checks.js';
import { describeValue } from '../describe.js';
import { didYouMean, JOB_OPTION_NAMES } from '../suggest.js';

/** `an interval`, `a cron`: the word with its indefinite article. */
export function withArticle(word: string): string {
  return `${/^[aeiou]/i.test(word) ? 'an' : 'a'} ${word}`;
}

const allowedSets = new WeakMap<readonly string[], Set<string>>();

/** Throws a TypeError for an options value that is not an object, or a key that is not allowed. */
export function checkOptionKeys(options: unknown, allowed: readonly string[], kind: string): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`Expected ${kind} trigger options to be an object, got ${describeValue(options)}`);
  }
  let set = allowedSets.get(allowed);
  if (set === undefined) allowedSets.set(allowed, (set = new Set(allowed)));
  for (const key of Object.keys(options)) {
    if (!set.has(key)) {
      throw new TypeError(
        `Unknown option ${JSON.stringify(key)} for ${withArticle(kind)} trigger (${didYouMean(key, [...allowed, ...JOB_OPTION_NAMES])}` +
          `expected one of ${allowed.join(', ')}, or a job option)`,
      );
    }
  }
}

/** Validates `jitter`: `null`/`undefined` or a finite number of seconds >= 0. */
export function checkJitter(value: unknown): number | null {
  if (value === undefined || value === null) return null;
  const jitter = checkSecondsFromZero(value, 'jitter');
  return jitter === 0 ? null : jitter;
}

/** Validates a non-negative finite number option, returning 0 when absent. */
export function checkAmount(value: unknown, option: string, integer = false): number {
  if (value === undefined || value === null) return 0;
  return integer ? checkIntegerFrom(value, option, 0) : checkNumberFrom(value, option, 0);
}

/** An epoch-ms instant as a UTC ISO-8601 string with milliseconds. */
export function isoOrNull(ms: number): string {
  return new Date(ms).toISOString();
}

/** The options in a trigger's JSON, after checking that its `type` (when present) is `type`. */
export function optionsFromJSON(json: unknown, type: string): Record<string, unknown> {
  if (typeof json !== 'object' || json === null) {
    throw new TypeError(`Expected ${withArticle(type)} trigger's JSON object, got ${describeValue(json)}`);
  }
  const { type: given, ...options } = json as Record<string, unknown>;
  if (given !== undefined && given !== type) {
    throw new TypeError(`Expected ${withArticle(type)} trigger's JSON, got type ${describeValue(given)}`);
  }
  return options;
}
