/**
 * Loads a store's database driver, an optional peer dependency: the core never imports one, and
 * a missing driver gives an error that says which package to install.
 */

import { DriverMissingError } from '../errors.js';

/** Imports the driver package `name` for `store`; rejects with a `DriverMissingError`, which says what to install, when it is missing. */
export async function loadDriver<T>(name: string, store: string): Promise<T> {
  let module: { default?: unknown };
  try {
    module = (await import(name)) as { default?: unknown };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new DriverMissingError(store, name, { cause: error });
    }
    throw error;
  }
  return (module.default ?? module) as T;
}
