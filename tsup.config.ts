import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', 'worker-entry': 'src/executors/worker-entry.ts' },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts' } },
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: false,
  shims: true,
  external: ['better-sqlite3', 'pg', 'ioredis', '@opentelemetry/api', 'bun:sqlite', 'node:sqlite'],
});
