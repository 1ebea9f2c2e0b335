/**
 * Decorators for provider methods: each marks the method as a job of the tickwork scheduler,
 * added when the application boots.
 */
import { Inject } from '@nestjs/common';
import type { CommonJobOptions, CronTriggerOptions, DateInput, IntervalTriggerOptions } from 'tickwork';
import { checkNumberFrom } from '../checks.js';
import { describeValue } from '../describe.js';
import { checkRetry } from '../retry.js';

/** The injection token of the scheduler (also injectable as `BackgroundScheduler`). */
export const TICKWORK_SCHEDULER = Symbol.for('tickwork.nestjs.scheduler');
/** The injection token of the module's options. */
export const TICKWORK_OPTIONS = Symbol.for('tickwork.nestjs.options');

/** Job options a decorator takes: every job option but the ones the module decides. */
export type DecoratedJobOptions = Omit<CommonJobOptions, 'replaceExisting' | 'nextRunTime'> & {
  /** Arguments passed to the method at each run (they are stored with the job). */
  args?: unknown[];
};

/** The fields of `@Cron` given as an object, with the trigger's time zone and bounds. */
export type CronFields = Omit<CronTriggerOptions, 'jitter'> & { jitter?: number | null };

/** Options of `@Cron` besides the schedule. */
export type CronDecoratorOptions = DecoratedJobOptions & {
  /** IANA zone of the schedule. Default: the scheduler's `timezone`. */
  timezone?: string;
  /** Random delay in seconds added to each fire time. */
  jitter?: number | null;
};

/** Options of `@Interval`: the interval (`weeks`, `days`, `hours`, `minutes`, `seconds`) and job options. */
export type IntervalDecoratorOptions = IntervalTriggerOptions & DecoratedJobOptions;

/** Options of `@Timeout`: the delay after start-up (`hours`, `minutes`, `seconds`) and job options. */
export type TimeoutDecoratorOptions = {
  hours?: number;
  minutes?: number;
  seconds?: number;
} & DecoratedJobOptions;

/** What a decorator recorded on a method. */
export type JobDeclaration =
  | { kind: 'cron'; crontab: string; options: CronDecoratorOptions }
  | { kind: 'cron-fields'; fields: CronFields; options: DecoratedJobOptions }
  | { kind: 'interval'; options: IntervalDecoratorOptions }
  | { kind: 'timeout'; seconds: number; options: DecoratedJobOptions }
  | { kind: 'run-at'; runDate: DateInput; options: DecoratedJobOptions };

// Keyed by the method itself, so no reflection library is needed and subclasses inherit it.
const declarations = new WeakMap<object, JobDeclaration>();

/** The job declared on `method`, if any. */
export function declarationOf(method: unknown): JobDeclaration | undefined {
  return typeof method === 'function' ? declarations.get(method) : undefined;
}

type MethodDecorator = (target: object, key: string | symbol, descriptor: PropertyDescriptor) => void;

function declare(name: string, declaration: JobDeclaration): MethodDecorator {
  return (_target, key, descriptor) => {
    if (typeof descriptor?.value !== 'function') {
      throw new TypeError(
        `@${name} goes on a method, got ${String(key)} (${describeValue(descriptor?.value)})`,
      );
    }
    if (declarations.has(descriptor.value)) {
      throw new TypeError(`${String(key)} has two tickwork decorators: give each job a method of its own`);
    }
    declarations.set(descriptor.value, declaration);
  };
}

/**
 * Checks the options of decorator `name`: an object, whose `retry` (when given) is `null` or a
 * valid retry policy, so that a bad one fails where the method is decorated.
 */
function checkOptions(name: string, options: unknown): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`Expected the options of @${name} to be an object, got ${describeValue(options)}`);
  }
  const { retry } = options as { retry?: unknown };
  if (retry !== undefined) checkRetry(retry, `@${name}'s retry`);
}

/**
 * Runs the method on a cron schedule: a crontab line (`'0 9 * * 1-5'`, `'@daily'`, six fields
 * with seconds first) or APScheduler's fields (`{ hour: 9, minute: 0, dayOfWeek: 'mon-fri' }`).
 */
export function Cron(schedule: string | CronFields, options: CronDecoratorOptions = {}): MethodDecorator {
  checkOptions('Cron', options);
  if (typeof schedule === 'string') return declare('Cron', { kind: 'cron', crontab: schedule, options });
  if (typeof schedule !== 'object' || schedule === null || Array.isArray(schedule)) {
    throw new TypeError(
      `Expected @Cron's schedule to be a crontab string or cron fields, got ${describeValue(schedule)}`,
    );
  }
  return declare('Cron', { kind: 'cron-fields', fields: schedule, options });
}

/**
 * Runs the method every interval: `@Interval({ seconds: 10 })`. Units are those of the interval
 * trigger (seconds, not milliseconds as in `@nestjs/schedule`).
 */
export function Interval(options: IntervalDecoratorOptions): MethodDecorator {
  if (typeof options === 'number') {
    throw new TypeError(
      `Expected @Interval's options to be an object such as { seconds: 10 }, got ${describeValue(options)} ` +
        '(a bare number would be ambiguous: @nestjs/schedule counts milliseconds, tickwork seconds)',
    );
  }
  checkOptions('Interval', options);
  if (options === undefined)
    throw new TypeError('Expected @Interval to be given options such as { seconds: 10 }');
  return declare('Interval', { kind: 'interval', options });
}

/** Runs the method once, this long after the application starts: `@Timeout({ seconds: 30 })`. */
export function Timeout(options: TimeoutDecoratorOptions): MethodDecorator {
  if (typeof options === 'number') {
    throw new TypeError(
      `Expected @Timeout's options to be an object such as { seconds: 30 }, got ${describeValue(options)} ` +
        '(a bare number would be ambiguous: @nestjs/schedule counts milliseconds, tickwork seconds)',
    );
  }
  checkOptions('Timeout', options);
  const { hours = 0, minutes = 0, seconds = 0, ...jobOptions } = options ?? {};
  for (const [name, value] of Object.entries({ hours, minutes, seconds })) {
    checkNumberFrom(value, `@Timeout's ${name}`, 0);
  }
  return declare('Timeout', {
    kind: 'timeout',
    seconds: hours * 3600 + minutes * 60 + seconds,
    options: jobOptions,
  });
}

/** Runs the method once, at `runDate` (a `Date`, ISO string, epoch ms or luxon `DateTime`). */
export function RunAt(runDate: DateInput, options: DecoratedJobOptions = {}): MethodDecorator {
  checkOptions('RunAt', options);
  if (runDate === undefined || runDate === null) {
    throw new TypeError(`Expected @RunAt's runDate to be a date, got ${describeValue(runDate)}`);
  }
  return declare('RunAt', { kind: 'run-at', runDate, options });
}

/** Injects the module's scheduler: `constructor(@InjectScheduler() scheduler: BackgroundScheduler)`. */
export function InjectScheduler(): ReturnType<typeof Inject> {
  return Inject(TICKWORK_SCHEDULER);
}
