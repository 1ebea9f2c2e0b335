/**
 * Where the worker thread's code lives. The built package ships `worker-entry.js` (ESM) and
 * `worker-entry.cjs` beside its bundles; run from TypeScript sources (tests, tsx), the entry is
 * `worker-entry.ts`, which a worker can only load after registering tsx in it.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { WorkerOptions } from 'node:worker_threads';

/** What `new Worker(...)` needs to start one executor worker. */
export interface WorkerSource {
  /** A file URL, or code when `options.eval` is set. */
  filename: URL | string;
  /** Options to merge into the Worker's. */
  options: WorkerOptions;
}

/**
 * The ESM entry of tsx's `tsx/esm/api`, read from its package's `exports` (require.resolve would
 * give the CommonJS one, and `import.meta.resolve` does not exist in the CommonJS build).
 */
function tsxApiUrl(moduleUrl: string): string {
  const manifestPath = createRequire(moduleUrl).resolve('tsx/package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
    exports: Record<string, { import: string | { default: string } }>;
  };
  const target = manifest.exports['./esm/api'].import;
  return pathToFileURL(join(dirname(manifestPath), typeof target === 'string' ? target : target.default))
    .href;
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
  const tsxApi = tsxApiUrl(moduleUrl);
  const entry = new URL(`./worker-entry${extension}`, moduleUrl).href;
  const code =
    `import(${JSON.stringify(tsxApi)})` +
    `.then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  return { filename: code, options: { eval: true } };
}
