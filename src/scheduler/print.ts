/** The table `printJobs` prints. */
import type { Job } from '../job.js';
import { getZone } from '../time/zone.js';
import { formatInstant } from '../triggers/format.js';

// Control characters (C0, DEL, C1), line and paragraph separators and bidirectional overrides:
// printed raw they would move the cursor, clear the screen or reorder the text of a terminal.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `text` with every control character written as an escape (`\n`, `\u001b`). */
export function escapeControl(text: string): string {
  return text.replace(UNSAFE, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Formats sections of jobs as aligned tables: id, name, trigger, next run. */
export function formatJobTable(sections: Array<{ title: string; jobs: Job[] }>, timezone: string): string {
  const zone = getZone(timezone);
  const lines: string[] = [];
  for (const { title, jobs } of sections) {
    lines.push(`${escapeControl(title)}:`);
    if (jobs.length === 0) {
      lines.push('    No scheduled jobs');
      continue;
    }
    const rows = jobs.map((job) => [
      escapeControl(job.id),
      escapeControl(job.name),
      escapeControl(job.trigger.toString()),
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
