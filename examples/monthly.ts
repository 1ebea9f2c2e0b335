/**
 * The seed example: a BackgroundScheduler in UTC with a job on the first of each month at 09:00,
 * and a heartbeat every 2 seconds so you can watch jobs fire. Ctrl-C shuts it down cleanly.
 *
 *   npm run example
 */
import { BackgroundScheduler } from '../src/index.js';

async function myMonthlyTask(): Promise<void> {
  console.log('Monthly report: first of the month, 09:00 UTC');
}

let beats = 0;
function heartbeat(label: string): void {
  beats++;
  console.log(`${new Date().toISOString()}  ${label} #${beats}`);
}

const scheduler = new BackgroundScheduler({ timezone: 'UTC' });
await scheduler.addJob(myMonthlyTask, 'cron', { day: 1, hour: 9, minute: 0, id: 'monthly-report' });
await scheduler.addJob(heartbeat, 'interval', { seconds: 2, args: ['heartbeat'], id: 'heartbeat' });
scheduler.on('job_error', (e) => console.error(e.jobId, e.error));
await scheduler.start();
await scheduler.printJobs();
console.log('Running; press Ctrl-C to stop.');

process.once('SIGINT', () => {
  console.log('\nShutting down...');
  scheduler.shutdown().then(
    () => console.log(`Stopped after ${beats} heartbeats.`),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
});
