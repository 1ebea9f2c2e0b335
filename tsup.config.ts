import { defineConfig } from 'tsup';

// Optional peers and runtime built-ins are never bundled.
const drivers = ['better-sqlite3', 'pg', 'ioredis', '@opentelemetry/api', 'bun:sqlite', 'node:sqlite'];

export default defineConfig([
  {
    entry: { index: 'src/index.ts', 'worker-entry': 'src/executors/worker-entry.ts' },
    format: ['esm', 'cjs'],
    dts: { entry: { index: 'src/index.ts' } },
    sourcemap: true,
    clean: false,
    target: 'node20',
    splitting: false,
    shims: true,
    external: drivers,
  },
  {
    // The `tickwork` command (ESM only: it is run, not imported).
    entry: { cli: 'src/cli/bin.ts' },
    format: ['esm'],
    sourcemap: true,
    clean: false,
    target: 'node20',
    splitting: false,
    shims: true,
    banner: { js: '#!/usr/bin/env node' },
    external: drivers,
  },
  {
    // The NestJS module imports the package by its own name (`tickwork`), so an application
    // that imports both shares one copy of the scheduler, its task registry and its classes.
    entry: { nestjs: 'src/nestjs/index.ts' },
    format: ['esm', 'cjs'],
    dts: { entry: { nestjs: 'src/nestjs/index.ts' } },
    sourcemap: true,
    clean: false,
    target: 'node20',
    splitting: false,
    shims: true,
    external: [...drivers, 'tickwork', /^@nestjs\//, 'reflect-metadata', 'rxjs'],
  },
]);
