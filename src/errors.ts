/** Base class of every error tickwork throws on purpose. */
export class TickworkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A job with this id already exists in the target store. */
export class ConflictingIdError extends TickworkError {
  /** The id that clashed. */
  readonly jobId: string;
  constructor(jobId: string) {
    super(`Job identifier (${JSON.stringify(jobId)}) conflicts with an existing job`);
    this.jobId = jobId;
  }
}

/** No job with this id exists (in the given store, or in any). */
export class JobLookupError extends TickworkError {
  /** The id that was looked up. */
  readonly jobId: string;
  constructor(jobId: string, jobstore?: string) {
    super(
      jobstore === undefined
        ? `No job by the id of ${JSON.stringify(jobId)} was found`
        : `No job by the id of ${JSON.stringify(jobId)} was found in job store ${JSON.stringify(jobstore)}`,
    );
    this.jobId = jobId;
  }
}

/** `runJob` was asked to run a paused job: resume it first (a paused job does not run). */
export class JobPausedError extends TickworkError {
  /** The paused job's id. */
  readonly jobId: string;
  constructor(jobId: string) {
    super(`Job ${JSON.stringify(jobId)} is paused: resume it before running it`);
    this.jobId = jobId;
  }
}

/** A run was refused because the job already has `maxInstances` runs going. */
export class MaxInstancesReachedError extends TickworkError {
  /** The job whose limit was reached. */
  readonly jobId: string;
  constructor(jobId: string, maxInstances: number) {
    super(
      `Job ${JSON.stringify(jobId)} has already reached its maximum number of instances (${maxInstances})`,
    );
    this.jobId = jobId;
  }
}

/** `start()` was called on a scheduler that is already running. */
export class SchedulerAlreadyRunningError extends TickworkError {
  constructor() {
    super('Scheduler is already running');
  }
}

/** An operation that needs a running scheduler was called on a stopped one. */
export class SchedulerNotRunningError extends TickworkError {
  constructor() {
    super('Scheduler is not running');
  }
}

/** A job (its arguments, task or trigger) cannot be stored in a persistent job store. */
export class SerializationError extends TickworkError {
  /** Where in the job the problem is, such as `args[1].conn`. */
  readonly path: string;
  constructor(path: string, reason: string) {
    super(`Cannot store ${path}: ${reason}`);
    this.path = path;
  }
}

/** A task reference could not be resolved to a function. */
export class TaskLookupError extends TickworkError {
  /** The reference that failed. */
  readonly ref: string;
  constructor(ref: string, reason: string, options?: { cause?: unknown }) {
    super(`Cannot resolve task ${JSON.stringify(ref)}: ${reason}`, options);
    this.ref = ref;
  }
}

/** A run took longer than the job's `timeout` and was aborted. */
export class JobTimeoutError extends TickworkError {
  /** The job that timed out. */
  readonly jobId: string;
  /** The timeout, in seconds. */
  readonly timeout: number;
  constructor(jobId: string, timeout: number) {
    super(`Job ${JSON.stringify(jobId)} timed out after ${timeout} s`);
    this.jobId = jobId;
    this.timeout = timeout;
  }
}

/**
 * A run was claimed by a scheduler that stopped (crashed, or lost its store) before finishing it.
 * It is not run again, since it may have done part of its work; another scheduler sharing the
 * store reports it once its lease expires.
 */
export class JobAbandonedError extends TickworkError {
  /** The job whose run was abandoned. */
  readonly jobId: string;
  /** The scheduler that had claimed the run. */
  readonly schedulerId: string;
  constructor(jobId: string, schedulerId: string) {
    super(
      `The run of job ${JSON.stringify(jobId)} claimed by scheduler ${JSON.stringify(schedulerId)} was not finished before its lease expired`,
    );
    this.jobId = jobId;
    this.schedulerId = schedulerId;
  }
}

/**
 * The reason a run's `AbortSignal` is aborted when its scheduler or executor shuts down without
 * waiting for it (`shutdown({ wait: false })`, or a shutdown `timeout` or `signal`). Its `name` is
 * `'AbortError'`, as for other aborts, so code that tells an abort by its name keeps working.
 */
export class ShutdownAbortError extends TickworkError {
  constructor() {
    super('The executor shut down without waiting for this run');
    this.name = 'AbortError';
  }
}

/** A store's database driver, an optional peer dependency, is not installed or cannot run here. */
export class DriverMissingError extends TickworkError {
  /** The store that needs it, such as `PostgresJobStore`. */
  readonly store: string;
  /** The driver: the package to install, or a built-in module such as `node:sqlite`. */
  readonly driver: string;
  /**
   * Without `reason`, the driver is a package that is not installed, and the message says how to
   * install it; with it, the message says why the driver cannot run here.
   */
  constructor(store: string, driver: string, options?: { reason?: string; cause?: unknown }) {
    super(
      options?.reason === undefined
        ? `${store} needs the "${driver}" package, which is not installed: npm install ${driver}`
        : `${store}: the "${driver}" driver ${options.reason}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.store = store;
    this.driver = driver;
  }
}

/**
 * A store holds a schema newer than this version of tickwork knows (a newer version wrote it):
 * tickwork refuses it rather than misread it. Upgrade tickwork, or use another table or key prefix.
 */
export class SchemaVersionError extends TickworkError {
  /** The schema version found in the store. */
  readonly found: number;
  /** The newest schema version this code knows. */
  readonly supported: number;
  constructor(message: string, found: number, supported: number) {
    super(message);
    this.found = found;
    this.supported = supported;
  }
}

/**
 * A worker thread of `WorkerThreadExecutor` crashed (an uncaught error outside the job function,
 * or running out of memory) or exited while running a job; the run fails with this error.
 */
export class WorkerCrashedError extends TickworkError {
  /** The job whose run the worker was carrying out. */
  readonly jobId: string;
  /** The worker's exit code. When it crashed with an uncaught error, that error is the `cause`. */
  readonly exitCode: number;
  constructor(message: string, jobId: string, exitCode: number, options?: { cause?: unknown }) {
    super(message, options);
    this.jobId = jobId;
    this.exitCode = exitCode;
  }
}
