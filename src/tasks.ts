/**
 * Task references: how a job in a persistent store (or a worker thread) names its function.
 * A reference is a name given to `registerTask`, or `'module-specifier#exportName'`, resolved by
 * dynamic import relative to the working directory.
 */
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeValue } from './describe.js';
import { TaskLookupError } from './errors.js';
import type { JobFunction } from './job.js';

// One registry per thread, shared by every copy of tickwork loaded in it (the ESM and CommonJS
// builds, the worker entry's bundle), so a module's registerTask reaches the worker that runs it.
const REGISTRY_KEY = Symbol.for('tickwork.taskRegistry');
const registry = ((globalThis as { [REGISTRY_KEY]?: TaskRegistry })[REGISTRY_KEY] ??= {
  functionsByName: new Map(),
  namesByFunction: new Map(),
});
const { functionsByName, namesByFunction } = registry;
const imported = new Map<string, Promise<JobFunction>>();

interface TaskRegistry {
  functionsByName: Map<string, JobFunction>;
  namesByFunction: Map<JobFunction, string>;
}

/** Registers `fn` under `name`, so jobs in persistent stores can name it. Returns `fn`. */
export function registerTask<F extends JobFunction>(name: string, fn: F): F {
  if (typeof name !== 'string' || name.length === 0 || name.includes('#')) {
    throw new TypeError(
      `Expected task name to be a non-empty string without "#", got ${describeValue(name)}`,
    );
  }
  if (typeof fn !== 'function') {
    throw new TypeError(`Expected task ${JSON.stringify(name)} to be a function, got ${describeValue(fn)}`);
  }
  const previous = functionsByName.get(name);
  if (previous !== undefined) namesByFunction.delete(previous);
  functionsByName.set(name, fn);
  namesByFunction.set(fn, name);
  return fn;
}

/** The registered name of `fn`, or `null`. */
export function taskRefOf(fn: JobFunction): string | null {
  return namesByFunction.get(fn) ?? null;
}

/** True when `ref` has the `'module#export'` form. */
export function isModuleRef(ref: string): boolean {
  return ref.includes('#');
}

/** Turns a module specifier into something `import()` resolves from the working directory. */
export function specifierToImport(specifier: string, cwd = process.cwd()): string {
  if (specifier.startsWith('file:') || specifier.startsWith('node:') || specifier.startsWith('data:')) {
    return specifier;
  }
  if (specifier.startsWith('.') || isAbsolute(specifier)) {
    return pathToFileURL(resolve(cwd, specifier)).href;
  }
  try {
    return pathToFileURL(createRequire(join(cwd, 'noop.js')).resolve(specifier)).href;
  } catch {
    return specifier;
  }
}

async function importTask(ref: string): Promise<JobFunction> {
  const hash = ref.lastIndexOf('#');
  const specifier = ref.slice(0, hash);
  const exportPath = ref.slice(hash + 1);
  if (specifier === '' || exportPath === '') {
    throw new TaskLookupError(ref, 'expected "module-specifier#exportName"');
  }
  let namespace: unknown;
  try {
    namespace = await import(specifierToImport(specifier));
  } catch (error) {
    throw new TaskLookupError(ref, `cannot import ${JSON.stringify(specifier)}: ${String(error)}`, {
      cause: error,
    });
  }
  let target: unknown = namespace;
  for (const key of exportPath.split('.')) {
    target = target === null || target === undefined ? undefined : (target as Record<string, unknown>)[key];
  }
  if (typeof target !== 'function') {
    throw new TaskLookupError(
      ref,
      `${JSON.stringify(exportPath)} is ${describeValue(target)}, not a function`,
    );
  }
  return target as JobFunction;
}

/**
 * Resolves a task reference to its function. Throws `TaskLookupError` when the name is not
 * registered or the module or export cannot be found.
 */
export async function resolveTask(ref: string): Promise<JobFunction> {
  if (typeof ref !== 'string' || ref.length === 0) {
    throw new TypeError(`Expected a task reference string, got ${describeValue(ref)}`);
  }
  const registered = functionsByName.get(ref);
  if (registered !== undefined) return registered;
  if (!isModuleRef(ref)) {
    throw new TaskLookupError(ref, 'no task is registered under this name (see registerTask)');
  }
  let pending = imported.get(ref);
  if (pending === undefined) {
    pending = importTask(ref);
    imported.set(ref, pending);
    // A failed import may succeed later (a file deployed meanwhile): do not cache failures.
    pending.catch(() => imported.delete(ref));
  }
  return pending;
}
