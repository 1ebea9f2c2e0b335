/**
 * Where the worker thread's code lives. The built package ships `worker-entry.js` (ESM) and
 * `worker-entry.cjs` beside its bundles; run from TypeScript sources (tests, tsx), the entry is
 * `worker-entry.ts`, which a worker can only load after registering tsx in it.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkerOptions } from 'node:worker_threads';

/** What `new Worker(...)` needs to start one executor worker. */
export interface WorkerSource {
  /** A file URL, or code when `options.eval` is set. */
  filename: URL | string;
  /** Options to merge into the Worker's. */
  options: WorkerOptions;
}

/** Decides how to start a worker from the extension of the module this code was loaded from. */
export function workerSource(moduleUrl: string = import.meta.url): WorkerSource {
  const extension = extname(fileURLToPath(moduleUrl));
  if (extension === '.cjs') return { filename: new URL('./worker-entry.cjs', moduleUrl), options: {} };
  if (extension !== '.ts' && extension !== '.mts') {
    return { filename: new URL('./worker-entry.js', moduleUrl), options: {} };
  }
  // `execArgv: ['--import', 'tsx']` does not reach worker threads on Node 20, so the worker
  // registers tsx itself before importing the TypeScript entry.
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const entry = new URL(`./worker-entry${extension}`, moduleUrl).href;
  const code =
    `import(${JSON.stringify(tsxApi)})` +
    `.then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  return { filename: code, options: { eval: true } };
}
