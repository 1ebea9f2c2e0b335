/**
 * A store's driver package that is not installed: the load rejects with a DriverMissingError that
 * names the store and the package, and says how to install it.
 */
import { expect, it } from 'vitest';
import { DriverMissingError, TickworkError } from '../../src/index.js';
import { loadDriver } from '../../src/stores/driver.js';

it('a driver package that is not installed is a DriverMissingError with an install hint', async () => {
  const error = await loadDriver('tickwork-driver-that-is-not-there', 'PostgresJobStore').then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DriverMissingError);
  expect(error).toBeInstanceOf(TickworkError);
  expect(error).toMatchObject({
    name: 'DriverMissingError',
    store: 'PostgresJobStore',
    driver: 'tickwork-driver-that-is-not-there',
    message:
      'PostgresJobStore needs the "tickwork-driver-that-is-not-there" package, which is not installed: ' +
      'npm install tickwork-driver-that-is-not-there',
  });
  expect((error as Error).cause).toBeInstanceOf(Error);
});
