/**
 * BlockingScheduler: for a program whose only work is the scheduler.
 */
import { Scheduler } from './base.js';
import type { ShutdownOptions } from './options.js';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** The exit code of a process ended by a signal: 128 + its number. */
const EXIT_CODES: Record<(typeof SIGNALS)[number], number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * `start()` resolves only when the scheduler has shut down. SIGINT and SIGTERM shut it down
 * gracefully (waiting for running jobs); a second one while it waits forces it: running jobs are
 * aborted through their signal and the process exits with 130 (SIGINT) or 143 (SIGTERM).
 */
export class BlockingScheduler extends Scheduler {
  #stopped: (() => void) | null = null;
  #onSignal: ((signal: NodeJS.Signals) => void) | null = null;

  /** Runs until `shutdown()` or SIGINT/SIGTERM. */
  override async start(options: { paused?: boolean } = {}): Promise<void> {
    await super.start(options);
    // Shut down already (by a scheduler_started listener): nothing to wait for.
    if (!this.running) return;
    const stopped = new Promise<void>((resolve) => {
      this.#stopped = resolve;
    });
    let shuttingDown = false;
    this.#onSignal = (signal) => {
      if (shuttingDown) {
        // Ctrl-C again: a job that hangs must not keep the process alive.
        this.logger.warn({ signal }, `Received ${signal} again: aborting running jobs and exiting`);
        const code = EXIT_CODES[signal as (typeof SIGNALS)[number]] ?? 1;
        this.abortRunningJobs().finally(() => process.exit(code));
        return;
      }
      this.logger.info({ signal }, `Received ${signal}: shutting down`);
      if (this.running) {
        shuttingDown = true;
        this.shutdown({ wait: true }).catch((error: unknown) =>
          this.logger.error({ err: error }, 'Shutdown failed'),
        );
      }
    };
    for (const signal of SIGNALS) process.on(signal, this.#onSignal);
    await stopped;
  }

  /** Stops the scheduler and lets `start()` resolve. */
  override async shutdown(options: ShutdownOptions = {}): Promise<number> {
    try {
      return await super.shutdown(options);
    } finally {
      if (this.#onSignal !== null) for (const signal of SIGNALS) process.off(signal, this.#onSignal);
      this.#onSignal = null;
      const stopped = this.#stopped;
      this.#stopped = null;
      stopped?.();
    }
  }
}
