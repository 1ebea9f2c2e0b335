/**
 * Describes a value for an error message the way p-queue does: `0 (number)`, `"x" (string)`.
 */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return `${JSON.stringify(value)} (string)`;
  if (typeof value === 'function') return `${value.name || 'anonymous'} (function)`;
  if (value instanceof Date) {
    return `${Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString()} (Date)`;
  }
  if (typeof value === 'object') {
    const ctor = (value as object).constructor?.name ?? 'object';
    let text: string;
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
    if (text.length > 80) text = `${text.slice(0, 77)}...`;
    return `${text} (${ctor})`;
  }
  return `${String(value)} (${typeof value})`;
}
