/**
 * OpenTelemetry, opt in (`telemetry: true`): a span per run and a few metrics, through
 * `@opentelemetry/api` (an optional peer dependency, loaded only when telemetry is on). When off,
 * executors see `telemetry === null` and nothing else runs.
 */
import { describeValue } from './describe.js';
import { JobAbandonedError, JobTimeoutError } from './errors.js';
import type { RunContext } from './executors/base-executor.js';
import type { Job } from './job.js';
import type { JobStore } from './stores/base.js';
import { clock } from './time/clock.js';
import type { Trigger } from './triggers/base.js';

/** A tracer provider, as `@opentelemetry/api` defines it (only what tickwork uses). */
export interface TracerProviderLike {
  /** Returns the tracer of an instrumentation scope. */
  getTracer(name: string, version?: string): unknown;
}

/** A meter provider, as `@opentelemetry/api` defines it (only what tickwork uses). */
export interface MeterProviderLike {
  /** Returns the meter of an instrumentation scope. */
  getMeter(name: string, version?: string): unknown;
}

/** The `telemetry` scheduler option when it is an object. */
export interface TelemetryOptions {
  /** Where spans go. Default: the global tracer provider of `@opentelemetry/api`. */
  tracerProvider?: TracerProviderLike;
  /** Where metrics go. Default: the global meter provider of `@opentelemetry/api`. */
  meterProvider?: MeterProviderLike;
}

/** How a run ended, as the `tickwork.run.outcome` attribute says. */
export type RunOutcome = 'success' | 'error' | 'timeout' | 'aborted';

type Attributes = Record<string, string | number | boolean>;

interface Span {
  setAttribute(key: string, value: string | number | boolean): unknown;
  recordException(error: unknown, time?: number): void;
  setStatus(status: { code: number; message?: string }): unknown;
  end(time?: number): void;
}
interface Tracer {
  startSpan(name: string, options: { root: boolean; startTime: number; attributes: Attributes }): Span;
}
interface Counter {
  add(value: number, attributes?: Attributes): void;
}
interface Histogram {
  record(value: number, attributes?: Attributes): void;
}
interface ObservableResult {
  observe(value: number, attributes?: Attributes): void;
}
interface ObservableGauge {
  addCallback(callback: (result: ObservableResult) => Promise<void>): void;
  removeCallback(callback: (result: ObservableResult) => Promise<void>): void;
}
interface InstrumentOptions {
  description: string;
  unit?: string;
}
interface Meter {
  createCounter(name: string, options: InstrumentOptions): Counter;
  createHistogram(name: string, options: InstrumentOptions): Histogram;
  createObservableGauge(name: string, options: InstrumentOptions): ObservableGauge;
}
interface OtelApi {
  trace: {
    getTracerProvider(): TracerProviderLike;
    setSpan(context: unknown, span: Span): unknown;
  };
  metrics: { getMeterProvider(): MeterProviderLike };
  context: { with<R>(context: unknown, fn: () => R): R };
  ROOT_CONTEXT: unknown;
  SpanStatusCode: { ERROR: number };
}

// Triggers are immutable: each one is described once.
const triggerDescriptions = new WeakMap<Trigger, string>();

function describeTrigger(trigger: Trigger): string {
  let text = triggerDescriptions.get(trigger);
  if (text === undefined) {
    text = String(trigger);
    triggerDescriptions.set(trigger, text);
  }
  return text;
}

/** The instrumentation scope name of tickwork's spans and metrics. */
export const INSTRUMENTATION_NAME = 'tickwork';

/** Validates the `telemetry` option. */
export function checkTelemetryOption(value: unknown): TelemetryOptions | null {
  if (value === false) return null;
  if (value === true) return {};
  const ok =
    typeof value === 'object' &&
    value !== null &&
    Object.entries(value).every(
      ([key, provider]) =>
        (key === 'tracerProvider' &&
          typeof (provider as TracerProviderLike | undefined)?.getTracer === 'function') ||
        (key === 'meterProvider' &&
          typeof (provider as MeterProviderLike | undefined)?.getMeter === 'function'),
    );
  if (!ok) {
    throw new TypeError(
      `Expected telemetry to be a boolean or { tracerProvider?, meterProvider? }, got ${describeValue(value)}`,
    );
  }
  return value as TelemetryOptions;
}

async function loadApi(): Promise<OtelApi> {
  try {
    const loaded = (await import('@opentelemetry/api')) as unknown as OtelApi & { default?: OtelApi };
    return loaded.trace === undefined && loaded.default !== undefined ? loaded.default : loaded;
  } catch (error) {
    throw new Error(
      'The telemetry option needs the @opentelemetry/api package (npm install @opentelemetry/api)',
      { cause: error },
    );
  }
}

/** What the scheduler tells its telemetry about itself. */
export interface TelemetrySource {
  readonly schedulerId: string;
  /** The scheduler's stores by alias, counted for the `tickwork.jobs` gauge. */
  readonly stores: ReadonlyMap<string, JobStore>;
}

/** One scheduler's spans and metrics; executors call `traceRun` around each run. */
export class RunTelemetry {
  readonly #api: OtelApi;
  readonly #tracer: Tracer;
  readonly #source: TelemetrySource;
  readonly #runs: Counter;
  readonly #missed: Counter;
  readonly #abandoned: Counter;
  readonly #storeErrors: Counter;
  readonly #lateness: Histogram;
  readonly #duration: Histogram;
  readonly #jobs: ObservableGauge;
  readonly #observeJobs = async (result: ObservableResult): Promise<void> => {
    for (const [alias, store] of this.#source.stores) {
      try {
        const count =
          store.countJobs !== undefined ? await store.countJobs() : (await store.getAllJobs()).length;
        result.observe(count, { 'tickwork.jobstore': alias });
      } catch {
        this.storeError(alias);
      }
    }
  };

  private constructor(api: OtelApi, options: TelemetryOptions, source: TelemetrySource) {
    this.#api = api;
    this.#source = source;
    const tracerProvider = options.tracerProvider ?? api.trace.getTracerProvider();
    const meterProvider = options.meterProvider ?? api.metrics.getMeterProvider();
    this.#tracer = tracerProvider.getTracer(INSTRUMENTATION_NAME) as Tracer;
    const meter = meterProvider.getMeter(INSTRUMENTATION_NAME) as Meter;
    this.#runs = meter.createCounter('tickwork.runs', {
      description: 'Job runs that ended, by outcome',
      unit: '{run}',
    });
    this.#missed = meter.createCounter('tickwork.runs.missed', {
      description: 'Runs not started because they were later than their misfire grace time',
      unit: '{run}',
    });
    this.#abandoned = meter.createCounter('tickwork.runs.abandoned', {
      description: 'Runs claimed by a scheduler that stopped before finishing them',
      unit: '{run}',
    });
    this.#storeErrors = meter.createCounter('tickwork.store.errors', {
      description: 'Job store operations of the run loop that failed',
      unit: '{error}',
    });
    this.#lateness = meter.createHistogram('tickwork.run.lateness', {
      description: 'How late a run started after its scheduled run time',
      unit: 'ms',
    });
    this.#duration = meter.createHistogram('tickwork.run.duration', {
      description: 'How long a run took',
      unit: 'ms',
    });
    this.#jobs = meter.createObservableGauge('tickwork.jobs', {
      description: 'Jobs in each job store',
      unit: '{job}',
    });
  }

  /** Loads `@opentelemetry/api` and makes the instruments. */
  static async create(options: TelemetryOptions, source: TelemetrySource): Promise<RunTelemetry> {
    return new RunTelemetry(await loadApi(), options, source);
  }

  /** Starts observing the stores (while the scheduler runs). */
  open(): void {
    this.#jobs.addCallback(this.#observeJobs);
  }

  /** Stops observing the stores. */
  close(): void {
    this.#jobs.removeCallback(this.#observeJobs);
  }

  /** Counts a run that was missed. */
  runMissed(jobstore: string): void {
    this.#missed.add(1, { 'tickwork.jobstore': jobstore });
  }

  /** Counts a `job_error` event: abandoned runs have their own counter. */
  jobError(jobstore: string, error: unknown): void {
    if (error instanceof JobAbandonedError) this.#abandoned.add(1, { 'tickwork.jobstore': jobstore });
  }

  /** Counts a failed store operation of the run loop. */
  storeError(jobstore: string): void {
    this.#storeErrors.add(1, { 'tickwork.jobstore': jobstore });
  }

  /**
   * Runs `invoke` (one run of `job`) inside a new root span `tickwork.run`, so spans the job makes
   * are its children. The span ends when the run settles, or when its signal aborts (timeout or
   * shutdown) if that comes first. Returns what `invoke` returns (a promise for a thenable).
   */
  traceRun(job: Job, runTime: Date, run: RunContext, invoke: () => unknown): unknown {
    const api = this.#api;
    const start = clock.now();
    const lateness = start - runTime.getTime();
    const span = this.#tracer.startSpan('tickwork.run', {
      root: true,
      startTime: start,
      attributes: {
        'tickwork.job.id': job.id,
        'tickwork.job.name': job.name,
        'tickwork.job.trigger': describeTrigger(job.trigger),
        'tickwork.run.scheduled_time': runTime.toISOString(),
        'tickwork.run.lateness_ms': lateness,
        'tickwork.run.attempt': 1,
        'tickwork.scheduler.id': this.#source.schedulerId,
        'tickwork.jobstore': job.jobstore,
        'tickwork.executor': job.executor,
      },
    });
    this.#lateness.record(lateness, { 'tickwork.jobstore': job.jobstore });
    let ended = false;
    const end = (ok: boolean, error?: unknown): void => {
      if (ended) return;
      ended = true;
      const now = clock.now();
      let outcome: RunOutcome = ok ? 'success' : 'error';
      if (run.aborted) {
        error = run.abortReason;
        outcome = error instanceof JobTimeoutError ? 'timeout' : 'aborted';
      }
      span.setAttribute('tickwork.run.outcome', outcome);
      if (outcome !== 'success') {
        span.recordException(error instanceof Error ? error : String(error), now);
        span.setStatus({
          code: api.SpanStatusCode.ERROR,
          message: error instanceof Error ? error.message : String(error),
        });
      }
      span.end(now);
      const attributes = { 'tickwork.jobstore': job.jobstore, 'tickwork.run.outcome': outcome };
      this.#runs.add(1, attributes);
      this.#duration.record(now - start, attributes);
    };
    let result: unknown;
    try {
      result = api.context.with(api.trace.setSpan(api.ROOT_CONTEXT, span), invoke);
    } catch (error) {
      end(false, error);
      throw error;
    }
    if (
      result === null ||
      typeof result !== 'object' ||
      typeof (result as Promise<unknown>).then !== 'function'
    ) {
      end(true);
      return result;
    }
    run.onAbort(() => end(false));
    return Promise.resolve(result).then(
      (value) => {
        run.onAbort(null);
        end(true);
        return value;
      },
      (error: unknown) => {
        run.onAbort(null);
        end(false, error);
        throw error;
      },
    );
  }
}
