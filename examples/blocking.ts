/**
 * A program whose only work is the scheduler: `start()` resolves when it has shut down, which
 * SIGINT (Ctrl-C) or SIGTERM do gracefully, after running jobs finish.
 *
 *   npx tsx examples/blocking.ts
 */
import { BlockingScheduler } from '../src/index.js';

const scheduler = new BlockingScheduler({ timezone: 'Europe/Berlin', logger: console });

scheduler.scheduledJob('cron', { dayOfWeek: 'mon-fri', hour: '9-17', minute: '*/15' })(
  function businessHours() {
    console.log('every 15 minutes in Berlin business hours');
  },
);

await scheduler.addJob(
  async function slowTick() {
    console.log('tick (takes one second)');
    await new Promise((resolve) => setTimeout(resolve, 1000));
  },
  'interval',
  { seconds: 3 },
);

console.log('Blocking until Ctrl-C...');
await scheduler.start();
console.log('Scheduler has shut down; the program ends here.');
