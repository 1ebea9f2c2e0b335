/**
 * `TickworkModule`: one scheduler per Nest application, its jobs declared by decorators on
 * provider methods, started on bootstrap and shut down (waiting for running jobs) on shutdown.
 */
import type { DynamicModule, ModuleMetadata, Provider } from '@nestjs/common';
import { DiscoveryModule, DiscoveryService } from '@nestjs/core';
import { BackgroundScheduler, type SchedulerOptions } from 'tickwork';
import { describeValue } from '../describe.js';
import { TICKWORK_OPTIONS, TICKWORK_SCHEDULER } from './decorators.js';
import { TickworkExplorer } from './explorer.js';

/** Options of `TickworkModule.forRoot`: the scheduler's options, and how decorated jobs are kept. */
export interface TickworkModuleOptions extends SchedulerOptions {
  /**
   * At start-up, remove the stored jobs that a decorator made and whose decorator is gone: jobs
   * whose task reference has the `Class.method` form and names no task this process has. Default
   * true. Set it to false when applications with other decorators share the store.
   */
  removeStaleJobs?: boolean;
}

/** Options of `TickworkModule.forRootAsync`. */
export interface TickworkModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Builds the options; may be async. */
  useFactory: (...args: never[]) => TickworkModuleOptions | Promise<TickworkModuleOptions>;
  /** Providers passed to `useFactory`, in order. */
  inject?: Array<
    string | symbol | (abstract new (...args: never[]) => unknown) | (new (...args: never[]) => unknown)
  >;
}

function schedulerOptionsOf(options: TickworkModuleOptions): SchedulerOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Expected TickworkModule options to be an object, got ${describeValue(options)}`);
  }
  const { removeStaleJobs, ...rest } = options;
  if (removeStaleJobs !== undefined && typeof removeStaleJobs !== 'boolean') {
    throw new TypeError(`Expected removeStaleJobs to be a boolean, got ${describeValue(removeStaleJobs)}`);
  }
  return rest;
}

function providers(options: Provider): Provider[] {
  return [
    options,
    {
      provide: TICKWORK_SCHEDULER,
      useFactory: (resolved: TickworkModuleOptions) => new BackgroundScheduler(schedulerOptionsOf(resolved)),
      inject: [TICKWORK_OPTIONS],
    },
    { provide: BackgroundScheduler, useExisting: TICKWORK_SCHEDULER },
    {
      provide: TickworkExplorer,
      useFactory: (
        discovery: DiscoveryService,
        scheduler: BackgroundScheduler,
        resolved: TickworkModuleOptions,
      ) => new TickworkExplorer(discovery, scheduler, resolved.removeStaleJobs ?? true),
      inject: [DiscoveryService, TICKWORK_SCHEDULER, TICKWORK_OPTIONS],
    },
  ];
}

/** The tickwork module: `imports: [TickworkModule.forRoot({ jobstores: { default: store } })]`. */
// biome-ignore lint/complexity/noStaticOnlyClass: a Nest module is a class with static forRoot()
export class TickworkModule {
  /** The module with options known up front. */
  static forRoot(options: TickworkModuleOptions = {}): DynamicModule {
    schedulerOptionsOf(options);
    return {
      module: TickworkModule,
      global: true,
      imports: [DiscoveryModule],
      providers: providers({ provide: TICKWORK_OPTIONS, useValue: options }),
      exports: [TICKWORK_SCHEDULER, BackgroundScheduler],
    };
  }

  /** The module with options built by a factory (from a config service, say). */
  static forRootAsync(options: TickworkModuleAsyncOptions): DynamicModule {
    if (typeof options?.useFactory !== 'function') {
      throw new TypeError(
        `Expected forRootAsync's useFactory to be a function, got ${describeValue(options?.useFactory)}`,
      );
    }
    return {
      module: TickworkModule,
      global: true,
      imports: [DiscoveryModule, ...(options.imports ?? [])],
      providers: providers({
        provide: TICKWORK_OPTIONS,
        useFactory: options.useFactory,
        inject: options.inject ?? [],
      }),
      exports: [TICKWORK_SCHEDULER, BackgroundScheduler],
    };
  }
}
