/**
 * Jobs that survive a restart: a SQLite file holds them (no server needed). Run it, stop it with
 * Ctrl-C, run it again: the jobs from the first run are still there, with their next run times,
 * and the counter job goes on where it stopped.
 *
 *   npm run example:persistent
 *
 * Jobs in a persistent store name their function: registerTask gives it a name that every
 * process registering the same task understands.
 */
import { BackgroundScheduler, registerTask, SqliteJobStore } from '../src/index.js';

const path = process.env.TICKWORK_EXAMPLE_DB ?? 'tickwork-example.sqlite';

registerTask('greet', (name: string) => console.log(`${new Date().toISOString()}  hello, ${name}`));
registerTask('nightly-report', () => console.log('nightly report'));

const scheduler = new BackgroundScheduler({
  timezone: 'UTC',
  jobstores: { default: new SqliteJobStore({ path }) },
});
scheduler.on('job_error', (e) => console.error(e.jobId, e.error));
scheduler.on('job_missed', (e) => console.log(`missed ${e.jobId} at ${e.scheduledRunTime.toISOString()}`));
await scheduler.start({ paused: true });

const existing = await scheduler.getJobs();
if (existing.length > 0) {
  console.log(`${path} holds ${existing.length} jobs from an earlier run:`);
} else {
  console.log(`${path} is new: adding the jobs.`);
  await scheduler.addJob('greet', 'interval', { seconds: 3, args: ['world'], id: 'greeting' });
  await scheduler.addJob('nightly-report', 'cron', { hour: 2, minute: 30, id: 'nightly' });
}
await scheduler.printJobs();
scheduler.resume();
console.log('Running; press Ctrl-C to stop, then run again.');

process.once('SIGINT', () => {
  scheduler.shutdown().then(
    () => console.log('\nStopped; the jobs stay in the file.'),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
});
