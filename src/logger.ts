import { format } from 'node:util';

/**
 * What tickwork logs through. Every call is `logger.level({ err, ...context }, message)`, pino's
 * order, which pino, bunyan-style loggers and `console` all print whole.
 */
export interface Logger {
  /** Logs at debug level. */
  debug(...args: unknown[]): void;
  /** Logs at info level. */
  info(...args: unknown[]): void;
  /** Logs a warning. */
  warn(...args: unknown[]): void;
  /** Logs an error. */
  error(...args: unknown[]): void;
}

/** What tickwork passes as a log call's first argument: the error, if any, and what it concerns. */
export interface LogContext {
  /** The error being reported. */
  err?: unknown;
  /** Anything else that locates the message (job id, job store alias...). */
  [key: string]: unknown;
}

const noop = () => {};

/** The logger of `logger: false`: says nothing. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

/** How the default logger shows an error: its stack (and its causes'), or what it is. */
function describeError(err: unknown, depth = 0): string {
  if (!(err instanceof Error)) return format('%O', err);
  let text = err.stack ?? `${err.name}: ${err.message}`;
  if (err.cause !== undefined && depth < 5) text += `\nCaused by: ${describeError(err.cause, depth + 1)}`;
  return text;
}

function writeToStderr(level: string, args: unknown[]): void {
  let context: LogContext = {};
  let rest = args;
  if (typeof args[0] === 'object' && args[0] !== null && !(args[0] instanceof Error)) {
    context = args[0] as LogContext;
    rest = args.slice(1);
  }
  const { err, ...fields } = context;
  let line = `tickwork ${level}: ${format(...rest)}`;
  const keys = Object.keys(fields);
  if (keys.length > 0) line += ` ${keys.map((k) => `${k}=${format('%j', fields[k])}`).join(' ')}`;
  if (err !== undefined) line += `\n${describeError(err)}`;
  process.stderr.write(`${line}\n`);
}

/**
 * The default logger, like Python logging's last resort: warnings and errors (with stacks) go to
 * stderr, debug and info say nothing. `logger: false` or a logger of one's own replaces it.
 */
export const stderrLogger: Logger = {
  debug: noop,
  info: noop,
  warn: (...args: unknown[]) => writeToStderr('warning', args),
  error: (...args: unknown[]) => writeToStderr('error', args),
};
