/**
 * BackgroundScheduler: runs beside the rest of the program.
 */
import { Scheduler } from './base.js';

/**
 * A scheduler for programs that do other work too: `start()` resolves once it runs. While
 * running it keeps the process alive, unless `daemon: true` (then its timers are unref'd).
 */
export class BackgroundScheduler extends Scheduler {
  protected override timersUnref(): boolean {
    return this.daemon;
  }
}
