/**
 * The `Symbol.asyncDispose` key of `await using`. Node 20 defines it as
 * `Symbol.for('nodejs.asyncDispose')`; where the runtime has none yet, that registered symbol is
 * the one Node's own polyfill and later runtimes agree on.
 */

/** The key of an object's `await using` disposer. */
export const asyncDispose: typeof Symbol.asyncDispose =
  (Symbol as { asyncDispose?: typeof Symbol.asyncDispose }).asyncDispose ??
  (Symbol.for('nodejs.asyncDispose') as typeof Symbol.asyncDispose);
