/**
 * The dashboard in a real browser (headless Chromium driven by playwright-core): 200 jobs in a
 * SQLite store, a filter that survives the page's own refresh, pausing a job from the table, the
 * job page with its next runs in the job's zone and the viewer's, remove with a confirmation,
 * names that would be markup shown as text, "run now" with the run appearing in the job's
 * history, the runs page with failures first, and a browser reaching it from a non-loopback
 * address refused. Screenshots go to docs/ when DASHBOARD_SCREENSHOTS=1.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackgroundScheduler, createDashboard, registerTask, SqliteJobStore } from '../../src/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const JOBS = 200;

let browser: Browser;
let server: Server;
let scheduler: BackgroundScheduler;
let url: string;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tickwork-dashboard-'));
  registerTask('dashboard.report', () => undefined);
  registerTask('dashboard.fail', () => {
    throw new RangeError('the <b>ledger</b> does not balance');
  });
  scheduler = new BackgroundScheduler({
    timezone: 'UTC',
    daemon: true,
    // The ledger job fails on purpose; the page, not the log, is under test.
    logger: false,
    jobstores: { default: new SqliteJobStore({ path: join(dir, 'jobs.db') }) },
  });
  await scheduler.start();
  for (let i = 0; i < JOBS; i++) {
    const zone = ['UTC', 'America/New_York', 'Europe/Berlin', 'Asia/Tokyo'][i % 4];
    await scheduler.addJob('dashboard.report', 'cron', {
      id: `report-${String(i).padStart(3, '0')}`,
      name:
        i === 7 ? '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">' : `Report ${i}`,
      hour: i % 24,
      minute: (i * 7) % 60,
      timezone: zone,
      args: [{ team: i % 2 === 0 ? 'sales' : 'ops' }],
    });
  }
  await scheduler.addJob('dashboard.fail', 'cron', { id: 'ledger', name: 'Ledger check', hour: 3 });
  server = createServer(createDashboard(scheduler, { basePath: '/tickwork/' }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/tickwork/`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await scheduler?.shutdown({ wait: false });
  await rm(dir, { recursive: true, force: true });
});

describe('dashboard in Chromium', () => {
  it('lists, filters, pauses and removes jobs, and shows a job page', async () => {
    const page = await browser.newPage({
      viewport: { width: 1200, height: 900 },
      timezoneId: 'Europe/Paris',
    });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(url);
    await page.locator('#jobs tbody tr').nth(JOBS).waitFor();
    expect(await page.locator('#jobs tbody tr').count()).toBe(JOBS + 1);
    expect(await page.locator('#count').textContent()).toBe(`${JOBS + 1} of ${JOBS + 1} jobs`);

    // Markup in a name is text: nothing ran, and the name reads as written.
    const hostile = page.locator('tr[data-job-id="report-007"] td').nth(1);
    expect(await hostile.textContent()).toBe(
      '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">',
    );
    expect(await page.evaluate(() => (globalThis as { pwned?: number }).pwned)).toBeUndefined();

    if (process.env.DASHBOARD_SCREENSHOTS === '1') {
      await page.screenshot({ path: join(ROOT, 'docs', 'dashboard-jobs.png') });
    }

    // The filter narrows the table and survives the 2 s refresh.
    await page.fill('#filter', 'report-01');
    await expect.poll(() => page.locator('#jobs tbody tr').count()).toBe(10);
    await page.waitForTimeout(2_500);
    expect(await page.locator('#jobs tbody tr').count()).toBe(10);
    expect(await page.inputValue('#filter')).toBe('report-01');

    // Pause from the table: the store has it paused, and the row says so.
    await page.click('tr[data-job-id="report-012"] button[data-action="pause"]');
    await expect
      .poll(async () => {
        const job = await scheduler.getJob('report-012');
        return job === null ? 'missing' : job.nextRunTime;
      })
      .toBeNull();
    await page.locator('tr[data-job-id="report-012"] .badge.paused').waitFor();
    await page.selectOption('#show', 'paused');
    await expect.poll(() => page.locator('#jobs tbody tr').count()).toBe(1);
    await page.selectOption('#show', 'all');

    // The job page: the trigger in English, the next 10 runs in the job's zone and the viewer's.
    await page.click('a[href="#/job/report-013"]');
    await page.locator('#next-runs li').nth(9).waitFor();
    const job = await scheduler.getJob('report-013');
    expect(await page.locator('dd').nth(1).textContent()).toBe(`at 13:31 every day (America/New_York)`);
    const first = await page.locator('#next-runs li').first().textContent();
    expect(first).toContain('America/New_York');
    expect(first).toContain('Europe/Paris');
    expect(job?.nextRunTime).not.toBeNull();

    // Remove asks first; dismissing keeps the job, accepting removes it.
    page.once('dialog', (d) => d.dismiss());
    await page.click('button[data-action="remove"]');
    await page.waitForTimeout(300);
    expect(await scheduler.getJob('report-013')).not.toBeNull();
    page.once('dialog', (d) => d.accept());
    await page.click('button[data-action="remove"]');
    await expect.poll(() => scheduler.getJob('report-013')).toBeNull();
    await page.waitForURL(/#\/$/);

    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('runs a job now and shows the run in its history, the jobs table and the runs page', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 }, timezoneId: 'Asia/Tokyo' });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });

    // A job that succeeds: run now from its page; the run appears in its recent runs.
    await page.goto(`${url}#/job/report-020`);
    await page.locator('#no-runs').waitFor();
    await page.click('button[data-action="run"]');
    await page.locator('#runs tbody tr[data-outcome="success"]').waitFor();
    const history = await scheduler.getRuns({ jobId: 'report-020' });
    expect(history.map((r) => [r.outcome, r.attempt])).toEqual([['success', 1]]);
    expect(await page.locator('#runs tbody tr td').nth(2).textContent()).toBe('1');

    // A job that fails: its error shows as text, with its stack, which stays open across refreshes.
    await page.goto(`${url}#/job/ledger`);
    await page.locator('#no-runs').waitFor();
    await page.click('button[data-action="run"]');
    const summary = page.locator('#runs tbody tr[data-outcome="error"] summary');
    await summary.waitFor();
    expect(await summary.textContent()).toBe('RangeError: the <b>ledger</b> does not balance');
    await summary.click();
    await page.waitForTimeout(2_500);
    expect(await page.locator('#runs details[open] pre').textContent()).toContain('does not balance');
    if (process.env.DASHBOARD_SCREENSHOTS === '1') {
      await page.screenshot({ path: join(ROOT, 'docs', 'dashboard-job.png'), fullPage: true });
    }

    // The jobs table shows each job's last outcome.
    await page.goto(url);
    await page.locator('tr[data-job-id="ledger"] .last-run .badge.error').waitFor();
    await page.locator('tr[data-job-id="report-020"] .last-run .badge.success').waitFor();

    // The runs page: failures first; the outcome filter survives the refresh.
    await page.click('#nav-runs');
    await page.locator('#runs tbody tr').nth(1).waitFor();
    const outcomes = await page
      .locator('#runs tbody tr')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-outcome')));
    expect(outcomes[0]).toBe('error');
    expect(outcomes.slice(outcomes.indexOf('success')).every((o) => o === 'success')).toBe(true);
    if (process.env.DASHBOARD_SCREENSHOTS === '1') {
      await page.screenshot({ path: join(ROOT, 'docs', 'dashboard-runs.png') });
    }
    await page.selectOption('#outcome', 'success');
    await expect.poll(() => page.locator('#runs tbody tr[data-outcome="error"]').count()).toBe(0);
    await page.waitForTimeout(2_500);
    expect(await page.inputValue('#outcome')).toBe('success');
    expect(await page.locator('#runs tbody tr[data-outcome="error"]').count()).toBe(0);
    expect(await page.locator('#runs tbody tr[data-outcome="success"]').count()).toBeGreaterThan(0);

    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('is refused to a browser that reaches it from a non-loopback address, without authorize', async () => {
    // The machine's own LAN address: the request reaches the server from it, not from loopback.
    const address = Object.values(networkInterfaces())
      .flat()
      .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal)?.address;
    if (address === undefined) throw new Error('This test needs a non-loopback IPv4 address on this machine');
    const outside = createServer(createDashboard(scheduler, { basePath: '/tickwork/' }));
    await new Promise<void>((resolve) => outside.listen(0, address, resolve));
    try {
      const page = await browser.newPage();
      const port = (outside.address() as AddressInfo).port;
      const response = await page.goto(`http://${address}:${port}/tickwork/`);
      expect(response?.status()).toBe(403);
      expect(await response?.json()).toEqual({
        error: {
          code: 'forbidden',
          message: 'The dashboard serves loopback addresses only; pass an authorize option to serve others',
        },
      });
      const api = await page.goto(`http://${address}:${port}/tickwork/api/jobs`);
      expect(api?.status()).toBe(403);
      await page.close();
    } finally {
      await new Promise<void>((resolve) => outside.close(() => resolve()));
    }
  }, 60_000);
});
