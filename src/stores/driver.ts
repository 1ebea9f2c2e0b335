/**
 * Loads a store's database driver, an optional peer dependency: the core never imports one, and
 * a missing driver gives an error that says which package to install.
 */

/** Imports the driver package `name` for `store`; rejects with an install hint when it is missing. */
export async function loadDriver<T>(name: string, store: string): Promise<T> {
  let module: { default?: unknown };
  try {
    module = (await import(name)) as { default?: unknown };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new Error(`${store} needs the "${name}" package, which is not installed: npm install ${name}`, {
        cause: error,
      });
    }
    throw error;
  }
  return (module.default ?? module) as T;
}
