/**
 * A provider whose methods are jobs. Each is stored under the task reference
 * `ReportsService.<method>`, so any replica that has this provider can run it.
 */
import { Injectable } from '@nestjs/common';
import type { BackgroundScheduler } from '../../src/index.js';
import { Cron, InjectScheduler, Interval, Timeout } from '../../src/nestjs/index.js';

@Injectable()
export class ReportsService {
  constructor(@InjectScheduler() private readonly scheduler: BackgroundScheduler) {}

  /**
   * Every weekday at 09:00 in Berlin: once per cluster, whichever replica claims it. A failed run
   * is tried up to 3 more times: 30 s after the first failure, then 60 s, then 120 s.
   */
  @Cron('0 9 * * 1-5', {
    timezone: 'Europe/Berlin',
    misfireGraceTime: 300,
    retry: { attempts: 3, delay: 30 },
  })
  async dailyReport(): Promise<void> {
    console.log(`${new Date().toISOString()}  daily report`);
  }

  /** Every 3 seconds, so the example shows jobs firing. */
  @Interval({ seconds: 3 })
  heartbeat(): void {
    console.log(`${new Date().toISOString()}  heartbeat`);
  }

  /** Once, 1 second after start-up: lists the jobs. */
  @Timeout({ seconds: 1 })
  async listJobs(): Promise<void> {
    await this.scheduler.printJobs();
  }
}
