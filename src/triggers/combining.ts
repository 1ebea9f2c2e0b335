/**
 * AndTrigger and OrTrigger: combine other triggers. OrTrigger keeps the next fire time of each
 * child, as APScheduler 4 does; both keep it through `toJSON()`.
 */
import { describeValue } from '../describe.js';
import type { DateInput } from '../time/inputs.js';
import { applyJitter, type Trigger, type TriggerJSON } from './base.js';
import { describeCombination } from './english.js';
import { fireTimesOf } from './preview.js';
import { triggerFromJSON } from './registry.js';
import { checkJitter, checkOptionKeys, isoOrNull } from './validate.js';

const OPTION_KEYS = ['jitter'];

/**
 * The number of search rounds after which an `AndTrigger` whose children do not agree on an
 * instant gives up and returns `null` (no further fire time).
 */
const AND_TRIGGER_MAX_ROUNDS = 10_000;

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

/** `ms` as an ISO string, `null` for `null`. */
function isoOf(ms: number | null): string | null {
  return ms === null ? null : isoOrNull(ms);
}

/** An ISO string (or `null`) of a stored state back to epoch ms; `option` names it in errors. */
function msOf(value: unknown, option: string, kind: string): number | null {
  if (value === null) return null;
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new TypeError(
      `Expected ${kind} trigger's ${option} to be an ISO date string or null, got ${describeValue(value)}`,
    );
  }
  return ms;
}

abstract class CombiningTrigger implements Trigger {
  /** The combined triggers. */
  readonly triggers: readonly Trigger[];
  /** Random delay added to each fire time, in seconds. */
  readonly jitter: number | null;
  // The last fire time returned after jitter, and the fire time it was drawn from: a previous
  // fire time equal to the first stands for the second (the children fired at the second).
  protected jittered: [number, number] | null = null;

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

  /** The previous fire time as the children saw it (before this trigger's jitter). */
  protected unjittered(previousFireTime: Date): number {
    const ms = previousFireTime.getTime();
    return this.jittered !== null && this.jittered[0] === ms ? this.jittered[1] : ms;
  }

  /** `fire` with this trigger's jitter, remembering the pair. */
  protected withJitter(fire: number): Date {
    const out = applyJitter(fire, this.jitter, null);
    this.jittered = out === fire ? null : [out, fire];
    return new Date(out);
  }

  /** The state to store beside the children, or `null` for none. */
  protected abstract stateJSON(): Record<string, unknown> | null;

  /** `{ type: 'and' | 'or', triggers: [...], jitter?, state? }`. */
  toJSON(): TriggerJSON {
    const json: TriggerJSON = { type: this.kind, triggers: this.triggers.map((t) => t.toJSON()) };
    if (this.jitter !== null) json.jitter = this.jitter;
    const state = this.stateJSON();
    if (state !== null) json.state = state;
    return json;
  }

  /**
   * The next `count` fire times at or after `from` (default: now), fewer when it ends; computed
   * on a copy, so this trigger's state does not move.
   */
  getNextFireTimes(count: number, from?: DateInput): Date[] {
    return fireTimesOf(triggerFromJSON(this.toJSON()), count, from);
  }

  /** `at 09:00 on the 1st of every month, and every 2 seconds`. */
  describe(): string {
    return describeCombination(this.kind, this.triggers, this.jitter);
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

function stateFromJSON(json: Record<string, unknown>, kind: string): Record<string, unknown> | null {
  const { state } = json;
  if (state === undefined || state === null) return null;
  if (typeof state !== 'object' || Array.isArray(state)) {
    throw new TypeError(`Expected ${kind} trigger's state to be an object, got ${describeValue(state)}`);
  }
  return state as Record<string, unknown>;
}

function jitteredFromJSON(value: unknown, kind: string): [number, number] | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || value.length !== 2) {
    throw new TypeError(
      `Expected ${kind} trigger's state.jittered to be two ISO date strings, got ${describeValue(value)}`,
    );
  }
  const out = msOf(value[0], 'state.jittered', kind);
  const fire = msOf(value[1], 'state.jittered', kind);
  if (out === null || fire === null) {
    throw new TypeError(
      `Expected ${kind} trigger's state.jittered to be two ISO date strings, got ${describeValue(value)}`,
    );
  }
  return [out, fire];
}

/**
 * Fires when every child trigger fires at the same instant. Each search round asks every child
 * for its first fire time at or after the latest candidate; after 10,000
 * rounds without agreement it gives up and returns `null`, as if it never fired again.
 */
export class AndTrigger extends CombiningTrigger {
  constructor(triggers: Trigger[], options: CombiningTriggerOptions = {}) {
    super('and', triggers, options);
  }

  /** Restores a trigger from `toJSON()` output. */
  static fromJSON(json: TriggerJSON | Record<string, unknown>): AndTrigger {
    const trigger = new AndTrigger(childrenFromJSON(json, 'and'), {
      jitter: json.jitter as number | null | undefined,
    });
    const state = stateFromJSON(json, 'and');
    if (state !== null) trigger.jittered = jitteredFromJSON(state.jittered, 'and');
    return trigger;
  }

  /**
   * The earliest instant all children agree on, or `null` (also after 10,000 rounds
   * without agreement).
   */
  getNextFireTime(previousFireTime: Date | null, now: Date): Date | null {
    // Every child fired at the previous fire time, so it is each child's previous fire time too.
    const previous = previousFireTime === null ? null : new Date(this.unjittered(previousFireTime));
    const fires: number[] = [];
    for (const trigger of this.triggers) {
      const fire = trigger.getNextFireTime(previous, now);
      if (fire === null) return null;
      fires.push(fire.getTime());
    }
    for (let round = 1; round < AND_TRIGGER_MAX_ROUNDS; round++) {
      let min = Number.POSITIVE_INFINITY;
      let max = Number.NEGATIVE_INFINITY;
      for (const t of fires) {
        if (t < min) min = t;
        if (t > max) max = t;
      }
      if (min === max) return this.withJitter(min);
      const searchFrom = new Date(max);
      for (let i = 0; i < fires.length; i++) {
        if (fires[i] === max) continue;
        const trigger = this.triggers[i];
        let fire = trigger.getNextFireTime(null, searchFrom);
        // A child may answer a first fire time before the candidate (a DateTrigger gives its run
        // date): step it through its own sequence from there.
        while (fire !== null && fire.getTime() < max) {
          if (++round >= AND_TRIGGER_MAX_ROUNDS) return null;
          fire = trigger.getNextFireTime(fire, searchFrom);
        }
        if (fire === null) return null;
        fires[i] = fire.getTime();
      }
    }
    return null;
  }

  protected stateJSON(): Record<string, unknown> | null {
    return this.jittered === null ? null : { jittered: this.jittered.map(isoOrNull) };
  }
}

/**
 * Fires whenever any child trigger fires; an instant two children share fires once. It keeps
 * the next fire time of each child (its state, kept by `toJSON()`), so each child runs through
 * its own sequence. Given a previous fire time earlier than its state, it rebuilds the state from
 * each child's first fire time after that instant.
 */
export class OrTrigger extends CombiningTrigger {
  // The next fire time of each child (`null`: none left), valid for previous fire times from
  // `low` on.
  private next: Array<number | null> | null = null;
  private low = Number.NEGATIVE_INFINITY;

  constructor(triggers: Trigger[], options: CombiningTriggerOptions = {}) {
    super('or', triggers, options);
  }

  /** Restores a trigger from `toJSON()` output, with the state it had. */
  static fromJSON(json: TriggerJSON | Record<string, unknown>): OrTrigger {
    const trigger = new OrTrigger(childrenFromJSON(json, 'or'), {
      jitter: json.jitter as number | null | undefined,
    });
    const state = stateFromJSON(json, 'or');
    if (state === null) return trigger;
    const { next, low } = state;
    if (!Array.isArray(next) || next.length !== trigger.triggers.length) {
      throw new TypeError(
        `Expected or trigger's state.next to be an array of ${trigger.triggers.length} ISO date strings or nulls, got ${describeValue(next)}`,
      );
    }
    trigger.next = next.map((v) => msOf(v, 'state.next', 'or'));
    trigger.low = msOf(low ?? null, 'state.low', 'or') ?? Number.NEGATIVE_INFINITY;
    trigger.jittered = jitteredFromJSON(state.jittered, 'or');
    return trigger;
  }

  /** The earliest next fire time of the children, or `null` when none has one. */
  getNextFireTime(previousFireTime: Date | null, now: Date): Date | null {
    let next: Array<number | null>;
    if (previousFireTime === null) {
      next = this.triggers.map((t) => t.getNextFireTime(null, now)?.getTime() ?? null);
      // Each child starts its own sequence at `now`; a previous fire time before both `now` and
      // the first fire time given here is not of this sequence.
      let low = now.getTime() - 1;
      for (const fire of next) if (fire !== null && fire < low) low = fire;
      this.low = low;
    } else {
      const previous = this.unjittered(previousFireTime);
      next = this.next ?? [];
      if (this.next === null || previous < this.low) {
        const after = new Date(previous + 1);
        next = this.triggers.map((t) => t.getNextFireTime(null, after)?.getTime() ?? null);
      }
      // The children that fired at or before the previous fire time move on in their own sequence.
      for (let i = 0; i < next.length; i++) {
        let fire = next[i];
        while (fire !== null && fire <= previous) {
          const following = this.triggers[i].getNextFireTime(new Date(fire), now)?.getTime() ?? null;
          if (following !== null && following <= fire) {
            throw new RangeError(
              `Expected or trigger's triggers[${i}] (${this.triggers[i].toString()}) to give a fire time after ${isoOrNull(fire)}, got ${isoOrNull(following)}`,
            );
          }
          fire = following;
        }
        next[i] = fire;
      }
      this.low = previous;
    }
    this.next = next;
    let min = Number.POSITIVE_INFINITY;
    for (const fire of next) if (fire !== null && fire < min) min = fire;
    if (min === Number.POSITIVE_INFINITY) {
      this.jittered = null;
      return null;
    }
    return this.withJitter(min);
  }

  protected stateJSON(): Record<string, unknown> | null {
    if (this.next === null) return null;
    const state: Record<string, unknown> = { next: this.next.map(isoOf) };
    if (this.low !== Number.NEGATIVE_INFINITY) state.low = isoOrNull(this.low);
    if (this.jittered !== null) state.jittered = this.jittered.map(isoOrNull);
    return state;
  }
}
