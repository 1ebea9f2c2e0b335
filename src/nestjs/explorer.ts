/**
 * Finds the decorated methods of the application's providers, turns each into a stored job
 * under a stable task reference (`ReportsService.nightly`), and runs the scheduler's lifecycle
 * with the application's.
 */
import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import type { DiscoveryService } from '@nestjs/core';
import {
  type BackgroundScheduler,
  CronTrigger,
  DateTrigger,
  IntervalTrigger,
  type Job,
  registerTask,
  type Trigger,
} from 'tickwork';
import { type DecoratedJobOptions, declarationOf, type JobDeclaration } from './decorators.js';

/** The task reference form of decorated methods: `ClassName.methodName`. */
const DECORATED_REF = /^[A-Za-z_$][\w$]*\.[A-Za-z_$][\w$]*$/;

/** One decorated method found in a provider. */
interface FoundJob {
  ref: string;
  declaration: JobDeclaration;
}

/**
 * The methods of `prototype` and of the prototypes it inherits from (not Object's), by name, the
 * nearest first. Read from property descriptors: an accessor is never called.
 */
function methodsOf(prototype: object): Map<string, unknown> {
  const methods = new Map<string, unknown>();
  for (let p: object | null = prototype; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) {
      if (name === 'constructor' || methods.has(name)) continue;
      const { value } = Object.getOwnPropertyDescriptor(p, name) as PropertyDescriptor;
      if (typeof value === 'function') methods.set(name, value);
    }
  }
  return methods;
}

/** Builds the trigger of a declaration, at `now` for the ones relative to start-up. */
function triggerOf(declaration: JobDeclaration, now: Date): Trigger | null {
  switch (declaration.kind) {
    case 'cron': {
      const { timezone, jitter } = declaration.options;
      return CronTrigger.fromCrontab(declaration.crontab, {
        ...(timezone === undefined ? {} : { timezone }),
        ...(jitter === undefined ? {} : { jitter }),
      });
    }
    case 'cron-fields':
      return null; // added by alias, so the scheduler's time zone applies
    case 'interval':
      return null;
    case 'timeout':
      return new DateTrigger({ runDate: new Date(now.getTime() + declaration.seconds * 1000) });
    case 'run-at':
      return null;
  }
}

/** The job options of a declaration, without the trigger's own. */
function jobOptionsOf(declaration: JobDeclaration): DecoratedJobOptions {
  if (declaration.kind === 'cron') {
    const { timezone: _timezone, jitter: _jitter, ...rest } = declaration.options;
    return rest;
  }
  if (declaration.kind === 'interval') {
    const { weeks, days, hours, minutes, seconds, startDate, endDate, timezone, jitter, ...rest } =
      declaration.options;
    return rest;
  }
  return declaration.options;
}

/** Wires the decorated methods to the scheduler; made by `TickworkModule`. */
export class TickworkExplorer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scheduler: BackgroundScheduler,
    private readonly removeStaleJobs: boolean,
  ) {}

  /** Registers the tasks, adds (or replaces) their jobs and starts the scheduler. */
  async onApplicationBootstrap(): Promise<void> {
    const { found, classNames } = this.findJobs();
    const now = new Date();
    const refs = new Set(found.map((f) => f.ref));
    for (const { ref, declaration } of found) {
      const options = { id: ref, name: ref, ...jobOptionsOf(declaration), replaceExisting: true };
      if (declaration.kind === 'run-at') {
        const trigger = new DateTrigger({ runDate: declaration.runDate });
        const runDate = trigger.getNextFireTime(null, now);
        // Past its date the job ran or was missed already: adding it again would run or miss it
        // once more at every start. A copy still stored (the application was down) is left to
        // the run rules.
        if (runDate !== null && runDate.getTime() > now.getTime())
          await this.scheduler.addJob(ref, trigger, options);
        continue;
      }
      const trigger = triggerOf(declaration, now);
      if (trigger !== null) await this.scheduler.addJob(ref, trigger, options);
      else if (declaration.kind === 'cron-fields') {
        await this.scheduler.addJob(ref, 'cron', { ...declaration.fields, ...options });
      } else if (declaration.kind === 'interval') {
        const { weeks, days, hours, minutes, seconds, startDate, endDate, timezone, jitter } =
          declaration.options;
        const interval = new IntervalTrigger({
          weeks,
          days,
          hours,
          minutes,
          seconds,
          startDate,
          endDate,
          jitter,
          timezone,
        });
        await this.scheduler.addJob(ref, interval, options);
      }
    }
    await this.scheduler.start();
    if (this.removeStaleJobs) await this.removeStale(refs, classNames);
  }

  /** Shuts the scheduler down, waiting for running jobs. */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.scheduler.running) await this.scheduler.shutdown({ wait: true });
  }

  /** The decorated methods of every provider, and the class names of all providers. */
  private findJobs(): { found: FoundJob[]; classNames: Set<string> } {
    const found: FoundJob[] = [];
    const classNames = new Set<string>();
    const byRef = new Map<string, string>();
    for (const wrapper of this.discovery.getProviders()) {
      const metatypeName = (wrapper.metatype as { name?: string } | null)?.name;
      if (metatypeName) classNames.add(metatypeName);
      const { instance } = wrapper;
      if (instance === null || typeof instance !== 'object') continue;
      const prototype = Object.getPrototypeOf(instance) as object | null;
      if (prototype === null) continue;
      for (const [method, fn] of methodsOf(prototype)) {
        const declaration = declarationOf(fn);
        if (declaration === undefined) continue;
        const className = metatypeName || instance.constructor.name;
        const ref = `${className}.${method}`;
        if (!wrapper.isDependencyTreeStatic()) {
          throw new TypeError(
            `${ref} is decorated as a job, but its provider is request- or transient-scoped: jobs run outside requests, so decorate a singleton provider`,
          );
        }
        const previous = byRef.get(ref);
        if (previous !== undefined) {
          throw new TypeError(
            `${ref} is decorated as a job in two providers (${previous} and ${String(wrapper.name)}): a job's task reference names one provider method`,
          );
        }
        byRef.set(ref, String(wrapper.name));
        registerTask(ref, (...args: unknown[]) => (fn as (...a: unknown[]) => unknown).apply(instance, args));
        found.push({ ref, declaration });
      }
    }
    return { found, classNames };
  }

  /**
   * Removes stored jobs made by a decorator that this application no longer has: a `Class.method`
   * task reference that no decorator declares now, where the class is one of this application's
   * providers (the decorator was removed) or the task is unknown here (the class was removed).
   */
  private async removeStale(current: Set<string>, classNames: Set<string>): Promise<void> {
    const jobs: Job[] = await this.scheduler.getJobs();
    for (const job of jobs) {
      const ref = job.taskRef;
      if (ref === null || current.has(ref) || !DECORATED_REF.test(ref)) continue;
      if (!classNames.has(ref.slice(0, ref.indexOf('.'))) && job.broken === null) continue;
      await this.scheduler.removeJob(job.id, job.jobstore);
    }
  }
}
