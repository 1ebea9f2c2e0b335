/**
 * MemoryJobStore through the shared JobStore suite (see store-suite.ts).
 */
import { MemoryJobStore } from '../../src/index.js';
import { describeStoreSuite } from './store-suite.js';

describeStoreSuite('MemoryJobStore', {
  persistent: false,
  create: () => new MemoryJobStore(),
});
