/**
 * OpenTelemetry through the public API, with the SDK's in-memory span exporter and a metric
 * reader, on fake timers (span times and lateness come from tickwork's clock, so they are exact).
 */
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { CronTrigger, getJobContext, MemoryJobStore } from '../src/index.js';
import { at, FlakyStore, makeScheduler, SECOND, sleep, T0, useFakeTime } from './helpers/scheduler.js';

useFakeTime();

const spans = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
let reader: PeriodicExportingMetricReader;
let meterProvider: MeterProvider;
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});
afterAll(() => {
  context.disable();
});
beforeEach(() => {
  spans.reset();
  reader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 2 ** 31 - 1,
  });
  meterProvider = new MeterProvider({ readers: [reader] });
});

function telemetryScheduler(options: Parameters<typeof makeScheduler>[0] = {}) {
  return makeScheduler({ telemetry: { tracerProvider, meterProvider }, ...options });
}

/** The metrics collected now, by name. */
async function metrics(): Promise<Map<string, MetricData>> {
  const { resourceMetrics } = await reader.collect();
  const byName = new Map<string, MetricData>();
  for (const scope of resourceMetrics.scopeMetrics) {
    expect(scope.scope.name).toBe('tickwork');
    for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
  }
  return byName;
}

/**
 * A metric's data points as [attributes, value] (a histogram's value: [count, sum]), in a stable
 * order.
 */
function points(metric: MetricData | undefined): Array<[Record<string, unknown>, unknown]> {
  if (metric === undefined) return [];
  const list: Array<[Record<string, unknown>, unknown]> = metric.dataPoints.map((p) => [
    p.attributes,
    metric.dataPointType === DataPointType.HISTOGRAM
      ? [(p.value as { count: number }).count, (p.value as { sum: number }).sum]
      : p.value,
  ]);
  return list.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

describe('spans', () => {
  it('makes a root span per run with the run attributes; the job runs inside it', async () => {
    const scheduler = telemetryScheduler({ schedulerId: 'node-1' });
    const appTracer = tracerProvider.getTracer('app');
    let seenContext: unknown = null;
    await scheduler.addJob(
      async () => {
        seenContext = getJobContext()?.jobId;
        await sleep(250);
        appTracer.startSpan('inner').end();
        return 'done';
      },
      new CronTrigger({ second: '*/10', timezone: 'UTC' }),
      { id: 'report', name: 'Nightly report', misfireGraceTime: null },
    );
    // An ambient span at start time must not become the run's parent.
    await trace.getTracer('app').startActiveSpan('outside', async (outside) => {
      await scheduler.start({ paused: true });
      outside.end();
    });
    await vi.advanceTimersByTimeAsync(12 * SECOND); // due at T0 + 10 s, started 2 s late
    scheduler.resume();
    await vi.advanceTimersByTimeAsync(250);
    expect(seenContext).toBe('report');
    const finished = spans.getFinishedSpans();
    const run = finished.find((s) => s.name === 'tickwork.run');
    const inner = finished.find((s) => s.name === 'inner');
    expect(run?.parentSpanContext).toBeUndefined();
    expect(inner?.parentSpanContext?.spanId).toBe(run?.spanContext().spanId);
    expect(inner?.spanContext().traceId).toBe(run?.spanContext().traceId);
    expect(run?.instrumentationScope.name).toBe('tickwork');
    expect(run?.attributes).toEqual({
      'tickwork.job.id': 'report',
      'tickwork.job.name': 'Nightly report',
      'tickwork.job.trigger': String(new CronTrigger({ second: '*/10', timezone: 'UTC' })),
      'tickwork.run.scheduled_time': at(10 * SECOND).toISOString(),
      'tickwork.run.lateness_ms': 2000,
      'tickwork.run.attempt': 1,
      'tickwork.scheduler.id': 'node-1',
      'tickwork.jobstore': 'default',
      'tickwork.executor': 'default',
      'tickwork.run.outcome': 'success',
    });
    expect(run?.status.code).toBe(SpanStatusCode.UNSET);
    expect(run?.startTime).toEqual([T0.getTime() / 1000 + 12, 0]);
    expect(run?.endTime).toEqual([T0.getTime() / 1000 + 12, 250_000_000]);
  });

  it('records the error of a failed run, sync or async', async () => {
    const scheduler = telemetryScheduler();
    await scheduler.addJob(
      () => {
        throw new RangeError('sync failure');
      },
      'date',
      { id: 'sync' },
    );
    await scheduler.addJob(
      async () => {
        throw new TypeError('async failure');
      },
      'date',
      { id: 'async' },
    );
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(0);
    const runs = spans.getFinishedSpans().filter((s) => s.name === 'tickwork.run');
    expect(
      runs
        .map((s) => [
          s.attributes['tickwork.job.id'],
          s.attributes['tickwork.run.outcome'],
          s.status,
          s.events.map((e) => [
            e.name,
            e.attributes?.['exception.type'],
            e.attributes?.['exception.message'],
          ]),
        ])
        .sort(),
    ).toEqual([
      [
        'async',
        'error',
        { code: SpanStatusCode.ERROR, message: 'async failure' },
        [['exception', 'TypeError', 'async failure']],
      ],
      [
        'sync',
        'error',
        { code: SpanStatusCode.ERROR, message: 'sync failure' },
        [['exception', 'RangeError', 'sync failure']],
      ],
    ]);
  });

  it('ends the span at the timeout with outcome timeout, even when the job ignores its signal', async () => {
    const scheduler = telemetryScheduler();
    await scheduler.addJob(() => new Promise(() => {}), 'date', { id: 'stuck', timeout: 1.5 });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(2 * SECOND);
    const [run] = spans.getFinishedSpans();
    expect([run.attributes['tickwork.run.outcome'], run.status.code, run.status.message]).toEqual([
      'timeout',
      SpanStatusCode.ERROR,
      'Job "stuck" timed out after 1.5 s',
    ]);
    expect(run.duration).toEqual([1, 500_000_000]);
    expect(points((await metrics()).get('tickwork.runs'))).toEqual([
      [{ 'tickwork.jobstore': 'default', 'tickwork.run.outcome': 'timeout' }, 1],
    ]);
  });

  it('outcome aborted for runs cut short by shutdown', async () => {
    const scheduler = telemetryScheduler();
    await scheduler.addJob(() => new Promise(() => {}), 'date', { id: 'long' });
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(0);
    await expect(scheduler.shutdown({ wait: false })).resolves.toBe(1);
    expect(spans.getFinishedSpans().map((s) => s.attributes['tickwork.run.outcome'])).toEqual(['aborted']);
  });
});

describe('metrics', () => {
  it('counts runs by outcome, missed runs, store errors; lateness and duration; jobs per store', async () => {
    const flaky = new FlakyStore();
    const scheduler = telemetryScheduler({ jobstores: { default: new MemoryJobStore(), flaky } });
    await scheduler.addJob(async () => sleep(100), 'interval', { id: 'tick', seconds: 10 });
    await scheduler.addJob(
      () => {
        throw new Error('no');
      },
      'interval',
      { id: 'fails', seconds: 10 },
    );
    await scheduler.addJob(() => {}, 'date', { id: 'late', runDate: at(-5 * SECOND), misfireGraceTime: 1 });
    await scheduler.addJob(() => {}, 'interval', { id: 'elsewhere', hours: 1, jobstore: 'flaky' });
    flaky.failures = 1;
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(20 * SECOND + 100);
    const m = await metrics();
    expect(points(m.get('tickwork.runs'))).toEqual([
      [{ 'tickwork.jobstore': 'default', 'tickwork.run.outcome': 'error' }, 2],
      [{ 'tickwork.jobstore': 'default', 'tickwork.run.outcome': 'success' }, 2],
    ]);
    expect(points(m.get('tickwork.runs.missed'))).toEqual([[{ 'tickwork.jobstore': 'default' }, 1]]);
    expect(points(m.get('tickwork.store.errors'))).toEqual([[{ 'tickwork.jobstore': 'flaky' }, 1]]);
    expect(points(m.get('tickwork.run.lateness'))).toEqual([[{ 'tickwork.jobstore': 'default' }, [4, 0]]]);
    expect(points(m.get('tickwork.run.duration'))).toEqual([
      [{ 'tickwork.jobstore': 'default', 'tickwork.run.outcome': 'error' }, [2, 0]],
      [{ 'tickwork.jobstore': 'default', 'tickwork.run.outcome': 'success' }, [2, 200]],
    ]);
    expect(m.get('tickwork.run.duration')?.descriptor.unit).toBe('ms');
    // The date job ran (missed) and is gone: two jobs in default, one in flaky.
    expect(points(m.get('tickwork.jobs'))).toEqual([
      [{ 'tickwork.jobstore': 'default' }, 2],
      [{ 'tickwork.jobstore': 'flaky' }, 1],
    ]);
  });

  it('counts abandoned runs reported by a shared store', async () => {
    const scheduler = telemetryScheduler();
    await scheduler.start();
    await scheduler.reportAbandonedRuns('default', [
      { jobId: 'a', runTime: at(0), attempt: 1, schedulerId: 'gone-1' },
      { jobId: 'b', runTime: at(0), attempt: 1, schedulerId: 'gone-1' },
    ]);
    expect(points((await metrics()).get('tickwork.runs.abandoned'))).toEqual([
      [{ 'tickwork.jobstore': 'default' }, 2],
    ]);
  });
});

describe('off by default', () => {
  it('makes no span and no metric, and the scheduler has no telemetry', async () => {
    const scheduler = makeScheduler();
    await scheduler.addJob(() => {}, 'date');
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(scheduler.telemetry).toBeNull();
    expect(spans.getFinishedSpans()).toEqual([]);
    expect((await metrics()).size).toBe(0);
  });

  it('is off again after shutdown, and on for the next start', async () => {
    const scheduler = telemetryScheduler();
    await scheduler.start();
    expect(scheduler.telemetry).not.toBeNull();
    await scheduler.shutdown();
    expect(scheduler.telemetry).toBeNull();
    await scheduler.addJob(() => {}, 'date');
    await scheduler.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(spans.getFinishedSpans()).toHaveLength(1);
  });

  it('rejects a bad telemetry option with a TypeError naming it and the value', () => {
    expect(() => makeScheduler({ telemetry: 'yes' as never })).toThrow(
      new TypeError(
        'Expected telemetry to be a boolean or { tracerProvider?, meterProvider? }, got "yes" (string)',
      ),
    );
    expect(() => makeScheduler({ telemetry: { tracerProvider: {} } as never })).toThrow(TypeError);
  });
});
