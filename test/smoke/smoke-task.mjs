// A task the smoke run's worker thread imports.
export function square(n) {
  return n * n;
}
