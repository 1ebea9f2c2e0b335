/**
 * Fuzz: random strings in every cron field and random crontab lines only ever give a trigger or
 * a TypeError/RangeError, quickly; never another error, a wrong result type or a hang.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CronTrigger } from '../../src/index.js';

const FIELDS = ['year', 'month', 'day', 'week', 'dayOfWeek', 'hour', 'minute', 'second'] as const;
const ALPHABET = '0123456789*/-, abcdeflmnorstuwyLW#?.'.split('');
const tokenArb = fc.array(fc.constantFrom(...ALPHABET), { maxLength: 14 }).map((chars) => chars.join(''));
const WORDS = [
  '*',
  '*/5',
  '1-5',
  'mon',
  'fri',
  'last',
  'last fri',
  '2nd mon',
  'jan',
  'dec',
  '0',
  '59',
  '60',
  '7',
  '32',
  '5-1',
  '*/0',
  'L',
  '?',
];
const wordyArb = fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 3 }).map((w) => w.join(','));

function expectTriggerOrRangeError(make: () => CronTrigger): 'ok' | 'refused' {
  let trigger: CronTrigger;
  try {
    trigger = make();
  } catch (error) {
    if (!(error instanceof TypeError || error instanceof RangeError)) throw error;
    expect((error as Error).message.length).toBeGreaterThan(10);
    return 'refused';
  }
  const next = trigger.getNextFireTime(null, new Date(Date.UTC(2026, 0, 1)));
  expect(next === null || (next instanceof Date && !Number.isNaN(next.getTime()))).toBe(true);
  return 'ok';
}

describe('cron input fuzzing', () => {
  for (const field of FIELDS) {
    it(`field ${field}: random strings give a trigger or a TypeError/RangeError`, () => {
      const outcomes = { ok: 0, refused: 0 };
      fc.assert(
        fc.property(fc.oneof(tokenArb, wordyArb), (text) => {
          outcomes[expectTriggerOrRangeError(() => new CronTrigger({ [field]: text, timezone: 'UTC' }))]++;
        }),
        { numRuns: 1500, seed: 7 },
      );
      // Both outcomes happen: the generator reaches valid and invalid input.
      expect(outcomes.ok).toBeGreaterThan(0);
      expect(outcomes.refused).toBeGreaterThan(0);
    });
  }

  it('random crontab lines give a trigger or a TypeError/RangeError', () => {
    const outcomes = { ok: 0, refused: 0 };
    const lineArb = fc
      .array(fc.oneof(tokenArb, fc.constantFrom(...WORDS, 'sun', 'sat', '0-7', '7', '*/2')), {
        minLength: 4,
        maxLength: 6,
      })
      .map((parts) => parts.join(' '));
    fc.assert(
      fc.property(
        fc.oneof(lineArb, fc.constantFrom('@daily', '@hourly', '@weekly', '@yearly', '@reboot')),
        (line) => {
          outcomes[expectTriggerOrRangeError(() => CronTrigger.fromCrontab(line, { timezone: 'UTC' }))]++;
        },
      ),
      { numRuns: 3000, seed: 11 },
    );
    expect(outcomes.ok).toBeGreaterThan(0);
    expect(outcomes.refused).toBeGreaterThan(0);
  });

  it('refuses non-string, non-integer field values with a TypeError or RangeError', () => {
    for (const value of [1.5, Number.NaN, {}, [], true, () => 1, Symbol('x')]) {
      expect(() => new CronTrigger({ hour: value as never, timezone: 'UTC' })).toThrow(/hour/);
    }
  });
});
