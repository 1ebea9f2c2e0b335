/**
 * Task references: how a job in a persistent store (or a worker thread) names its function.
 * A reference is a name given to `registerTask`, or `'module-specifier#exportName'`, resolved by
 * dynamic import relative to the working directory. A stored reference is data anyone with write
 * access to the database can set, so a module reference is imported only when the scheduler's
 * task module policy (`taskModules`, `taskRoot`) allows it.
 */
import { realpathSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
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
 * Which modules a task reference may import: a module specifier, a glob (`*` within a path
 * segment, `**` across segments; entries starting with `.` are resolved against the task root),
 * a list of these, or a predicate given the specifier and its absolute file path (`null` when it
 * is not a file).
 */
export type TaskModules = string | readonly string[] | ((specifier: string, path: string | null) => boolean);

/** The task module policy a scheduler resolves references under. */
export interface TaskPolicy {
  /** Allowed modules; `undefined` allows files inside `root`. */
  modules: TaskModules | undefined;
  /** The application root (absolute); `undefined` = `process.cwd()` at each lookup. */
  root: string | undefined;
}

/** The policy of a scheduler without `taskModules` or `taskRoot`. */
export const DEFAULT_TASK_POLICY: TaskPolicy = { modules: undefined, root: undefined };

// Schemes that are never imported: code carried in the reference itself or fetched from afar.
const REFUSED_SCHEMES = /^(data|https?|blob|javascript):/i;

/** The absolute file path a specifier names, or `null` for a package or builtin specifier. */
function filePathOf(specifier: string, cwd: string): string | null {
  if (/^file:/i.test(specifier)) {
    try {
      return fileURLToPath(specifier);
    } catch {
      return null;
    }
  }
  if (specifier.startsWith('.') || isAbsolute(specifier)) return resolve(cwd, specifier);
  return null;
}

/** `path` with symbolic links resolved, as far as it exists. */
function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function isInside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

const globCache = new Map<string, RegExp>();

/** A glob as a regular expression: `**` any characters, `*` any but `/`, `?` one but `/`. */
function globToRegExp(glob: string): RegExp {
  let re = globCache.get(glob);
  if (re === undefined) {
    let source = '';
    for (let i = 0; i < glob.length; i += 1) {
      const c = glob[i] as string;
      if (c === '*' && glob[i + 1] === '*') {
        source += '.*';
        i += 1;
        if (glob[i + 1] === '/') i += 1;
      } else if (c === '*') source += '[^/]*';
      else if (c === '?') source += '[^/]';
      else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    re = new RegExp(`^${source}$`);
    globCache.set(glob, re);
  }
  return re;
}

function entryAllows(entry: string, specifier: string, path: string | null, root: string): boolean {
  if (entry === specifier || globToRegExp(entry).test(specifier)) return true;
  if (path === null) return false;
  const pattern = entry.startsWith('.') ? resolve(root, entry) : isAbsolute(entry) ? entry : null;
  if (pattern === null) return false;
  const posix = (p: string) => p.split(sep).join('/');
  return globToRegExp(posix(pattern)).test(posix(path));
}

/**
 * Why `specifier` may not be imported under `policy`, or `null` when it may. Builtins and
 * `data:`, `http:`, `https:` URLs are always refused; by default only files inside the root pass.
 */
export function refusalOf(specifier: string, policy: TaskPolicy): string | null {
  if (REFUSED_SCHEMES.test(specifier)) {
    return 'module references with a data:, http:, https:, blob: or javascript: URL are never imported';
  }
  if (specifier.startsWith('node:') || isBuiltin(specifier)) {
    return 'Node.js builtin modules are never imported as tasks';
  }
  const cwd = process.cwd();
  const root = policy.root ?? cwd;
  const path = filePathOf(specifier, cwd);
  const modules = policy.modules;
  if (modules === undefined) {
    if (path === null) {
      return `only files inside the task root ${JSON.stringify(root)} are allowed by default; allow packages with the scheduler option taskModules`;
    }
    if (!isInside(realPath(path), realPath(root))) {
      return `${JSON.stringify(path)} is outside the task root ${JSON.stringify(root)} (see the scheduler options taskRoot and taskModules)`;
    }
    return null;
  }
  let allowed: boolean;
  if (typeof modules === 'function') {
    try {
      allowed = modules(specifier, path) === true;
    } catch (error) {
      return `the taskModules function threw: ${String(error)}`;
    }
  } else {
    const entries = typeof modules === 'string' ? [modules] : modules;
    const real = path === null ? null : realPath(path);
    allowed = entries.some(
      (entry) =>
        entryAllows(entry, specifier, path, root) ||
        (real !== null && entryAllows(entry, specifier, real, root)),
    );
  }
  return allowed ? null : 'the module is not allowed by the scheduler option taskModules';
}

/** Validates the `taskModules` option. */
export function checkTaskModules(value: unknown): TaskModules {
  if (typeof value === 'function') return value as TaskModules;
  const entries = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(entries) || entries.some((e) => typeof e !== 'string' || e === '')) {
    throw new TypeError(
      `Expected taskModules to be a module specifier or glob, an array of them, or a function, got ${describeValue(value)}`,
    );
  }
  return typeof value === 'string' ? value : Object.freeze([...entries]);
}

/** Validates the `taskRoot` option: an absolute path, or a relative one resolved now. */
export function checkTaskRoot(value: unknown): string {
  if (typeof value !== 'string' || value === '' || value.includes('\0')) {
    throw new TypeError(`Expected taskRoot to be a directory path, got ${describeValue(value)}`);
  }
  return resolve(value);
}

/**
 * Resolves a task reference to its function. Throws `TaskLookupError` when the name is not
 * registered, the module is refused by `policy`, or the module or export cannot be found.
 */
export async function resolveTask(
  ref: string,
  policy: TaskPolicy = DEFAULT_TASK_POLICY,
): Promise<JobFunction> {
  if (typeof ref !== 'string' || ref.length === 0) {
    throw new TypeError(`Expected a task reference string, got ${describeValue(ref)}`);
  }
  const registered = functionsByName.get(ref);
  if (registered !== undefined) return registered;
  if (!isModuleRef(ref)) {
    throw new TaskLookupError(ref, 'no task is registered under this name (see registerTask)');
  }
  const specifier = ref.slice(0, ref.lastIndexOf('#'));
  const refusal = specifier === '' ? null : refusalOf(specifier, policy);
  if (refusal !== null) throw new TaskLookupError(ref, `refused: ${refusal}`);
  let pending = imported.get(ref);
  if (pending === undefined) {
    pending = importTask(ref);
    imported.set(ref, pending);
    // A failed import may succeed later (a file deployed meanwhile): do not cache failures.
    pending.catch(() => imported.delete(ref));
  }
  return pending;
}
