/**
 * Telemetry on without `@opentelemetry/api` installed (the import is made to fail): `start()`
 * rejects saying what to install, and the scheduler stays stopped.
 */
import { expect, it, vi } from 'vitest';
import { BackgroundScheduler } from '../src/index.js';

vi.mock('@opentelemetry/api', () => {
  throw new Error("Cannot find package '@opentelemetry/api'");
});

it('start() rejects with an install hint when @opentelemetry/api is missing', async () => {
  const scheduler = new BackgroundScheduler({ timezone: 'UTC', telemetry: true });
  await expect(scheduler.start()).rejects.toThrow(
    'The telemetry option needs the @opentelemetry/api package (npm install @opentelemetry/api)',
  );
  expect(scheduler.running).toBe(false);
  expect(scheduler.telemetry).toBeNull();
});
