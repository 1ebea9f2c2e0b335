/** The table `printJobs` prints. */
import type { Job } from '../job.js';
import { getZone } from '../time/zone.js';
import { formatInstant } from '../triggers/format.js';

/** Formats sections of jobs as aligned tables: id, name, trigger, next run. */
export function formatJobTable(sections: Array<{ title: string; jobs: Job[] }>, timezone: string): string {
  const zone = getZone(timezone);
  const lines: string[] = [];
  for (const { title, jobs } of sections) {
    lines.push(`${title}:`);
    if (jobs.length === 0) {
      lines.push('    No scheduled jobs');
      continue;
    }
    const rows = jobs.map((job) => [
      job.id,
      job.name,
      job.trigger.toString(),
      job.pending && job.nextRunTime === null
        ? 'pending'
        : job.nextRunTime === null
          ? 'paused'
          : formatInstant(job.nextRunTime.getTime(), zone),
    ]);
    const header = ['id', 'name', 'trigger', 'next run'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const format = (cells: string[]) =>
      `    ${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ')}`;
    lines.push(format(header));
    for (const row of rows) lines.push(format(row));
  }
  return `${lines.join('\n')}\n`;
}
