// tickwork/nestjs on the Nest major installed beside it (the package check runs it on Nest 10):
// decorated provider methods become jobs under their task references, run on schedule, and the
// scheduler stops with the application. Plain JavaScript, so the decorators are applied by hand.
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MemoryJobStore } from 'tickwork';
import { Cron, InjectScheduler, Interval, TickworkModule } from 'tickwork/nestjs';

const calls = [];
class Jobs {
  constructor(scheduler) {
    this.scheduler = scheduler;
  }
  everySecond() {
    calls.push('cron');
  }
  poll() {
    calls.push('interval');
  }
}
const decorate = (decorator, name) =>
  Reflect.decorate([decorator], Jobs.prototype, name, Object.getOwnPropertyDescriptor(Jobs.prototype, name));
decorate(Cron('* * * * * *', { retry: { attempts: 1 } }), 'everySecond');
decorate(Interval({ seconds: 1 }), 'poll');
InjectScheduler()(Jobs, undefined, 0);
Injectable()(Jobs);
class AppModule {}
Module({
  imports: [TickworkModule.forRoot({ timezone: 'UTC', jobstores: { default: new MemoryJobStore() } })],
  providers: [Jobs],
})(AppModule);

const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
await app.init();
const jobs = app.get(Jobs);
const ids = (await jobs.scheduler.getJobs()).map((j) => j.id).sort();
await new Promise((resolve) => setTimeout(resolve, 2_500));
await app.close();
const require = createRequire(import.meta.url);
const nest = JSON.parse(readFileSync(require.resolve('@nestjs/core/package.json'), 'utf8')).version;
if (ids.join(',') !== 'Jobs.everySecond,Jobs.poll') throw new Error(`Nest ${nest}: jobs ${ids.join(',')}`);
if (!calls.includes('cron') || !calls.includes('interval'))
  throw new Error(`Nest ${nest}: runs ${calls.join(',')}`);
if (jobs.scheduler.running) throw new Error(`Nest ${nest}: the scheduler outlived the application`);
console.log(`nestjs on Nest ${nest} ok`);
