/**
 * Runs every case of the trigger conformance vectors, from the project's own copy in
 * test/fixtures/conformance (`.ci/run` checks that it is byte-identical to ../shared/conformance).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { triggerFromJSON } from '../src/index.js';

const dir = fileURLToPath(new URL('./fixtures/conformance/', import.meta.url));

interface SequenceCase {
  trigger: Record<string, unknown>;
  now: string;
  fires: string[];
  exhausted: boolean;
  note?: string;
}

interface RunTimesCase {
  trigger: Record<string, unknown>;
  nextRunTime: string;
  now: string;
  runTimes: string[];
  nextAfter: string | null;
}

interface InvalidCase {
  trigger: Record<string, unknown>;
  error: string;
}

function readCases<T>(file: string): T[] {
  return readFileSync(`${dir}${file}`, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}

/** The field APScheduler's message is about: the one it quotes, else the reversed range. */
function offendingField(c: InvalidCase): string {
  const fields = Object.keys(c.trigger).filter((k) => k !== 'type' && k !== 'timezone');
  const quoted = fields.filter((k) => {
    const v = String(c.trigger[k]);
    return c.error.includes(`'${v}'`) || c.error.includes(`"${v}"`);
  });
  if (quoted.length === 1) return quoted[0];
  const reversed = fields.filter((k) => {
    const m = /^(\d+)-(\d+)/.exec(String(c.trigger[k]));
    return m !== null && Number(m[1]) > Number(m[2]);
  });
  if (reversed.length === 1) return reversed[0];
  throw new Error(`cannot tell the offending field of ${JSON.stringify(c)}`);
}

/** Matches a field name in camelCase (dayOfWeek) or APScheduler's snake_case (day_of_week). */
function fieldPattern(field: string): RegExp {
  const snake = field.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`);
  return new RegExp(`\\b(${field}|${snake})\\b`);
}

function label(trigger: Record<string, unknown>): string {
  return JSON.stringify(trigger);
}

describe('conformance vectors', () => {
  it('has every file the README names, and nothing this suite does not run', () => {
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.jsonl'))
      .sort();
    expect(files).toEqual(['cron.jsonl', 'date.jsonl', 'interval.jsonl', 'invalid.jsonl', 'runtimes.jsonl']);
  });

  for (const file of ['cron.jsonl', 'interval.jsonl', 'date.jsonl']) {
    describe(file, () => {
      const cases = readCases<SequenceCase>(file);
      it('is not empty', () => {
        expect(cases.length).toBeGreaterThan(0);
      });
      cases.forEach((c, i) => {
        it(`#${i + 1} ${label(c.trigger)} from ${c.now}${c.note ? ` (${c.note})` : ''}`, () => {
          const trigger = triggerFromJSON(c.trigger);
          const fires: string[] = [];
          let previous: Date | null = null;
          let now = new Date(c.now);
          for (let k = 0; k < c.fires.length; k++) {
            const next = trigger.getNextFireTime(previous, now);
            if (next === null) break;
            fires.push(next.toISOString());
            previous = next;
            now = next;
          }
          expect(fires).toEqual(c.fires);
          const after = trigger.getNextFireTime(previous, now);
          if (c.exhausted) expect(after).toBeNull();
          else expect(after).not.toBeNull();
        });
      });
    });
  }

  describe('runtimes.jsonl', () => {
    const cases = readCases<RunTimesCase>('runtimes.jsonl');
    cases.forEach((c, i) => {
      it(`#${i + 1} ${label(c.trigger)} at ${c.now}`, () => {
        const trigger = triggerFromJSON(c.trigger);
        const now = new Date(c.now);
        const runTimes: string[] = [];
        let next: Date | null = new Date(c.nextRunTime);
        let last: Date | null = null;
        while (next !== null && next.getTime() <= now.getTime()) {
          runTimes.push(next.toISOString());
          last = next;
          next = trigger.getNextFireTime(next, now);
        }
        expect(runTimes).toEqual(c.runTimes);
        expect(last === null ? null : (trigger.getNextFireTime(last, now)?.toISOString() ?? null)).toEqual(
          c.nextAfter,
        );
      });
    });
  });

  describe('invalid.jsonl', () => {
    const cases = readCases<InvalidCase>('invalid.jsonl');
    cases.forEach((c, i) => {
      it(`#${i + 1} ${label(c.trigger)} is refused`, () => {
        let thrown: unknown;
        try {
          triggerFromJSON(c.trigger);
        } catch (error) {
          thrown = error;
        }
        expect(thrown, `expected ${label(c.trigger)} to throw (${c.error})`).toBeDefined();
        expect(thrown instanceof TypeError || thrown instanceof RangeError).toBe(true);
        const message = (thrown as Error).message;
        const field = offendingField(c);
        const value = String(c.trigger[field]);
        expect(message, 'the message names the field').toMatch(fieldPattern(field));
        expect(message, 'the message names the value').toContain(value);
      });
    });
  });
});
