/**
 * BlockingScheduler: for a program whose only work is the scheduler.
 */
import { Scheduler } from './base.js';
import type { ShutdownOptions } from './options.js';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * `start()` resolves only when the scheduler has shut down. SIGINT and SIGTERM shut it down
 * gracefully (waiting for running jobs).
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
    this.#onSignal = (signal) => {
      this.logger.info(`Received ${signal}: shutting down`);
      if (this.running) {
        this.shutdown({ wait: true }).catch((error: unknown) => this.logger.error('Shutdown failed', error));
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
