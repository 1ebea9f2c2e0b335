/**
 * The messages WorkerThreadExecutor and its worker threads exchange, and how thrown values cross
 * the thread boundary. Structured clone keeps only the built-in error types and drops own
 * properties, so errors travel as plain data and are rebuilt with their class on the other side.
 */
import {
  ConflictingIdError,
  JobLookupError,
  JobTimeoutError,
  MaxInstancesReachedError,
  SchedulerAlreadyRunningError,
  SchedulerNotRunningError,
  SerializationError,
  TaskLookupError,
  TickworkError,
} from '../errors.js';

/** What the worker is started with (its `workerData`). */
export interface WorkerInit {
  /** Modules the worker imports before its first run, so their `registerTask` calls run there. */
  preload: string[];
}

/** An error as data: its class name, message, stack, own properties and cause. */
export interface SerializedError {
  name: string;
  message: string;
  stack: string | undefined;
  /** Own enumerable properties that survived structured clone (`code`, `jobId`, ...). */
  props: Record<string, unknown>;
  cause?: SerializedThrown;
}

/** A thrown value: an error as data, or any other cloneable value as it was. */
export type SerializedThrown = { error: SerializedError } | { value: unknown };

/** Main thread to worker: run a task. */
export interface RunMessage {
  type: 'run';
  runId: number;
  taskRef: string;
  args: unknown[];
  jobId: string;
  /** Epoch milliseconds. */
  scheduledRunTime: number;
  /** 1 for the fire time itself, k + 1 for its k-th retry. */
  attempt: number;
  /** Only resolve the task reference (after the preload) and report `done`, without running it. */
  resolveOnly?: boolean;
}

/** Main thread to worker: abort the signal of a run. */
export interface AbortMessage {
  type: 'abort';
  runId: number;
  reason: SerializedThrown;
}

/** Any message to a worker. */
export type ToWorkerMessage = RunMessage | AbortMessage;

/** Worker to main thread: how a run ended. */
export type RunOutcomeMessage =
  | { type: 'done'; runId: number; value: unknown }
  | { type: 'failed'; runId: number; thrown: SerializedThrown };

const MAX_CAUSE_DEPTH = 5;
const OWN_FIELDS = new Set(['name', 'message', 'stack', 'cause']);

// Classes rebuilt by name on the receiving side; others arrive as Error with their name kept.
const ERROR_CLASSES: Record<string, { prototype: Error }> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  AggregateError,
  TickworkError,
  ConflictingIdError,
  JobLookupError,
  JobTimeoutError,
  MaxInstancesReachedError,
  SchedulerAlreadyRunningError,
  SchedulerNotRunningError,
  SerializationError,
  TaskLookupError,
};

function isCloneable(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

function serializeAt(thrown: unknown, depth: number): SerializedThrown {
  if (!(thrown instanceof Error)) {
    return isCloneable(thrown) ? { value: thrown } : { value: String(thrown) };
  }
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(thrown)) {
    if (OWN_FIELDS.has(key)) continue;
    const value = (thrown as unknown as Record<string, unknown>)[key];
    if (isCloneable(value)) props[key] = value;
  }
  const error: SerializedError = {
    name: typeof thrown.name === 'string' ? thrown.name : 'Error',
    message: String(thrown.message),
    stack: typeof thrown.stack === 'string' ? thrown.stack : undefined,
    props,
  };
  if (thrown.cause !== undefined && depth < MAX_CAUSE_DEPTH) {
    error.cause = serializeAt(thrown.cause, depth + 1);
  }
  return { error };
}

/** Turns anything thrown into data that `postMessage` can carry. */
export function serializeThrown(thrown: unknown): SerializedThrown {
  return serializeAt(thrown, 0);
}

/**
 * Rebuilds a thrown value. Errors get the class of their name when it is a built-in or a
 * tickwork error (so `instanceof JobTimeoutError` holds), with the worker's stack.
 */
export function deserializeThrown(data: SerializedThrown): unknown {
  if (!('error' in data)) return data.value;
  const { name, message, stack, props, cause } = data.error;
  const error = new Error(message);
  const errorClass = Object.hasOwn(ERROR_CLASSES, name) ? ERROR_CLASSES[name] : undefined;
  if (errorClass !== undefined && errorClass !== Error) Object.setPrototypeOf(error, errorClass.prototype);
  if (error.name !== name) {
    Object.defineProperty(error, 'name', { value: name, writable: true, configurable: true });
  }
  Object.defineProperty(error, 'stack', {
    value: stack ?? `${name}: ${message}`,
    writable: true,
    configurable: true,
  });
  if (cause !== undefined) {
    Object.defineProperty(error, 'cause', {
      value: deserializeThrown(cause),
      writable: true,
      configurable: true,
    });
  }
  Object.assign(error, props);
  return error;
}

/**
 * Finds the first argument that structured clone refuses. Returns its path (`args[1]`) and the
 * reason, or `null` when every argument can be sent to a worker.
 */
export function findUncloneableArg(args: readonly unknown[]): { path: string; reason: string } | null {
  for (let i = 0; i < args.length; i++) {
    try {
      structuredClone(args[i]);
    } catch (error) {
      return { path: `args[${i}]`, reason: error instanceof Error ? error.message : String(error) };
    }
  }
  return null;
}
