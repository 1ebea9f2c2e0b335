/** What tickwork logs through: pino, console and most loggers fit. */
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

const noop = () => {};

/** The default logger: says nothing. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };
