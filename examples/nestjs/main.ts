/**
 * A NestJS application whose jobs are decorated provider methods, kept in a SQLite file. Start
 * it twice (in two terminals) and each fire still runs once: the replicas share the file.
 *
 *   npm run example:nestjs
 *
 * Ctrl-C closes the application: Nest's shutdown hooks stop the scheduler, which waits for
 * running jobs.
 */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { SqliteJobStore } from '../../src/index.js';
import { TickworkModule } from '../../src/nestjs/index.js';
import { ReportsService } from './reports.service.js';

@Module({
  imports: [
    TickworkModule.forRoot({
      timezone: 'UTC',
      jobstores: {
        default: new SqliteJobStore({ path: process.env.TICKWORK_EXAMPLE_DB ?? 'tickwork-nest.sqlite' }),
      },
    }),
  ],
  providers: [ReportsService],
})
class AppModule {}

const app = await NestFactory.createApplicationContext(AppModule);
app.enableShutdownHooks();
console.log('Running; press Ctrl-C to stop.');
