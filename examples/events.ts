/**
 * Listening to job events, by name and with APScheduler's bit masks. Runs for about 5 seconds.
 *
 *   npx tsx examples/events.ts
 */
import {
  BackgroundScheduler,
  EVENT_JOB_ERROR,
  EVENT_JOB_EXECUTED,
  EVENT_JOB_MISSED,
  type SchedulerEventAny,
} from '../src/index.js';

const scheduler = new BackgroundScheduler({ timezone: 'UTC' });

scheduler.on('job_executed', (e) =>
  console.log(`executed ${e.jobId} for ${e.scheduledRunTime.toISOString()}: ${e.retval}`),
);
scheduler.on('job_error', (e) => console.log(`failed ${e.jobId}: ${(e.error as Error).message}`));
scheduler.addListener(
  (e: SchedulerEventAny) => {
    console.log(`[mask listener] ${e.name} (code ${e.code})`);
  },
  EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED,
);

let n = 0;
await scheduler.addJob(() => ++n, 'interval', { seconds: 1, id: 'counter' });
await scheduler.addJob(
  () => {
    throw new Error('this job always fails');
  },
  'interval',
  { seconds: 2, id: 'failing' },
);
// A run time an hour ago is older than the 1 s misfire grace time: reported as job_missed.
await scheduler.addJob(() => 'late', 'date', { id: 'late', nextRunTime: new Date(Date.now() - 3_600_000) });

await scheduler.start();
setTimeout(() => {
  scheduler.shutdown().then(() => console.log('done'));
}, 5_000);
