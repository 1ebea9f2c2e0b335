/**
 * AndTrigger and OrTrigger: combine other triggers (APScheduler 3 semantics).
 */
import { describeValue } from '../describe.js';
import { applyJitter, type Trigger, type TriggerJSON } from './base.js';
import { triggerFromJSON } from './registry.js';
import { checkJitter, checkOptionKeys } from './validate.js';

const OPTION_KEYS = ['jitter'];

// An AndTrigger whose children never agree would search forever; give up after this many rounds.
const MAX_AND_ROUNDS = 10_000;

/** Options of the combining triggers. */
export interface CombiningTriggerOptions {
  /** Random delay added to each fire time, in seconds. */
  jitter?: number | null;
}

function checkTriggers(triggers: unknown, kind: string): Trigger[] {
  if (!Array.isArray(triggers) || triggers.length === 0) {
    throw new TypeError(
      `Expected ${kind} trigger's triggers to be a non-empty array, got ${describeValue(triggers)}`,
    );
  }
  triggers.forEach((t, i) => {
    if (typeof t !== 'object' || t === null || typeof (t as Trigger).getNextFireTime !== 'function') {
      throw new TypeError(
        `Expected ${kind} trigger's triggers[${i}] to be a Trigger, got ${describeValue(t)}`,
      );
    }
  });
  return [...triggers] as Trigger[];
}

abstract class CombiningTrigger implements Trigger {
  /** The combined triggers. */
  readonly triggers: readonly Trigger[];
  /** Random delay added to each fire time, in seconds. */
  readonly jitter: number | null;

  constructor(
    protected readonly kind: 'and' | 'or',
    triggers: Trigger[],
    options: CombiningTriggerOptions,
  ) {
    this.triggers = checkTriggers(triggers, kind);
    checkOptionKeys(options, OPTION_KEYS, kind);
    this.jitter = checkJitter(options.jitter);
  }

  abstract getNextFireTime(previousFireTime: Date | null, now: Date): Date | null;

  /** `{ type: 'and' | 'or', triggers: [...], jitter? }`. */
  toJSON(): TriggerJSON {
    const json: TriggerJSON = { type: this.kind, triggers: this.triggers.map((t) => t.toJSON()) };
    if (this.jitter !== null) json.jitter = this.jitter;
    return json;
  }

  /** `and[cron[...], interval[...]]`. */
  toString(): string {
    return `${this.kind}[${this.triggers.map((t) => t.toString()).join(', ')}]`;
  }
}

function childrenFromJSON(json: Record<string, unknown>, kind: string): Trigger[] {
  const { type, triggers } = json;
  if (type !== undefined && type !== kind) {
    throw new TypeError(`Expected an ${kind} trigger's JSON, got type ${describeValue(type)}`);
  }
  if (!Array.isArray(triggers)) {
    throw new TypeError(`Expected ${kind} trigger's triggers to be an array, got ${describeValue(triggers)}`);
  }
  return triggers.map((t) => triggerFromJSON(t));
}

/** Fires when every child trigger fires at the same instant. */
export class AndTrigger extends CombiningTrigger {
  constructor(triggers: Trigger[], options: CombiningTriggerOptions = {}) {
    super('and', triggers, options);
  }

  /** Restores a trigger from `toJSON()` output. */
  static fromJSON(json: TriggerJSON | Record<string, unknown>): AndTrigger {
    return new AndTrigger(childrenFromJSON(json, 'and'), {
      jitter: json.jitter as number | null | undefined,
    });
  }

  /** The earliest instant all children agree on, or `null`. */
  getNextFireTime(previousFireTime: Date | null, now: Date): Date | null {
    let searchFrom = now;
    for (let round = 0; round < MAX_AND_ROUNDS; round++) {
      let min = Number.POSITIVE_INFINITY;
      let max = Number.NEGATIVE_INFINITY;
      for (const trigger of this.triggers) {
        // After the first round, search from the latest candidate: with a previous fire time
        // given, a trigger would search from just after it and ignore the later `now`.
        const fire = trigger.getNextFireTime(round === 0 ? previousFireTime : null, searchFrom);
        if (fire === null) return null;
        const t = fire.getTime();
        if (t < min) min = t;
        if (t > max) max = t;
      }
      if (min === max) return new Date(applyJitter(min, this.jitter, null));
      searchFrom = new Date(max);
    }
    return null;
  }
}

/** Fires whenever any child trigger fires. */
export class OrTrigger extends CombiningTrigger {
  constructor(triggers: Trigger[], options: CombiningTriggerOptions = {}) {
    super('or', triggers, options);
  }

  /** Restores a trigger from `toJSON()` output. */
  static fromJSON(json: TriggerJSON | Record<string, unknown>): OrTrigger {
    return new OrTrigger(childrenFromJSON(json, 'or'), { jitter: json.jitter as number | null | undefined });
  }

  /** The earliest next fire time of the children, or `null` when none has one. */
  getNextFireTime(previousFireTime: Date | null, now: Date): Date | null {
    let min = Number.POSITIVE_INFINITY;
    for (const trigger of this.triggers) {
      const fire = trigger.getNextFireTime(previousFireTime, now);
      if (fire !== null && fire.getTime() < min) min = fire.getTime();
    }
    return min === Number.POSITIVE_INFINITY ? null : new Date(applyJitter(min, this.jitter, null));
  }
}
