/**
 * A job's run policy, declared once: each field with its default (`jobDefaults`), its check
 * (for `addJob` options, `modifyJob` changes and `jobDefaults`, naming the option and the value)
 * and how its stored JSON is read back. `Job`, the option checks and the stored state all take
 * these fields from this table.
 */
import { checkIntegerFrom, checkSecondsOrNull } from './checks.js';
import { describeValue } from './describe.js';
import { checkRetry, type RetryPolicy } from './retry.js';

/** The fields of a job that say how it runs; each has a default in `jobDefaults`. */
export interface JobPolicy {
  /** Seconds after its fire time a run may still start; `null` = no limit. Default 1. */
  misfireGraceTime: number | null;
  /** Run a backlog of missed fire times once instead of once each. Default true. */
  coalesce: boolean;
  /** How many runs of this job may go at once. Default 1. */
  maxInstances: number;
  /** Seconds a run may take before it is aborted; `null` = no limit. Default null. */
  timeout: number | null;
  /** How a failed run is tried again; `null` = it is not. Default null. */
  retry: RetryPolicy | null;
}

/** One field of the policy. */
interface PolicyField<T> {
  readonly default: T;
  /** Checks a value given for option `option`; returns what the job holds. */
  check(value: unknown, option: string): T;
  /** Reads a value from stored JSON, throwing when corrupt (`undefined`: the state predates the field). */
  readStored(value: unknown): T;
}

/** Validates a boolean option. */
export function checkBoolean(value: unknown, option: string): boolean {
  if (typeof value !== 'boolean')
    throw new TypeError(`Expected ${option} to be a boolean, got ${describeValue(value)}`);
  return value;
}

function stored<T>(key: string, ok: (value: unknown) => boolean): (value: unknown) => T {
  return (value) => {
    if (!ok(value)) throw new TypeError(`Stored job state has a bad ${key}: ${JSON.stringify(value)}`);
    return value as T;
  };
}

const isSecondsOrNull = (v: unknown) => v === null || (typeof v === 'number' && v >= 0);

/** The table. Its order is the order of the fields in stored state. */
export const JOB_POLICY: { readonly [K in keyof JobPolicy]: PolicyField<JobPolicy[K]> } = {
  misfireGraceTime: {
    default: 1,
    check: checkSecondsOrNull,
    readStored: stored('misfireGraceTime', isSecondsOrNull),
  },
  coalesce: {
    default: true,
    check: checkBoolean,
    readStored: stored('coalesce', (v) => typeof v === 'boolean'),
  },
  maxInstances: {
    default: 1,
    check: (value, option) => checkIntegerFrom(value, option, 1),
    readStored: stored('maxInstances', (v) => Number.isInteger(v) && (v as number) >= 1),
  },
  timeout: {
    default: null,
    check: checkSecondsOrNull,
    readStored: stored('timeout', isSecondsOrNull),
  },
  retry: {
    default: null,
    check: checkRetry,
    readStored: (value) => (value === undefined ? null : checkRetry(value, 'the stored retry')),
  },
};

/** The policy's field names, in table order. */
export const JOB_POLICY_NAMES = Object.keys(JOB_POLICY) as ReadonlyArray<keyof JobPolicy>;

/** Whether `name` is a policy field. */
export function isPolicyField(name: string): name is keyof JobPolicy {
  return Object.hasOwn(JOB_POLICY, name);
}

/** The defaults of every field. */
export function policyDefaults(): JobPolicy {
  const out = {} as Record<keyof JobPolicy, unknown>;
  for (const name of JOB_POLICY_NAMES) out[name] = JOB_POLICY[name].default;
  return out as JobPolicy;
}

/**
 * Each field from `options` when given (checked, the message naming `prefix` + the field),
 * else from `base`.
 */
export function checkPolicy(options: Record<string, unknown>, base: JobPolicy, prefix = ''): JobPolicy {
  let given = false;
  for (const key in options) {
    if (options[key] !== undefined && isPolicyField(key)) {
      given = true;
      break;
    }
  }
  // Most jobs set none of them: the defaults object itself (never written to).
  if (!given) return base;
  const out = {} as Record<keyof JobPolicy, unknown>;
  for (const name of JOB_POLICY_NAMES) {
    const value = options[name];
    out[name] = value === undefined ? base[name] : JOB_POLICY[name].check(value, prefix + name);
  }
  return out as JobPolicy;
}

/** The policy read back from stored state JSON; throws naming a corrupt field. */
export function readStoredPolicy(state: Record<string, unknown>): JobPolicy {
  const out = {} as Record<keyof JobPolicy, unknown>;
  for (const name of JOB_POLICY_NAMES) out[name] = JOB_POLICY[name].readStored(state[name]);
  return out as JobPolicy;
}

/** The policy fields of `source` (a job, its options, or its fields), in table order. */
export function policyOf(source: JobPolicy): JobPolicy {
  const out = {} as Record<keyof JobPolicy, unknown>;
  for (const name of JOB_POLICY_NAMES) out[name] = source[name];
  return out as JobPolicy;
}
